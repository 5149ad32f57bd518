"""Cutouts for the ``get_stamp`` route: the stored FITS as sent, or a zscale PNG.

The alerce client gunzips what ``format=fits`` returns, so FITS always leaves gzipped,
as ZTF sends it. PNGs follow how ALeRCE's explorer shows stamps: zscale stretch, north up
(FITS rows run south to north), with masked pixels transparent rather than a false value.
"""
from __future__ import annotations

import gzip
import re
from urllib.parse import quote

from alerce_contract.stamps import GZIP_MAGIC, decode_stamp, zscale_png


def gzipped_fits(stored: bytes) -> bytes:
    """The stamp as gzip-compressed FITS (ZTF's own bytes when they already are)."""
    return stored if stored[:2] == GZIP_MAGIC else gzip.compress(stored, mtime=0)


def plain_fits(stored: bytes) -> bytes:
    """The stamp as uncompressed FITS (the multisurvey API's ``is_compressed=false``)."""
    return gzip.decompress(stored) if stored[:2] == GZIP_MAGIC else stored


def stamp_png(stored: bytes) -> bytes:
    """A stored stamp (FITS, gzipped or not) as PNG; raises CutoutError when unreadable."""
    return zscale_png(decode_stamp(stored))


def content_disposition(filename: str) -> str:
    """An RFC 6266 ``inline`` header for ``filename``, safe whatever text the name holds.

    The quoted ``filename`` keeps only letters, digits, ``.``, ``_`` and ``-`` (any other
    character becomes ``_``); ``filename*`` carries the exact name, percent-encoded UTF-8.
    """
    fallback = re.sub(r"[^A-Za-z0-9._-]", "_", filename)
    return f"inline; filename=\"{fallback}\"; filename*=UTF-8''{quote(filename, safe='')}"
