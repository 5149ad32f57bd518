"""Pure pieces of the pages: stamps to PNG, classification charts, the light-curve figure, links."""
from __future__ import annotations

import io

import numpy as np
import pytest
from PIL import Image

from tests.tom.seeding import CLASSIFICATIONS
from tom_alerce.links import tns_url
from tom_alerce.plots import Photometry, classification_charts, lightcurve_figure
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


def test_light_curve_hierarchy_is_one_chart_per_version_and_the_rest_one_each():
    grouped = {(name, e["version"]): e["probabilities"] for name, e in CLASSIFICATIONS.items()}
    titles = [c.title for c in classification_charts(grouped)]
    assert titles == ["stamp_classifier 1.0.0", "hierarchy 2.0.0", "lc_classifier 2.0.0"]
    hierarchy = classification_charts(grouped)[1].figure
    assert [t.y[-1] for t in hierarchy.data] == ["Transient", "SNIa", "AGN", "LPV"]  # likeliest at top


def test_light_curve_figure_has_a_trace_per_band_and_kind_with_magnitudes_reversed():
    phot = Photometry(mjd=np.arange(5.0), magnitude=np.array([18, 18.5, 20, 19, 19.2]),
                      error=np.array([0.1, 0.1, np.nan, 0.2, 0.2]),
                      band=np.array(["g", "g", "r", "r", "r"], dtype=object),
                      kind=np.array(["detection", "detection", "limit", "forced", "detection"], dtype=object))
    fig = lightcurve_figure(phot)
    assert [t.name for t in fig.data] == ["g detection", "r detection", "r forced", "r limit"]
    assert fig.layout.yaxis.autorange == "reversed"


def test_tns_link_uses_the_tns_name_when_the_target_has_one():
    assert tns_url(["ZTF20acunklg", "SN 2020abc"], 1.0, 2.0) == "https://www.wis-tns.org/object/2020abc"
    assert "ra=1.000000" in tns_url(["ZTF20acunklg"], 1.0, 2.0)
