"""Pure pieces of the pages: stamps to PNG and links (the figures: test_plots.py)."""
from __future__ import annotations

import io

import numpy as np
import pytest
from PIL import Image

from tom_alerce.links import tns_url
from alerce_contract.stamps import zscale_png
from tom_alerce.stamps import StampError, as_png


def test_zscale_png_is_a_scaled_greyscale_image_with_nans_transparent():
    image = np.random.default_rng(0).normal(100, 5, (63, 55)).astype(np.float32)
    image[:10] = np.nan
    picture = Image.open(io.BytesIO(zscale_png(image, scale=2)))
    assert (picture.mode, picture.size) == ("LA", (110, 126))
    assert np.asarray(picture)[-1, :, 1].max() == 0  # FITS row 0 (all NaN) is the bottom row


def test_a_real_ztf_stamp_becomes_png_and_png_passes_through(alert):
    png = as_png(alert.cutouts.difference)
    assert Image.open(io.BytesIO(png)).size == (189, 189)
    assert as_png(png) is png


def test_hostile_stamp_bytes_are_a_stamp_error():
    with pytest.raises(StampError):
        as_png(b"\x1f\x8b not really gzip")


def test_tns_link_uses_the_tns_name_when_the_target_has_one():
    assert tns_url(["ZTF20acunklg", "SN 2020abc"], 1.0, 2.0) == "https://www.wis-tns.org/object/2020abc"
    assert "ra=1.000000" in tns_url(["ZTF20acunklg"], 1.0, 2.0)
