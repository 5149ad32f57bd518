"""The light-curve classifier's feature vector: the feature groups, concatenated by name.

Columns are (name, fid) pairs as ALeRCE stores them (fid 0 for features of no single band);
``names`` flattens them to ``name_fid`` strings, the forest's column names. Each group
carries its own names, so reordering or adding groups cannot mislabel a value.
"""
from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from classifier_service.features import history, spm
from classifier_service.features.bands import BANDS, ObjectBands
from classifier_service.features.groups import FeatureGroup
from classifier_service.features.period import Period
from classifier_service.features.rust_features import BandStatistics
from classifier_service.lightcurve.model import LightCurve

FEATURE_VERSION = "1.6.0"  # 1.6.0: the period search asks the epochs without a detection (period.LimitFolds)

FEATURE_GROUPS: tuple[FeatureGroup, ...] = (
    *(group for fid in BANDS for group in (BandStatistics(fid), *spm.groups(fid), *history.groups(fid))),
    Period(),
    *history.OBJECT_GROUPS,
)


def column_name(name: str, fid: int) -> str:
    return name if fid == 0 else f"{name}_{fid}"


class FeatureExtractor:
    """Computes every group's features for many light curves."""

    version = FEATURE_VERSION

    def __init__(self, groups: Sequence[FeatureGroup] = FEATURE_GROUPS) -> None:
        self.groups = tuple(groups)
        self.keys: tuple[tuple[str, int], ...] = tuple(key for group in self.groups for key in group.keys)
        if len(set(self.keys)) != len(self.keys):
            raise ValueError("two feature groups produce the same (name, fid)")
        self._names = tuple(column_name(name, fid) for name, fid in self.keys)  # built once, not per call
        ends = np.cumsum([len(group.keys) for group in self.groups])
        self._columns = tuple(slice(end - len(group.keys), end) for group, end in zip(self.groups, ends))

    @property
    def names(self) -> list[str]:
        return list(self._names)

    def compute(self, lightcurves: Sequence[LightCurve]) -> tuple[list[str], np.ndarray]:
        """(column names, float64 array (n_objects, n_features)); NaN where a feature is undefined."""
        objects = [ObjectBands.of(lc) for lc in lightcurves]
        matrix = np.empty((len(objects), len(self.keys)))
        if objects:
            for group, columns in zip(self.groups, self._columns):
                matrix[:, columns] = group(objects)
        matrix[~np.isfinite(matrix)] = np.nan
        return self.names, matrix

    def as_dict(self, row: np.ndarray) -> dict[tuple[str, int], float]:
        """One object's features keyed (name, fid), NaNs dropped, for Classification.features."""
        return {key: float(v) for key, v in zip(self.keys, row) if np.isfinite(v)}


FEATURE_KEYS: tuple[tuple[str, int], ...] = FeatureExtractor().keys
