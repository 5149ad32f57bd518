"""An object's light curve as arrays: what the light-curve stages and classifiers compute on."""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np


@dataclass(slots=True)
class LightCurve:
    """Every detection and non-detection known for one object, oldest first.

    Magnitudes are difference magnitudes (``magpsf``); ``magpsf_corr`` is the apparent
    magnitude after ALeRCE's correction, NaN where the correction does not apply.
    """

    oid: str
    mjd: np.ndarray  # float64
    fid: np.ndarray  # int8: 1 g, 2 r, 3 i
    magpsf: np.ndarray
    sigmapsf: np.ndarray
    isdiffpos: np.ndarray  # int8: +1 / -1
    magpsf_corr: np.ndarray
    sigmapsf_corr: np.ndarray
    sigmapsf_corr_ext: np.ndarray
    corrected: np.ndarray  # bool
    dubious: np.ndarray  # bool
    nd_mjd: np.ndarray = field(default_factory=lambda: np.empty(0))
    nd_fid: np.ndarray = field(default_factory=lambda: np.empty(0, dtype=np.int8))
    nd_diffmaglim: np.ndarray = field(default_factory=lambda: np.empty(0))
    # Metadata of the latest alert (sgscore1, distpsnr1, ...), for features that use it.
    metadata: dict[str, Any] = field(default_factory=dict)
    # Each detection's alert id and position where the worker knows them (its store and the
    # alerts), for the classified stream; empty for curves read from tables without them.
    candid: np.ndarray = field(default_factory=lambda: np.empty(0, dtype=np.int64))
    ra: np.ndarray = field(default_factory=lambda: np.empty(0))
    dec: np.ndarray = field(default_factory=lambda: np.empty(0))

    def __len__(self) -> int:
        return int(self.mjd.size)
