"""ALeRCE's per-band variability statistics, computed by the Rust-backed ``light_curve`` package."""
from __future__ import annotations

from collections.abc import Sequence

import light_curve as lcf
import numpy as np

from classifier_service.features.bands import ObjectBands
from classifier_service.features.groups import FeatureGroup

BAND_EXTRACTOR = lcf.Extractor(
    lcf.Amplitude(), lcf.BeyondNStd(1.0), lcf.Cusum(), lcf.Eta(), lcf.EtaE(),
    lcf.ExcessVariance(), lcf.InterPercentileRange(0.1), lcf.Kurtosis(), lcf.LinearFit(),
    lcf.LinearTrend(), lcf.MagnitudePercentageRatio(0.4, 0.05), lcf.MaximumSlope(),
    lcf.Mean(), lcf.Median(), lcf.MedianAbsoluteDeviation(), lcf.PercentAmplitude(),
    lcf.ReducedChi2(), lcf.Skew(), lcf.StandardDeviation(), lcf.StetsonK(),
)
BAND_FEATURE_NAMES: tuple[str, ...] = tuple(BAND_EXTRACTOR.names)


class BandStatistics(FeatureGroup):
    """The extractor's statistics of one band, named as light_curve names them; NaN where too short.

    One direct call per curve: light_curve's ``many`` costs more in thread-pool start-up than
    a short curve's statistics take, and the worker scales by processes, not threads.
    """

    names = BAND_FEATURE_NAMES

    def __init__(self, fid: int) -> None:
        self.fid = fid

    def evaluate(self, objects: Sequence[ObjectBands]) -> np.ndarray:
        out = np.full((len(objects), len(self.names)), np.nan)
        for row, obj in enumerate(objects):
            band = obj.bands[self.fid]
            if band.mjd.size >= 2 and np.ptp(band.mjd) > 0:
                out[row] = BAND_EXTRACTOR(band.mjd, band.mag, band.err, fill_value=np.nan, sorted=True, check=False)
        return out
