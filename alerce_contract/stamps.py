"""Alert stamps: gzip-compressed FITS bytes to float32 arrays, and arrays to PNG for people.

ZTF stamps are tiny single-HDU images, so a direct parse of the FITS header cards is an
order of magnitude faster than astropy and gives the same pixels; astropy stays as the
fallback for any layout the direct parse refuses (extensions, unusual keywords). Stamps
arrive from the network, so decompression is capped and every size is checked.

One renderer (a zscale stretch, as DS9 and ALeRCE's explorer show stamps) serves the API's
``get_stamp`` PNGs and the TOM's cutouts, so both look the same.
"""
from __future__ import annotations

import io
import logging
import warnings
import zlib

import numpy as np
from PIL import Image

log = logging.getLogger(__name__)

FITS_BLOCK = 2880
CARD = 80
GZIP_MAGIC = b"\x1f\x8b"
BITPIX_DTYPES = {8: "u1", 16: ">i2", 32: ">i4", 64: ">i8", -32: ">f4", -64: ">f8"}


class CutoutError(ValueError):
    """A stamp that cannot be turned into an image; the message says why."""


class _Unsupported(Exception):
    """A valid-looking FITS the direct parse does not handle: astropy takes over."""


def decode_stamp(data: bytes, *, max_decompressed_bytes: int = 2_000_000) -> np.ndarray:
    """The image of one stamp as a 2-D float32 array (rows = NAXIS2), NaNs kept.

    Accepts gzip-compressed or plain FITS; raises :class:`CutoutError` for anything else,
    including archives that would inflate beyond ``max_decompressed_bytes``.
    """
    if not data:
        raise CutoutError("empty stamp")
    fits_bytes = _gunzip(bytes(data), max_decompressed_bytes) if data[:2] == GZIP_MAGIC else bytes(data)
    try:
        return _parse_primary_image(fits_bytes)
    except _Unsupported as why:
        log.debug("direct FITS parse refused (%s); using astropy", why)
        return _parse_with_astropy(fits_bytes)


def _gunzip(data: bytes, limit: int) -> bytes:
    inflater = zlib.decompressobj(wbits=16 + zlib.MAX_WBITS)
    try:
        out = inflater.decompress(data, limit + 1)
    except zlib.error as exc:
        raise CutoutError(f"stamp is not valid gzip: {exc}") from exc
    if len(out) > limit:
        raise CutoutError(f"stamp inflates beyond {limit} bytes (gzip bomb?)")
    if not inflater.eof:
        raise CutoutError(f"truncated gzip stream ({len(data)} compressed bytes)")
    return out


def _header_cards(fits_bytes: bytes) -> tuple[dict[str, str], int]:
    """Keyword -> raw value text of the primary header, and where its data starts."""
    if not fits_bytes.startswith(b"SIMPLE"):
        raise CutoutError("not a FITS file: it does not start with SIMPLE")
    cards: dict[str, str] = {}
    for start in range(0, len(fits_bytes) - CARD + 1, CARD):
        card = fits_bytes[start:start + CARD]
        keyword = card[:8].rstrip().decode("ascii", "replace")
        if keyword == "END":
            header_end = start + CARD
            return cards, -(-header_end // FITS_BLOCK) * FITS_BLOCK
        if card[8:10] == b"= " and keyword not in cards:
            cards[keyword] = card[10:].split(b"/", 1)[0].strip().decode("ascii", "replace")
    raise CutoutError("truncated FITS header: no END card")


def _parse_primary_image(fits_bytes: bytes) -> np.ndarray:
    cards, offset = _header_cards(fits_bytes)
    try:
        bitpix, naxis = int(cards["BITPIX"]), int(cards["NAXIS"])
    except (KeyError, ValueError) as exc:
        raise _Unsupported(f"BITPIX/NAXIS unreadable: {exc}") from exc
    if naxis != 2 or bitpix not in BITPIX_DTYPES:
        raise _Unsupported(f"NAXIS={naxis} BITPIX={bitpix}")
    try:
        width, height = int(cards["NAXIS1"]), int(cards["NAXIS2"])
        bscale = float(cards.get("BSCALE", "1").replace("D", "E"))
        bzero = float(cards.get("BZERO", "0").replace("D", "E"))
    except (KeyError, ValueError) as exc:
        raise _Unsupported(f"axis or scaling keywords unreadable: {exc}") from exc
    if width <= 0 or height <= 0:
        raise CutoutError(f"empty image: NAXIS1={width} NAXIS2={height}")
    dtype = np.dtype(BITPIX_DTYPES[bitpix])
    nbytes = width * height * dtype.itemsize
    if len(fits_bytes) < offset + nbytes:
        raise CutoutError(
            f"truncated FITS data: {width}x{height} BITPIX={bitpix} needs {nbytes} bytes, "
            f"{max(len(fits_bytes) - offset, 0)} present")
    raw = np.frombuffer(fits_bytes, dtype=dtype, count=width * height, offset=offset)
    raw = raw.reshape(height, width)
    if bscale == 1.0 and bzero == 0.0:
        image = raw.astype(np.float32)
    else:  # scale in double precision, as astropy does, then round once
        image = (raw * bscale + bzero).astype(np.float32)
    if bitpix > 0 and "BLANK" in cards:
        image[raw == _int_card(cards, "BLANK")] = np.nan
    return image


def _int_card(cards: dict[str, str], keyword: str) -> int:
    try:
        return int(cards[keyword])
    except ValueError as exc:
        raise _Unsupported(f"{keyword} unreadable: {exc}") from exc


def _parse_with_astropy(fits_bytes: bytes) -> np.ndarray:
    from astropy.io import fits

    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            with fits.open(io.BytesIO(fits_bytes), ignore_missing_simple=True) as hdus:
                for hdu in hdus:
                    if hdu.data is not None and getattr(hdu.data, "ndim", 0) == 2:
                        return np.asarray(hdu.data, dtype=np.float32)
    except Exception as exc:  # astropy raises OSError, ValueError, TypeError, ...
        raise CutoutError(f"unreadable FITS: {type(exc).__name__}: {exc}") from exc
    raise CutoutError("FITS holds no 2-D image")


def zscale_png(image: np.ndarray, scale: int = 1) -> bytes:
    """8-bit grey plus alpha, north up: zscale over the finite pixels, NaNs fully transparent.

    ``scale`` enlarges with nearest-neighbour so single pixels stay visible on a web page.
    """
    from astropy.visualization import ZScaleInterval  # astropy only when a stamp is drawn

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
