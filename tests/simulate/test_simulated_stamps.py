"""Simulated cutouts show what each stamp class looks like in ZTF's three images."""
from __future__ import annotations

import gzip
import io
from dataclasses import replace

import numpy as np
import pytest
from astropy.io import fits

from classifier_service.simulate import STAMP_CLASSES, simulate_stamp_example, simulate_stamps, stamp_metadata
from classifier_service.simulate.fits import QUANTUM, gzipped_fits
from classifier_service.simulate.stamps import draw_scene, inject, off_centre_background, on_real_image, render

CENTRE = (slice(28, 35), slice(28, 35))


def robust_noise(image: np.ndarray) -> float:
    return float(1.4826 * np.nanmedian(np.abs(image - np.nanmedian(image))))


def centre_excess(image: np.ndarray, noise: float | None = None) -> float:
    """Peak of the central 7x7 pixels above the image's median, in units of its robust noise
    (or of ``noise``)."""
    noise = robust_noise(image) if noise is None else noise
    return float((np.nanmax(image[CENTRE]) - np.nanmedian(image)) / noise)


@pytest.mark.parametrize("class_name", STAMP_CLASSES)
def test_stamps_are_three_float32_images_of_63_by_63_for_every_class(class_name):
    rng = np.random.default_rng(0)
    shapes = {simulate_stamps(class_name, rng).shape for _ in range(20)}
    stamp = simulate_stamps(class_name, np.random.default_rng(1))
    assert stamp.dtype == np.float32 and stamp.shape[0] == 3
    assert (3, 63, 63) in shapes


@pytest.mark.parametrize("class_name", STAMP_CLASSES)
def test_stamp_metadata_gives_the_fields_the_stamp_classifier_reads(class_name):
    meta = stamp_metadata(class_name, np.random.default_rng(2))
    for key in ("sgscore1", "sgscore2", "sgscore3", "distpsnr1", "distpsnr2", "distpsnr3", "isdiffpos", "fwhm",
                "magpsf", "sigmapsf", "ra", "dec", "diffmaglim", "classtar", "ndethist", "ncovhist", "chinr",
                "sharpnr", "ssdistnr", "ssnamenr"):
        assert key in meta, key
    assert meta["isdiffpos"] in ("t", "f")
    assert meta["ncovhist"] >= meta["ndethist"] >= 1
    assert 0 < meta["sigmapsf"] < 0.5


def test_an_asteroid_is_in_the_science_image_but_absent_from_the_template():
    rng = np.random.default_rng(3)
    for _ in range(10):
        scene = replace(draw_scene("asteroid", rng), stars=[])  # a field star may sit beside it
        science, template, difference = render(scene, rng)
        assert centre_excess(science) > 5 and centre_excess(difference) > 5
        # A co-added template is far less noisy than the science image (real: ~0.2 of it).
        assert centre_excess(template, robust_noise(science)) < 4


def test_a_supernova_is_new_on_its_host_galaxy():
    rng = np.random.default_rng(4)
    scene = next(s for s in (draw_scene("SN", rng) for _ in range(20)) if s.host is not None and s.template_flux == 0)
    assert scene.science_flux > 0 and np.hypot(scene.host.dx, scene.host.dy) >= 0.5
    science, template, difference = render(scene, rng)
    assert centre_excess(difference) > 5


def test_supernova_alerts_are_as_often_hostless_and_negative_as_real_ones():
    """Real labelled SN alerts: 31% without a PS1 source within 5", 12% negative; real asteroid
    alerts: 17% without any PS1 source (-999). A simulator without them taught the stamp
    classifier that a hostless SN is an asteroid."""
    rng = np.random.default_rng(8)
    sne = [stamp_metadata("SN", rng) for _ in range(300)]
    far = np.mean([m["distpsnr1"] > 5 or m["distpsnr1"] < 0 for m in sne])
    negative = np.mean([m["isdiffpos"] == "f" for m in sne])
    no_ps1 = np.mean([stamp_metadata("asteroid", rng)["distpsnr1"] == -999 for _ in range(300)])
    assert 0.2 < far < 0.45 and 0.05 < negative < 0.2 and 0.08 < no_ps1 < 0.3


def test_a_variable_star_is_in_both_images_and_its_difference_can_be_negative():
    rng = np.random.default_rng(5)
    signs = set()
    for _ in range(20):
        image, meta = simulate_stamp_example("VS", rng)
        if image.shape == (3, 63, 63):
            assert centre_excess(image[1]) > 10, "the star is in the template"
        signs.add(meta["isdiffpos"])
        assert meta["sgscore1"] > 0.5, "PS1 calls it a star (Tachibana & Miller 2018)"
    assert signs == {"t", "f"}


def test_asteroids_are_known_solar_system_objects_near_the_ecliptic_mostly():
    rng = np.random.default_rng(6)
    metas = [stamp_metadata("asteroid", rng) for _ in range(40)]
    known = [m for m in metas if m["ssnamenr"] != "null"]
    assert len(known) > 20 and all(0 <= m["ssdistnr"] <= 5 for m in known)
    assert all(m["ndethist"] == 1 for m in metas)


def test_every_bogus_stamp_carries_at_least_one_artefact():
    rng = np.random.default_rng(7)
    assert all(draw_scene("bogus", rng).artefacts for _ in range(50))
    assert np.median([stamp_metadata("bogus", rng)["rb"] for _ in range(30)]) < 0.4


@pytest.mark.parametrize("artefact", ["dipole", "cosmic_ray", "bad_column", "nan_region", "edge"])
def test_bogus_artefacts_show_in_the_images(artefact):
    rng = np.random.default_rng(8)
    scene = replace(draw_scene("bogus", rng, science_mag=np.inf, template_mag=np.inf), artefacts=(artefact,))
    science, template, difference = render(scene, rng)
    noise = 1.4826 * np.nanmedian(np.abs(difference - np.nanmedian(difference)))
    if artefact == "dipole":
        assert np.nanmax(difference) > 10 * noise and np.nanmin(difference) < -10 * noise
    elif artefact == "cosmic_ray":
        peak = np.unravel_index(np.nanargmax(difference), difference.shape)
        neighbours = difference[peak[0] - 1:peak[0] + 2, peak[1] - 1:peak[1] + 2]
        assert np.nanmax(difference) > 20 * noise and np.sort(neighbours.ravel())[-2] < 0.9 * np.nanmax(difference)
        assert centre_excess(template) < 5
    elif artefact == "bad_column":
        masked = np.isnan(difference).all(axis=0)
        assert masked.any() or np.abs(np.median(difference, axis=0)).max() > 20 * noise
    elif artefact == "nan_region":
        assert np.isnan(science).mean() > 0.1 and np.isnan(difference).mean() > 0.1
    else:
        assert difference.shape != (63, 63) and min(difference.shape) in (43, 48, 51, 55)


def test_same_seed_gives_the_same_stamps():
    first = simulate_stamps("SN", np.random.default_rng(9))
    np.testing.assert_array_equal(first, simulate_stamps("SN", np.random.default_rng(9)))
    assert not np.array_equal(first, simulate_stamps("SN", np.random.default_rng(10)))


def test_cutouts_are_written_as_gzipped_fits_that_astropy_reads():
    image = simulate_stamps("bogus", np.random.default_rng(11))[2]
    image[0, :5] = np.nan
    raw = gzip.decompress(gzipped_fits(image))
    data = fits.open(io.BytesIO(raw))[0].data
    assert data.shape == image.shape
    np.testing.assert_allclose(data, image, atol=QUANTUM / 2, equal_nan=True)


def test_cutouts_decode_with_the_pipelines_reader():
    cutouts = pytest.importorskip("classifier_service.cutouts")
    image = simulate_stamps("AGN", np.random.default_rng(12))[0]
    np.testing.assert_allclose(cutouts.decode_stamp(gzipped_fits(image)), image, atol=QUANTUM / 2)


def test_unknown_stamp_class_is_a_clear_error():
    with pytest.raises(ValueError, match="unknown stamp class"):
        simulate_stamps("comet", np.random.default_rng(0))


# --- injection into real cutouts ---------------------------------------------------------

@pytest.fixture(scope="module")
def real_triplet(shared_data) -> np.ndarray:
    """The science, template and difference cutouts of one real ZTF alert (a variable star)."""
    from classifier_service.cutouts import decode_cutouts
    from classifier_service.surveys import parse_record
    from classifier_service.surveys.avro import iter_records

    path = next((shared_data / "ztf_alerts" / "ztf-avro-alert").rglob("*.avro"))
    alert = parse_record(next(iter_records(path.read_bytes())))
    return np.stack(decode_cutouts(alert.cutouts)).astype(np.float32)


def test_an_off_centre_background_brings_real_sky_to_the_centre_and_the_candidate_out_of_the_crop(real_triplet):
    background = off_centre_background(real_triplet, (20, -20))
    assert background[2, 31, 31] == real_triplet[2, 51, 11]
    assert centre_excess(real_triplet[2]) > 5, "the real candidate is at the centre before the roll"
    assert centre_excess(background[2]) < 5
    with pytest.raises(ValueError, match="63x63"):
        off_centre_background(real_triplet[:, :48], (20, 20))


def test_a_supernova_injected_into_real_cutouts_keeps_the_real_noise_around_it(real_triplet):
    rng = np.random.default_rng(13)
    background = off_centre_background(real_triplet, (-20, 20))
    sky_sigma = 1.4826 * float(np.median(np.abs(background[0] - np.median(background[0]))))
    scene = on_real_image(draw_scene("SN", rng, science_mag=18.0, host_mag=25.0), 26.0, 2.0, sky_sigma)
    assert scene.stars == [] and scene.fwhm == 2.0 and scene.zero_point == 26.0
    science, template, difference = inject(scene, background, rng)
    assert centre_excess(difference) > 20 and centre_excess(science) > 20
    far = (slice(0, 10), slice(0, 10))  # 30 px from the source: the real pixels, untouched
    np.testing.assert_allclose(template[far], background[1][far], atol=1e-3)
    np.testing.assert_allclose(difference[far], background[2][far], atol=1.0)


def test_a_scene_on_a_real_image_keeps_its_magnitudes():
    scene = draw_scene("VS", np.random.default_rng(14))
    moved = on_real_image(scene, scene.zero_point + 1.0, 3.0, 5.0)
    assert moved.science_flux == pytest.approx(scene.science_flux * 10 ** 0.4)
    assert moved.fwhm_template <= moved.fwhm == 3.0
