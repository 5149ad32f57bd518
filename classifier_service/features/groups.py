"""Feature groups: features computed together that carry their own names.

A group's ``names`` say, column by column, what its ``evaluate`` returns (as light-curve's
feature objects do), so a name can never be paired with another feature's value: the
extractor only concatenates groups, and the forest picks its columns by name. Groups
built from our own per-object functions take a mapping name -> value and place each value
under its name.
"""
from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence

import numpy as np

from classifier_service.features.bands import Band, ObjectBands


class FeatureGroup:
    """Named features of many objects at once; ``fid`` 0 for features of no single band."""

    names: tuple[str, ...] = ()
    fid: int = 0

    @property
    def keys(self) -> tuple[tuple[str, int], ...]:
        """(name, fid) of each column, as ALeRCE's feature table keys them."""
        return tuple((name, self.fid) for name in self.names)

    def evaluate(self, objects: Sequence[ObjectBands]) -> np.ndarray:
        """(n_objects, len(names)) values, NaN where a feature is undefined."""
        raise NotImplementedError

    def __call__(self, objects: Sequence[ObjectBands]) -> np.ndarray:
        values = np.asarray(self.evaluate(objects), dtype=np.float64)
        if values.shape != (len(objects), len(self.names)):
            raise ValueError(f"{type(self).__name__} returned {values.shape} values for "
                             f"{len(objects)} objects x {len(self.names)} names")
        return values


def _by_name(names: tuple[str, ...], named: Mapping[str, float]) -> list[float]:
    if len(named) != len(names):
        raise ValueError(f"expected features {names}, got {tuple(named)}")
    return [named[name] for name in names]


class BandFeatures(FeatureGroup):
    """A per-band function Band -> {name: value}, for one band."""

    def __init__(self, names: Sequence[str], function: Callable[[Band], Mapping[str, float]], fid: int) -> None:
        self.names, self.function, self.fid = tuple(names), function, fid

    def evaluate(self, objects: Sequence[ObjectBands]) -> np.ndarray:
        return np.array([_by_name(self.names, self.function(o.bands[self.fid])) for o in objects]).reshape(
            len(objects), len(self.names))


class ObjectFeatures(FeatureGroup):
    """A per-object function ObjectBands -> {name: value} (colours, host metadata)."""

    def __init__(self, names: Sequence[str], function: Callable[[ObjectBands], Mapping[str, float]]) -> None:
        self.names, self.function = tuple(names), function

    def evaluate(self, objects: Sequence[ObjectBands]) -> np.ndarray:
        return np.array([_by_name(self.names, self.function(o)) for o in objects]).reshape(
            len(objects), len(self.names))
