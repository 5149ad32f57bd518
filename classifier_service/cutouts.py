"""Alert cutouts to float32 arrays, decoded once per alert.

Decoding one stamp (gzip-compressed FITS, checked and capped) is the shared contract's
:func:`alerce_contract.stamps.decode_stamp`; this module keeps the decoded images on the alert.
"""
from __future__ import annotations

import numpy as np

from alerce_contract.stamps import CutoutError, decode_stamp
from classifier_service.alert import Cutouts

__all__ = ["CutoutError", "decode_cutouts", "decode_stamp"]


def decode_cutouts(cutouts: Cutouts) -> list[np.ndarray]:
    """Science, template and difference as arrays, decoded once per alert and then kept."""
    if cutouts.images is None:
        cutouts.images = [decode_stamp(data) for data in (cutouts.science, cutouts.template, cutouts.difference)]
    return cutouts.images
