"""Cutouts as PNG: FITS (gzipped or not) to a zscale-stretched greyscale image.

Pure functions over bytes and arrays; the views decide where the bytes come from.
"""
from __future__ import annotations

import gzip
import io

import numpy as np
from astropy.io import fits
from astropy.visualization import ZScaleInterval
from PIL import Image

PNG_MAGIC = b"\x89PNG\r\n\x1a\n"
GZIP_MAGIC = b"\x1f\x8b"
MAX_STAMP_BYTES = 8 * 1024 * 1024  # decompressed cap: a stamp is ~16 kB; anything huge is hostile
KINDS = ("science", "template", "difference")


class StampError(ValueError):
    """Bytes that are neither a PNG nor a readable FITS image."""


def is_png(data: bytes) -> bool:
    return data[:8] == PNG_MAGIC


def fits_to_array(data: bytes) -> np.ndarray:
    """The first image HDU of (gzipped) FITS bytes as 2-D float32, NaNs kept."""
    try:
        if data[:2] == GZIP_MAGIC:
            with gzip.GzipFile(fileobj=io.BytesIO(data)) as stream:
                data = stream.read(MAX_STAMP_BYTES + 1)
            if len(data) > MAX_STAMP_BYTES:
                raise StampError("decompressed stamp is larger than the cap")
        with fits.open(io.BytesIO(data), memmap=False) as hdus:
            image = next((h.data for h in hdus if getattr(h, "data", None) is not None), None)
    except (OSError, EOFError, ValueError, TypeError) as exc:
        raise StampError(f"unreadable FITS stamp: {exc}") from exc
    if image is None or np.ndim(image) != 2:
        raise StampError("the FITS stamp holds no 2-D image")
    return np.asarray(image, dtype=np.float32)


def zscale_png(image: np.ndarray, scale: int = 2) -> bytes:
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
    picture.save(out, format="PNG", optimize=False)
    return out.getvalue()


def as_png(data: bytes) -> bytes:
    """PNG bytes for a stamp that arrives either as PNG already or as (gzipped) FITS."""
    return data if is_png(data) else zscale_png(fits_to_array(data))
