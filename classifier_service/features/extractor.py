"""The light-curve classifier's feature vector, computed for a batch of objects at once.

Columns are (name, fid) pairs as ALeRCE stores them (fid 0 for features of no single band);
``column_names`` flattens them to ``name_fid`` strings for the forest.
"""
from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from classifier_service.features import history, rust_features, spm
from classifier_service.features.bands import BANDS, Band, split_bands
from classifier_service.lightcurve.model import LightCurve

FEATURE_VERSION = "1.1.0"

_PER_BAND: tuple[str, ...] = (
    rust_features.BAND_FEATURE_NAMES + spm.SPM_NAMES + history.DETECTION_NAMES
    + history.NON_DETECTION_NAMES + history.SF_NAMES + history.DRW_NAMES
)
_MULTIBAND: tuple[str, ...] = (
    rust_features.PERIOD_FEATURE_NAMES + history.COLOUR_NAMES + history.METADATA_NAMES
)
FEATURE_KEYS: tuple[tuple[str, int], ...] = (
    tuple((name, fid) for fid in BANDS for name in _PER_BAND) + tuple((name, 0) for name in _MULTIBAND)
)


def column_names(keys: Sequence[tuple[str, int]] = FEATURE_KEYS) -> list[str]:
    return [name if fid == 0 else f"{name}_{fid}" for name, fid in keys]


def _flux_curve(band: Band) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    flux = spm.mag_to_flux(band.magpsf, np.where(band.isdiffpos < 0, -1.0, 1.0))
    return band.mjd, flux, np.abs(flux) * 0.4 * np.log(10.0) * band.sigmapsf


class FeatureExtractor:
    """Computes FEATURE_KEYS for many light curves; ``n_jobs`` threads for the Rust parts."""

    version = FEATURE_VERSION
    keys = FEATURE_KEYS

    def __init__(self, n_jobs: int = 1) -> None:
        self.n_jobs = n_jobs

    @property
    def names(self) -> list[str]:
        return column_names(self.keys)

    def compute(self, lightcurves: Sequence[LightCurve]) -> tuple[list[str], np.ndarray]:
        """(column names, float64 array (n_objects, n_features)); NaN where a feature is undefined."""
        split = [split_bands(lc) for lc in lightcurves]
        blocks = []
        for fid in BANDS:
            bands = [s[fid] for s in split]
            nd = [(lc.nd_mjd[lc.nd_fid == fid], lc.nd_diffmaglim[lc.nd_fid == fid]) for lc in lightcurves]
            blocks += [
                rust_features.band_statistics(bands, n_jobs=self.n_jobs),
                spm.fit_spm_batch([_flux_curve(b) for b in bands]),
                np.array([history.detection_features(b) for b in bands]).reshape(len(bands), -1),
                np.array([history.non_detection_features(b, *n) for b, n in zip(bands, nd)]).reshape(
                    len(bands), -1),
                np.array([history.structure_function(b) for b in bands]).reshape(len(bands), -1),
                np.array([history.damped_random_walk(b) for b in bands]).reshape(len(bands), -1),
            ]
        blocks += [
            rust_features.multiband_period(split, n_jobs=self.n_jobs),
            np.array([history.colour_features(s[1], s[2]) for s in split]).reshape(len(split), -1),
            np.array([history.metadata_features(lc) for lc in lightcurves]).reshape(len(split), -1),
        ]
        matrix = np.hstack(blocks).astype(np.float64)
        matrix[~np.isfinite(matrix)] = np.nan
        return self.names, matrix

    def as_dict(self, row: np.ndarray) -> dict[tuple[str, int], float]:
        """One object's features keyed (name, fid), NaNs dropped, for Classification.features."""
        return {key: float(v) for key, v in zip(self.keys, row) if np.isfinite(v)}
