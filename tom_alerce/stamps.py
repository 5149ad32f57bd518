"""Cutouts as PNG: a ZTF stamp (gzipped FITS) to a zscale-stretched greyscale image.

Pure functions over bytes and arrays; the views decide where the bytes come from.
"""
from __future__ import annotations

import io

import numpy as np
from astropy.visualization import ZScaleInterval
from PIL import Image

from classifier_service.cutouts import CutoutError, decode_stamp

PNG_MAGIC = b"\x89PNG\r\n\x1a\n"
KINDS = ("science", "template", "difference")


class StampError(ValueError):
    """Bytes that are neither a PNG nor a readable FITS stamp."""


def is_png(data: bytes) -> bool:
    return data[:8] == PNG_MAGIC


def zscale_png(image: np.ndarray, scale: int = 3) -> bytes:
    """zscale stretch (as DS9 and ALeRCE's explorer show stamps) to an 8-bit PNG, north up.

    NaNs (masked or missing pixels) are drawn black; ``scale`` enlarges with nearest-neighbour
    so single pixels stay visible.
    """
    image = np.asarray(image, dtype=np.float32)
    finite = np.isfinite(image)
    if finite.any():
        low, high = ZScaleInterval().get_limits(image[finite])
        span = high - low if high > low else 1.0
        stretched = np.clip((np.where(finite, image, low) - low) / span, 0.0, 1.0)
    else:
        stretched = np.zeros_like(image)
    pixels = (stretched * 255).astype(np.uint8)[::-1]  # FITS rows run south to north
    picture = Image.fromarray(pixels, mode="L")
    if scale > 1:
        picture = picture.resize((picture.width * scale, picture.height * scale), Image.NEAREST)
    out = io.BytesIO()
    picture.save(out, format="PNG")
    return out.getvalue()


def as_png(data: bytes) -> bytes:
    """PNG bytes for a stamp that arrives either as PNG already or as (gzipped) FITS."""
    if is_png(data):
        return data
    try:
        return zscale_png(decode_stamp(data))
    except CutoutError as exc:
        raise StampError(str(exc)) from exc
