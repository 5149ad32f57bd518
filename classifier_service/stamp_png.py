"""Stamps as pictures for people: a zscale stretch to PNG, as DS9 and ALeRCE's explorer show them.

One renderer for the API's ``get_stamp`` PNGs and the TOM's cutouts, so both look the same.
"""
from __future__ import annotations

import io

import numpy as np
from astropy.visualization import ZScaleInterval
from PIL import Image


def zscale_png(image: np.ndarray, scale: int = 1) -> bytes:
    """8-bit grey plus alpha, north up: zscale over the finite pixels, NaNs fully transparent.

    ``scale`` enlarges with nearest-neighbour so single pixels stay visible on a web page.
    """
    image = np.asarray(image, dtype=np.float32)
    finite = np.isfinite(image)
    grey = np.zeros(image.shape, dtype=np.uint8)
    if finite.any():
        low, high = ZScaleInterval().get_limits(image[finite])
        span = high - low if high > low else 1.0
        grey[finite] = np.round(np.clip((image[finite] - low) / span, 0.0, 1.0) * 255)
    alpha = np.where(finite, 255, 0).astype(np.uint8)
    pixels = np.dstack([grey, alpha])[::-1]  # FITS rows run south to north
    picture = Image.fromarray(np.ascontiguousarray(pixels))  # (H, W, 2): LA
    if scale > 1:
        picture = picture.resize((picture.width * scale, picture.height * scale), Image.NEAREST)
    out = io.BytesIO()
    picture.save(out, format="PNG")
    return out.getvalue()
