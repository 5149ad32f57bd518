"""``/get_stamp``: the stored FITS as ZTF sent it, and zscale PNGs with NaNs transparent."""
from __future__ import annotations

import io

import numpy as np
import pytest
from PIL import Image

from alerce_contract.stamps import decode_stamp, zscale_png

OID = "ZTF18abfaepq"


@pytest.fixture(scope="module")
def first_alert(real_alerts):
    return min((a for a in real_alerts if a.oid == OID), key=lambda a: a.candidate.mjd)


@pytest.mark.parametrize("kind", ["science", "template", "difference"])
def test_fits_is_the_stored_gzipped_stamp(client, first_alert, kind):
    response = client.get("/get_stamp", params={"oid": OID, "candid": first_alert.candid,
                                                "type": kind, "format": "fits"})
    assert response.status_code == 200
    assert response.content == getattr(first_alert.cutouts, kind)
    name = f"{OID}_{first_alert.candid}_{kind}.fits.gz"
    assert response.headers["content-disposition"] == (
        f"inline; filename=\"{name}\"; filename*=UTF-8''{name}")


@pytest.mark.parametrize("kind", ["science", "template", "difference"])
def test_png_has_the_stamps_shape_north_up(client, first_alert, kind):
    response = client.get("/get_stamp", params={"oid": OID, "candid": first_alert.candid,
                                                "type": kind, "format": "png"})
    assert response.status_code == 200 and response.headers["content-type"] == "image/png"
    image = np.asarray(Image.open(io.BytesIO(response.content)))
    stamp = decode_stamp(getattr(first_alert.cutouts, kind))
    assert image.shape == (*stamp.shape, 2)
    # Brightest stamp pixel is white in the PNG, at the row flipped north-up.
    row, col = np.unravel_index(np.nanargmax(stamp), stamp.shape)
    assert image[stamp.shape[0] - 1 - row, col, 0] == 255


def test_nan_pixels_are_transparent_and_the_rest_opaque():
    image = np.arange(100, dtype=np.float32).reshape(10, 10)
    image[2:4, 5:9] = np.nan
    pixels = np.asarray(Image.open(io.BytesIO(zscale_png(image))))
    alpha = pixels[..., 1][::-1]
    assert (alpha[2:4, 5:9] == 0).all() and alpha.sum() == 255 * 92


def test_all_nan_stamp_still_renders():
    pixels = np.asarray(Image.open(io.BytesIO(zscale_png(np.full((5, 5), np.nan, np.float32)))))
    assert (pixels[..., 1] == 0).all()


@pytest.mark.parametrize("params,message", [
    ({"oid": OID, "candid": 1}, "has stamps for candid"),
    ({"oid": "ZTF99zzzzzzz", "candid": 1}, "no stamps stored for object ZTF99zzzzzzz"),
])
def test_missing_stamps_are_404_with_a_message(client, params, message):
    response = client.get("/get_stamp", params=params)
    assert response.status_code == 404 and message in response.json()["detail"]


@pytest.mark.parametrize("params", [{"oid": OID}, {"oid": OID, "candid": "x"},
                                    {"oid": OID, "candid": 1, "type": "bias"},
                                    {"oid": OID, "candid": 1, "format": "jpeg"}])
def test_bad_stamp_parameters_are_400(client, params):
    assert client.get("/get_stamp", params=params).status_code == 400
