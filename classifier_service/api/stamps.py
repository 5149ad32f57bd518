"""Cutouts for the ``get_stamp`` route: the stored FITS as sent, or a zscale PNG.

The alerce client gunzips what ``format=fits`` returns, so FITS always leaves gzipped,
as ZTF sends it. PNGs follow how ALeRCE's explorer shows stamps: zscale stretch, north up
(FITS rows run south to north), with masked pixels transparent rather than a false value.
"""
from __future__ import annotations

import gzip

from classifier_service.cutouts import GZIP_MAGIC, decode_stamp
from classifier_service.stamp_png import zscale_png


def gzipped_fits(stored: bytes) -> bytes:
    """The stamp as gzip-compressed FITS (ZTF's own bytes when they already are)."""
    return stored if stored[:2] == GZIP_MAGIC else gzip.compress(stored, mtime=0)


def stamp_png(stored: bytes) -> bytes:
    """A stored stamp (FITS, gzipped or not) as PNG; raises CutoutError when unreadable."""
    return zscale_png(decode_stamp(stored))
