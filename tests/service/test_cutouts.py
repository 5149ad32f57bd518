"""Cutouts: gzip FITS stamps to float32 images, equal to astropy, safe on hostile bytes."""
from __future__ import annotations

import gzip
import io
import warnings
from pathlib import Path

import numpy as np
import pytest
from astropy.io import fits

from classifier_service.cutouts import CutoutError, decode_stamp
from classifier_service.surveys.avro import iter_records

STAMP_FIELDS = ("cutoutScience", "cutoutTemplate", "cutoutDifference")


def real_stamps(shared_data: Path) -> list[tuple[str, bytes]]:
    stamps = []
    for path in sorted((shared_data / "ztf_alerts").rglob("*.avro")):
        try:
            for record in iter_records(path.read_bytes()):
                stamps += [(f"{path.name}:{k}", record[k]["stampData"]) for k in STAMP_FIELDS
                           if record.get(k) and record[k].get("stampData")]
        except ValueError:
            continue  # the damaged files: their readable alerts were already collected
    for path in sorted((shared_data / "ztf_alerts").rglob("*.fits.gz")):
        stamps.append((path.name, path.read_bytes()))
    return stamps


def astropy_image(data: bytes) -> np.ndarray:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        with fits.open(io.BytesIO(gzip.decompress(data)), ignore_missing_simple=True) as hdus:
            return np.asarray(hdus[0].data, dtype=np.float32)


def fits_bytes(image: np.ndarray, **header) -> bytes:
    hdu = fits.PrimaryHDU(image)
    for key, value in header.items():
        hdu.header[key] = value
    out = io.BytesIO()
    hdu.writeto(out)
    return out.getvalue()


def test_every_real_cutout_decodes_exactly_as_astropy_does(shared_data):
    stamps = real_stamps(shared_data)
    assert len(stamps) > 900
    compared = shapes = 0
    seen_shapes = set()
    for name, data in stamps:
        try:
            reference = astropy_image(data)
        except Exception:  # noqa: BLE001: astropy cannot read it either
            with pytest.raises(CutoutError):
                decode_stamp(data)
            continue
        image = decode_stamp(data)
        assert image.dtype == np.float32 and image.ndim == 2, name
        assert image.shape == reference.shape, name
        assert np.array_equal(image, reference, equal_nan=True), name
        seen_shapes.add(image.shape)
        compared += 1
    shapes = len(seen_shapes)
    assert compared > 900
    assert shapes > 3  # 63x63 and the CCD-edge shapes (48x63, 63x55, ...)


def test_nan_pixels_are_kept(shared_data):
    nan_images = [image for _, data in real_stamps(shared_data)[:400]
                  for image in [_try(data)] if image is not None and np.isnan(image).any()]
    assert nan_images, "the real data include stamps with NaN regions"


def _try(data: bytes):
    try:
        return decode_stamp(data)
    except CutoutError:
        return None


@pytest.mark.parametrize("dtype", [np.uint8, np.int16, np.int32, np.float32, np.float64])
def test_every_bitpix_gives_float32_equal_to_astropy(dtype):
    image = (np.arange(7 * 5).reshape(7, 5) * 3).astype(dtype)
    data = gzip.compress(fits_bytes(image))
    assert np.array_equal(decode_stamp(data), astropy_image(data))
    assert decode_stamp(data).shape == (7, 5)


def test_scaled_integers_are_scaled_like_astropy():
    data = gzip.compress(fits_bytes(np.arange(12, dtype=np.int16).reshape(3, 4), BSCALE=0.5, BZERO=10.0))
    assert np.allclose(decode_stamp(data), astropy_image(data))


def test_plain_uncompressed_fits_is_accepted():
    image = np.ones((4, 6), dtype=np.float32)
    assert np.array_equal(decode_stamp(fits_bytes(image)), image)


def test_an_image_in_an_extension_falls_back_to_astropy():
    hdus = fits.HDUList([fits.PrimaryHDU(), fits.ImageHDU(np.full((30, 30), 2.0, dtype=np.float32))])
    out = io.BytesIO()
    hdus.writeto(out)
    assert decode_stamp(out.getvalue()).shape == (30, 30)


def test_a_gzip_bomb_is_refused_without_inflating_it():
    bomb = gzip.compress(b"\0" * 50_000_000)
    with pytest.raises(CutoutError, match="inflates beyond"):
        decode_stamp(bomb, max_decompressed_bytes=2_000_000)


@pytest.mark.parametrize("data, message", [
    pytest.param(b"", "empty", id="empty"),
    pytest.param(b"definitely not a stamp", "not a FITS", id="text"),
    pytest.param(gzip.compress(b"hello world", mtime=0), "not a FITS", id="gzipped text"),
    pytest.param(b"\x1f\x8b\x08\x00garbage", "gzip", id="broken gzip"),
])
def test_garbage_raises_a_clear_cutout_error(data, message):
    with pytest.raises(CutoutError, match=message):
        decode_stamp(data)


def test_truncated_gzip_raises_cutout_error():
    data = gzip.compress(fits_bytes(np.ones((63, 63), dtype=np.float32)))
    with pytest.raises(CutoutError, match="truncated gzip"):
        decode_stamp(data[: len(data) // 2])


def test_truncated_pixel_data_raises_cutout_error():
    raw = fits_bytes(np.ones((63, 63), dtype=np.float32))
    with pytest.raises(CutoutError, match="truncated FITS data"):
        decode_stamp(gzip.compress(raw[:2880 + 1000]))


def test_a_header_without_end_raises_cutout_error():
    with pytest.raises(CutoutError, match="no END"):
        decode_stamp(fits_bytes(np.ones((3, 3), dtype=np.float32))[:400])


def test_cutout_error_is_a_value_error():
    assert issubclass(CutoutError, ValueError)
