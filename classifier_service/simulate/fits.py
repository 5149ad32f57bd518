"""FITS cutouts as the surveys pack them: gzipped single-HDU (ZTF), plain multi-extension (Rubin).

A direct writer (header cards + big-endian float32 + padding to 2880-byte blocks) is an order
of magnitude faster than astropy for 63x63 stamps, which matters at 10,000 alerts per run.
"""
from __future__ import annotations

import zlib
from functools import lru_cache

import numpy as np

BLOCK = 2880
CARD = 80
GZIP_LEVEL = 1  # stamps are noise-dominated: higher levels cost time and save little
# Pixel values are rounded to 1/4 ADU, like fpack's quantisation but far finer (fpack's
# default step is ~1/4 of the ~5 ADU sky noise): the zeroed low mantissa bits make run-length
# deflate three times faster than default deflate on raw floats, at half the size.
QUANTUM = 1 / 4


def _card(key: str, value: object, comment: str = "") -> bytes:
    if isinstance(value, bool):
        text = f"{'T' if value else 'F':>20}"  # logical values sit in column 30
    elif isinstance(value, str):
        text = f"'{value:<8}'".ljust(20)  # strings start in column 11
    else:
        text = f"{value!r:>20}"  # numbers end in column 30
    line = f"{key:<8}= {text}" + (f" / {comment}" if comment else "")
    return line[:CARD].ljust(CARD).encode("ascii")


def fits_bytes(image: np.ndarray, header: dict[str, object] | None = None) -> bytes:
    """An uncompressed FITS file holding ``image`` (2-D) as BITPIX -32."""
    if image.ndim != 2:
        raise ValueError(f"a cutout is a 2-D image, not shape {image.shape}")
    head = _header(image.shape, tuple((header or {}).items()))
    data = np.ascontiguousarray(image, dtype=">f4").tobytes()
    return head + data + b"\0" * (-len(data) % BLOCK)


@lru_cache(maxsize=64)
def _header(shape: tuple[int, int], extra: tuple[tuple[str, object], ...]) -> bytes:
    height, width = shape
    cards = [_card("SIMPLE", True), _card("BITPIX", -32), _card("NAXIS", 2),
             _card("NAXIS1", width), _card("NAXIS2", height)]
    cards += [_card(key[:8].upper(), value) for key, value in extra]
    head = b"".join(cards) + b"END".ljust(CARD)
    return head + b" " * (-len(head) % BLOCK)


def multi_extension_fits(primary: np.ndarray, extensions: tuple[tuple[str, np.ndarray], ...],
                         header: dict[str, object] | None = None) -> bytes:
    """Uncompressed FITS with ``primary`` first, then named IMAGE extensions: Rubin's cutout
    layout (image, 'UNCERT' variance, 'PSFIMAGE')."""
    parts = [fits_bytes(primary, {"EXTEND": True, **(header or {})})]
    for name, image in extensions:
        data = np.ascontiguousarray(image, dtype=">f4").tobytes()
        parts += [_extension_header(image.shape, name), data, b"\0" * (-len(data) % BLOCK)]
    return b"".join(parts)


@lru_cache(maxsize=64)
def _extension_header(shape: tuple[int, int], name: str) -> bytes:
    height, width = shape
    cards = [_card("XTENSION", "IMAGE"), _card("BITPIX", -32), _card("NAXIS", 2), _card("NAXIS1", width),
             _card("NAXIS2", height), _card("PCOUNT", 0), _card("GCOUNT", 1), _card("EXTNAME", name)]
    head = b"".join(cards) + b"END".ljust(CARD)
    return head + b" " * (-len(head) % BLOCK)


def gzipped_fits(image: np.ndarray, header: dict[str, object] | None = None,
                 quantum: float | None = QUANTUM) -> bytes:
    """``fits_bytes`` gzip-compressed (deterministic: no timestamp), as in ZTF's ``stampData``."""
    if quantum:
        image = np.round(image / quantum) * quantum
    # A gzip stream (wbits 31) without timestamp, so the same seed gives the same bytes.
    compressor = zlib.compressobj(GZIP_LEVEL, zlib.DEFLATED, 31, 9, zlib.Z_RLE)
    return compressor.compress(fits_bytes(image, header)) + compressor.flush()
