"""Cutouts for the ``get_stamp`` route: the stored FITS as sent, or a zscale PNG.

The alerce client gunzips what ``format=fits`` returns, so FITS always leaves gzipped,
as ZTF sends it. PNGs follow how ALeRCE's explorer shows stamps: zscale stretch, north up
(FITS rows run south to north), with masked pixels transparent rather than a false value.
"""
from __future__ import annotations

import gzip
import io

import numpy as np
from astropy.visualization import ZScaleInterval
from PIL import Image

from classifier_service.cutouts import GZIP_MAGIC, decode_stamp


def gzipped_fits(stored: bytes) -> bytes:
    """The stamp as gzip-compressed FITS (ZTF's own bytes when they already are)."""
    return stored if stored[:2] == GZIP_MAGIC else gzip.compress(stored, mtime=0)


def stamp_png(stored: bytes) -> bytes:
    """A stored stamp (FITS, gzipped or not) as PNG; raises CutoutError when unreadable."""
    return zscale_png(decode_stamp(stored))


def zscale_png(image: np.ndarray) -> bytes:
    """8-bit grey plus alpha: zscale over the finite pixels, NaNs fully transparent."""
    finite = np.isfinite(image)
    grey = np.zeros(image.shape, dtype=np.uint8)
    if finite.any():
        low, high = ZScaleInterval().get_limits(image[finite])
        span = high - low if high > low else 1.0
        grey[finite] = np.round(np.clip((image[finite] - low) / span, 0.0, 1.0) * 255)
    alpha = np.where(finite, 255, 0).astype(np.uint8)
    pixels = np.dstack([grey, alpha])[::-1]
    out = io.BytesIO()
    Image.fromarray(np.ascontiguousarray(pixels)).save(out, format="PNG")  # (H, W, 2): LA
    return out.getvalue()
