"""Cutouts as PNG: a ZTF stamp (gzipped FITS) to a zscale-stretched greyscale image.

Pure functions over bytes and arrays; the views decide where the bytes come from.
"""
from __future__ import annotations

from alerce_contract.stamps import CutoutError, decode_stamp, zscale_png

# Stamps are 63 px; three times that keeps single pixels visible on the page.
PAGE_SCALE = 3

PNG_MAGIC = b"\x89PNG\r\n\x1a\n"
KINDS = ("science", "template", "difference")


class StampError(ValueError):
    """Bytes that are neither a PNG nor a readable FITS stamp."""


def is_png(data: bytes) -> bool:
    return data[:8] == PNG_MAGIC


def as_png(data: bytes) -> bytes:
    """PNG bytes for a stamp that arrives either as PNG already or as (gzipped) FITS."""
    if is_png(data):
        return data
    try:
        return zscale_png(decode_stamp(data), scale=PAGE_SCALE)
    except CutoutError as exc:
        raise StampError(str(exc)) from exc
