"""Simulated ZTF cutouts (science, template, difference) for the stamp classifier's five classes.

A :class:`Scene` says what is in the 63x63 arcsec field: a point source at the centre
whose flux differs between science and template (SN, AGN nucleus, variable star, asteroid),
an optional Sérsic host, field stars, and for bogus the artefacts that fool the
real-bogus filter (subtraction dipoles, cosmic rays, bad columns, NaN blocks, CCD edges).
Rendering uses Moffat PSFs with the epoch's seeing and the calibrated sky level and noise.
``stamp_metadata`` gives the candidate fields that go with such a stamp.
"""
from __future__ import annotations

from dataclasses import dataclass, field, replace
from functools import lru_cache
from math import gamma
from typing import Any

import numpy as np

from alerce_contract.taxonomy import STAMP_CLASSES
from classifier_service.simulate.cadence import (
    DETECTION_SNR, ObservingModel, default_model, flux_to_mag, mag_to_flux,
)
from classifier_service.simulate.candidates import reference_shape
from classifier_service.simulate.sky import MISSING, ecliptic_position, ps1_neighbours, sky_position

BOGUS_KINDS = ("dipole", "cosmic_ray", "bad_column", "nan_region", "edge", "noise_spike")
PIXEL_SCALE = 1.012  # arcsec per ZTF pixel
TEMPLATE_DEPTH = 15.0  # ZTF references co-add ~15-40 frames: noise down by ~4
TRUNCATED_SIZES = (43, 48, 51, 55)  # stamp sides seen at CCD edges in real alerts
QUASAR_FRACTION = 0.6  # AGN whose nucleus outshines the host (real labelled AGN: ~60% sgscore1 > 0.5)
DETECTION_MARGIN = 0.75  # mag: a drawn stamp's source is at least twice its 5-sigma flux (S/N >= 10)
# The real cutouts' pixel statistics beyond their 5th-95th percentiles are a handful of oddities
# (saturated fields, noise up to 130 ADU) that the 21-level quantile table would smear over 5%.
PIXEL_QUANTILES = (0.05, 0.95)
GAIN = 6.2  # electrons per ADU of ZTF's CCDs: photon noise of a source of S ADU is sqrt(S / GAIN)
# Measured on the real labelled alerts in shared/data (65 SN, 12 asteroid alerts): 31% of SN
# alerts have no PS1 source within 5" (a host too faint for PS1, or far out on a big one), and
# 12% are negative (the reference caught the SN brighter than the science image does); 17% of
# asteroid alerts have no PS1 source within 30" at all (distpsnr1 = -999).
SN_HOSTLESS_SHARE = 0.31
SN_NEGATIVE_SHARE = 0.12
ASTEROID_NO_PS1_SHARE = 0.17


@dataclass
class Host:
    """A Sérsic galaxy, offset (pixels) from the stamp centre."""

    flux: float
    r_eff: float
    n: float
    axis_ratio: float
    angle: float
    dx: float
    dy: float


@dataclass
class Scene:
    """Everything needed to render one alert's three cutouts."""

    stamp_class: str
    science_flux: float  # ADU of the central point source in the science image
    template_flux: float  # ADU of the same source in the template
    fwhm: float  # science seeing, pixels
    fwhm_template: float
    beta: float
    sky: float
    sky_sigma: float
    zero_point: float
    host: Host | None = None
    stars: list[tuple[float, float, float]] = field(default_factory=list)  # (flux, x, y)
    elongation: float = 1.0  # > 1 for trailed asteroids
    artefacts: tuple[str, ...] = ()
    centre_offset: tuple[float, float] = (0.0, 0.0)  # sub-pixel position of the candidate
    # The template's sky and noise, and the difference's noise, relative to the science image's;
    # and the difference's residual sky in units of its noise (ZTF: see draw_scene).
    template_sky_ratio: float = 1.0
    template_noise_ratio: float = 1 / np.sqrt(TEMPLATE_DEPTH)
    difference_noise_ratio: float = 1.0
    difference_offset: float = 0.0
    masked_fraction: float = 0.0  # share of the stamp masked (NaN) at a CCD edge or saturated star
    diffmaglim: float = np.nan  # the epoch's 5-sigma limit, where the scene was drawn with one

    def mag_to_adu(self, mag: float) -> float:
        return float(10 ** (-0.4 * (mag - self.zero_point))) if np.isfinite(mag) else 0.0


@lru_cache(maxsize=8)
def _grid(height: int, width: int) -> tuple[np.ndarray, np.ndarray]:
    y, x = np.indices((height, width), dtype=np.float64)
    return x - (width - 1) / 2, y - (height - 1) / 2


def moffat(x: np.ndarray, y: np.ndarray, fwhm: float, beta: float, elongation: float = 1.0) -> np.ndarray:
    """Unit-flux Moffat PSF (optionally stretched along x for a trailed mover)."""
    alpha = fwhm / (2 * np.sqrt(2 ** (1 / beta) - 1))
    r2 = (x / elongation) ** 2 + y**2
    return (beta - 1) / (np.pi * alpha**2 * elongation) * (1 + r2 / alpha**2) ** (-beta)


def _add_star(image: np.ndarray, x: np.ndarray, y: np.ndarray, flux: float, sx: float, sy: float,
              fwhm: float, beta: float) -> None:
    """Add a field star, evaluated only within 4 FWHM of it (the wings beyond are negligible)."""
    half = int(np.ceil(4 * fwhm))
    height, width = image.shape
    row, col = int(round(sy + (height - 1) / 2)), int(round(sx + (width - 1) / 2))
    rows = slice(max(row - half, 0), max(min(row + half + 1, height), 0))
    cols = slice(max(col - half, 0), max(min(col + half + 1, width), 0))
    image[rows, cols] += flux * moffat(x[rows, cols] - sx, y[rows, cols] - sy, fwhm, beta)


def sersic(x: np.ndarray, y: np.ndarray, host: Host, seeing: float) -> np.ndarray:
    """Sérsic profile of total flux ``host.flux``, softened by the seeing (a cheap convolution)."""
    cos, sin = np.cos(host.angle), np.sin(host.angle)
    u = (x - host.dx) * cos + (y - host.dy) * sin
    v = (-(x - host.dx) * sin + (y - host.dy) * cos) / host.axis_ratio
    r = np.sqrt(u**2 + v**2 + (seeing / 2.355) ** 2)
    b_n = 2 * host.n - 1 / 3 + 0.009876 / host.n
    norm = 2 * np.pi * host.n * host.r_eff**2 * host.axis_ratio * np.exp(b_n) * b_n ** (-2 * host.n) * gamma(2 * host.n)
    return host.flux / norm * np.exp(-b_n * ((r / host.r_eff) ** (1 / host.n) - 1))


def draw_scene(stamp_class: str, rng: np.random.Generator, *, science_mag: float | None = None,
               template_mag: float | None = None, host_mag: float | None = None,
               observing: ObservingModel | None = None) -> Scene:
    """A plausible field for one detection of ``stamp_class``.

    Magnitudes of the central source in the science image and the template may be given
    (the alert simulator passes its light curve's); otherwise they are drawn per class.
    """
    if stamp_class not in STAMP_CLASSES:
        raise ValueError(f"unknown stamp class {stamp_class!r}; expected one of {STAMP_CLASSES}")
    model = observing or default_model()
    fwhm = float(np.clip(model.sample("fwhm_pix", rng), 1.2, 6.0)) * rng.uniform(0.9, 1.15)
    # Sky level and noise as measured on the real cutouts (median and MAD): the two are
    # unrelated there (r = 0.03; some cutouts come sky-subtracted), so they are drawn apart.
    def pixels(key: str) -> float:
        return float(model.sample("stamp_pixels", rng, key=key, between=PIXEL_QUANTILES))

    sky_sigma = pixels("science_noise")
    scene = Scene(
        stamp_class=stamp_class, science_flux=0.0, template_flux=0.0, fwhm=fwhm,
        fwhm_template=float(np.clip(fwhm * rng.uniform(0.6, 0.95), 1.0, None)), beta=rng.uniform(2.5, 4.5),
        sky=pixels("science_background"),
        sky_sigma=sky_sigma,
        zero_point=0.0,  # set below, from the epoch's limit
        centre_offset=tuple(rng.uniform(-0.5, 0.5, size=2)),
        template_sky_ratio=pixels("template_background_ratio"),
        template_noise_ratio=pixels("template_noise") / sky_sigma,
        difference_noise_ratio=pixels("difference_noise_ratio"),
        difference_offset=pixels("difference_background_in_noise"),
        masked_fraction=pixels("masked_fraction")
        if rng.uniform() < model.stats["stamp_pixels"]["masked_share"] else 0.0,
    )
    science_mag, template_mag = _central_mags(stamp_class, rng, science_mag, template_mag)
    # The epoch's 5-sigma limit, fainter than the change by DETECTION_MARGIN (only detections
    # make alerts), sets the zero point, so the stamp's noise and the photometry agree.
    change_mag = float(flux_to_mag(mag_to_flux(science_mag) - mag_to_flux(template_mag)))
    limit = float(model.sample("diffmaglim", rng, key="2"))
    scene.diffmaglim = max(limit, change_mag + DETECTION_MARGIN) if np.isfinite(change_mag) else limit
    scene.zero_point = limit_zero_point(scene.diffmaglim, sky_sigma, fwhm, scene.beta, model)
    scene.science_flux, scene.template_flux = scene.mag_to_adu(science_mag), scene.mag_to_adu(template_mag)
    hostless = stamp_class == "SN" and host_mag is None and rng.uniform() < SN_HOSTLESS_SHARE
    if stamp_class in ("SN", "AGN") and not hostless:
        galaxy_mag = host_mag if host_mag is not None else rng.uniform(16.0, 20.5)
        if stamp_class == "AGN" and host_mag is None and np.isfinite(template_mag) and rng.uniform() < QUASAR_FRACTION:
            galaxy_mag = template_mag + rng.uniform(0.5, 3.0)  # the nucleus outshines its galaxy
        offset = rng.uniform(0.5, 4.0) if stamp_class == "SN" else rng.uniform(0.0, 0.3)
        direction = rng.uniform(0, 2 * np.pi)
        scene.host = Host(flux=scene.mag_to_adu(galaxy_mag), r_eff=rng.uniform(1.5, 6.0),
                          n=rng.uniform(0.8, 4.0), axis_ratio=rng.uniform(0.35, 1.0),
                          angle=rng.uniform(0, np.pi), dx=offset * np.cos(direction), dy=offset * np.sin(direction))
    if stamp_class == "asteroid":
        scene.elongation = 1.0 + rng.exponential(0.15)
    scene.stars = [(scene.mag_to_adu(rng.uniform(15.0, 21.5)), *rng.uniform(-31, 31, size=2))
                   for _ in range(rng.poisson(2.0 if stamp_class != "VS" else 4.0))]
    if stamp_class == "bogus":
        scene.artefacts = _bogus_artefacts(rng)
    return scene


def _central_mags(stamp_class: str, rng: np.random.Generator, science_mag: float | None,
                  template_mag: float | None) -> tuple[float, float]:
    """Science and template magnitudes of the central source, drawn per class if not given."""
    if science_mag is not None:
        return science_mag, np.inf if template_mag is None else template_mag
    if stamp_class == "SN" and rng.uniform() < SN_NEGATIVE_SHARE:  # fading below a reference that has it
        science_mag = rng.uniform(17.0, 20.5)
        return science_mag, flux_to_mag(mag_to_flux(science_mag) + mag_to_flux(rng.uniform(18.0, 20.5)))
    if stamp_class in ("SN", "asteroid"):
        return rng.uniform(16.5, 20.5), np.inf
    if stamp_class == "bogus":
        return (rng.uniform(17.0, 21.0), np.inf) if rng.uniform() < 0.6 else (np.inf, np.inf)
    # Variable star or AGN nucleus: a detectable flux change on top of a brighter reference.
    # Real labelled alerts (10th-90th percentiles of magpsf): stars 15.2-18.8, AGN 18.5-19.3
    # (a nucleus varies by tenths of a magnitude, so its difference is faint).
    difference = mag_to_flux(rng.uniform(*({"VS": (14.0, 20.0), "AGN": (17.5, 20.3)}[stamp_class])))
    reference = difference * 10 ** (0.4 * rng.uniform(0.2, 3.0 if stamp_class == "VS" else 2.0))
    brighter = rng.uniform() < (0.5 if stamp_class == "VS" else 0.7)
    return flux_to_mag(reference + difference if brighter else reference - difference), flux_to_mag(reference)


def _bogus_artefacts(rng: np.random.Generator) -> tuple[str, ...]:
    weights = np.array([0.35, 0.2, 0.15, 0.1, 0.1, 0.1])
    first = rng.choice(len(BOGUS_KINDS), p=weights)
    chosen = {BOGUS_KINDS[first]}
    if rng.uniform() < 0.3:
        chosen.add(BOGUS_KINDS[rng.choice(len(BOGUS_KINDS), p=weights)])
    return tuple(sorted(chosen))


def _signals(scene: Scene, x: np.ndarray, y: np.ndarray, *, stars: bool = True
             ) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Noise-free (science, template, the central source's change as the difference sees it,
    science minus template static light whose PSF mismatch leaves residuals in the difference)."""
    cx, cy = scene.centre_offset
    psf_science = moffat(x - cx, y - cy, scene.fwhm, scene.beta, scene.elongation)
    psf_template = moffat(x - cx, y - cy, scene.fwhm_template, scene.beta)
    static_science = np.zeros(x.shape)
    static_template = np.zeros(x.shape)
    for flux, sx, sy in scene.stars if stars else ():
        _add_star(static_science, x, y, flux, sx, sy, scene.fwhm, scene.beta)
        _add_star(static_template, x, y, flux, sx, sy, scene.fwhm_template, scene.beta)
    if scene.host is not None:
        static_science += sersic(x, y, scene.host, scene.fwhm)
        static_template += sersic(x, y, scene.host, scene.fwhm_template)
    return (static_science + scene.science_flux * psf_science, static_template + scene.template_flux * psf_template,
            (scene.science_flux - scene.template_flux) * psf_science, static_science - static_template)


def _finish(cube: np.ndarray, scene: Scene, rng: np.random.Generator, x: np.ndarray, y: np.ndarray) -> np.ndarray:
    """Apply the scene's artefacts and masked rows, and cut the rare non-bogus stamp at a CCD edge."""
    for kind in scene.artefacts:
        cube = ARTEFACTS[kind](cube, scene, rng, x, y)
    if scene.masked_fraction > 0:
        cube = _masked_edge(cube, scene.masked_fraction, rng)
    if scene.stamp_class != "bogus" and rng.uniform() < 0.03:
        cube = _edge(cube, scene, rng, x, y)
    return cube


def difference_sign(scene: Scene) -> float:
    """-1 for a source fainter than in the template: ZTF cuts a negative detection's difference
    stamp from the reference-minus-science image (``*_targ_refmsci``), so it shows positive
    (the real alerts' central peak is > 6 sigma in 90% of stamps, isdiffpos 't' or 'f')."""
    return -1.0 if scene.science_flux < scene.template_flux else 1.0


def render(scene: Scene, rng: np.random.Generator, size: tuple[int, int] = (63, 63)) -> np.ndarray:
    """(3, H, W) float32 science, template and difference images of a scene."""
    x, y = _grid(*size)
    science_signal, template_signal, change, static_mismatch = _signals(scene, x, y)
    science_noise = rng.normal(size=size) * np.sqrt(scene.sky_sigma**2 + np.maximum(science_signal, 0) / GAIN)
    template_noise = rng.normal(size=size) * scene.sky_sigma * scene.template_noise_ratio
    # The difference carries the science image's noise, rescaled by PSF matching, plus a small
    # residual sky; PSF matching leaves small residuals (ring/dipole) around every static source.
    difference = (difference_sign(scene) * (change + scene.difference_noise_ratio * (science_noise - template_noise)
                                             + rng.uniform(0.0, 0.03) * static_mismatch)
                  + scene.difference_offset * scene.difference_noise_ratio * scene.sky_sigma)
    science = scene.sky + science_signal + science_noise
    template = scene.sky * scene.template_sky_ratio + template_signal + template_noise
    return _finish(np.stack([science, template, difference]).astype(np.float32), scene, rng, x, y)


# --- injection into real cutouts -----------------------------------------------------------

def off_centre_background(cutouts: np.ndarray, shift: tuple[int, int]) -> np.ndarray:
    """A real 63x63 triplet rolled so the sky ``shift`` pixels from its candidate comes to the centre.

    The real candidate then sits ~20 px out, beyond the classifier's central crop, and the
    roll's seam falls outside it too: the centre holds real sky, noise, field stars and
    subtraction residuals of all three images, ready to receive an injected source.
    """
    if cutouts.shape[1:] != (63, 63):
        raise ValueError(f"only full 63x63 cutouts can be rolled, not {cutouts.shape}")
    return np.roll(cutouts, (-shift[0], -shift[1]), axis=(1, 2))


def at_zero_point(scene: Scene, zero_point: float, fwhm: float) -> Scene:
    """The same field on an image of another zero point and seeing: every flux rescaled."""
    scale = 10 ** (0.4 * (zero_point - scene.zero_point))
    host = None if scene.host is None else replace(scene.host, flux=scene.host.flux * scale)
    return replace(scene, science_flux=scene.science_flux * scale, template_flux=scene.template_flux * scale,
                   host=host, stars=[(flux * scale, sx, sy) for flux, sx, sy in scene.stars],
                   zero_point=zero_point, fwhm=fwhm, fwhm_template=min(scene.fwhm_template / scene.fwhm, 1.0) * fwhm)


def limit_zero_point(diffmaglim: float, sky_sigma: float, fwhm: float, beta: float,
                     observing: ObservingModel | None = None) -> float:
    """The zero point at which a point source at the epoch's 5-sigma limit peaks, in the stamp,
    as far above the pixel noise as in real stamps (calibrated ``peak_snr_factor``: peak S/N
    = 5 * factor / fwhm at the limit), so the stamp shows a detection as significant as its
    photometry says."""
    model = observing or default_model()
    factor = model.stats["stamp_pixels"]["peak_snr_factor"]
    peak_share = float(moffat(np.zeros(1), np.zeros(1), fwhm, beta)[0])  # of the flux, in the central pixel
    return float(diffmaglim + 2.5 * np.log10(DETECTION_SNR * factor * sky_sigma / (fwhm * peak_share)))


def on_real_image(scene: Scene, zero_point: float, fwhm: float, sky_sigma: float) -> Scene:
    """The scene photometrically on a real image: its fluxes rescaled to the image's zero point,
    its seeing the image's, and no simulated field stars or masks (the real image has its own)."""
    return replace(at_zero_point(scene, zero_point, fwhm), stars=[], sky_sigma=sky_sigma, masked_fraction=0.0)


def inject(scene: Scene, background: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """(3, H, W) float32 cutouts: the scene's sources added to real science/template/difference
    images (``background``, e.g. from :func:`off_centre_background`).

    Only the added light gets photon noise (in the science image and hence the difference);
    the sky noise, PSF wings of field stars, template depth and artefacts are the real ones.
    """
    x, y = _grid(*background.shape[1:])
    science_signal, template_signal, change, static_mismatch = _signals(scene, x, y, stars=False)
    photon_noise = rng.normal(size=x.shape) * np.sqrt(np.maximum(science_signal, 0) / GAIN)
    difference = difference_sign(scene) * (change + photon_noise + rng.uniform(0.0, 0.03) * static_mismatch)
    cube = background.astype(np.float64) + np.stack([science_signal + photon_noise, template_signal, difference])
    return _finish(cube.astype(np.float32), scene, rng, x, y)


def _dipole(cube, scene, rng, x, y):
    """A bright star subtracted with an astrometric misalignment: a positive/negative pair."""
    flux = scene.mag_to_adu(rng.uniform(13.5, 17.0))
    shift = rng.uniform(0.4, 1.5) * np.array([np.cos(a := rng.uniform(0, 2 * np.pi)), np.sin(a)])
    star_now = flux * moffat(x - shift[0] / 2, y - shift[1] / 2, scene.fwhm, scene.beta)
    star_then = flux * moffat(x + shift[0] / 2, y + shift[1] / 2, scene.fwhm, scene.beta)
    cube[0] += star_now.astype(np.float32)
    cube[1] += (flux * moffat(x + shift[0] / 2, y + shift[1] / 2, scene.fwhm_template, scene.beta)).astype(np.float32)
    cube[2] += (star_now - star_then).astype(np.float32)
    return cube


def _cosmic_ray(cube, scene, rng, x, y):
    """A sharp hit (a few pixels, or a short track) in the science image, hence the difference."""
    height, width = cube.shape[1:]
    length = rng.integers(1, 8)
    r0, c0 = height // 2 + rng.integers(-2, 3), width // 2 + rng.integers(-2, 3)
    direction = rng.uniform(0, 2 * np.pi)
    rows = np.clip(np.round(r0 + np.arange(length) * np.sin(direction)).astype(int), 0, height - 1)
    cols = np.clip(np.round(c0 + np.arange(length) * np.cos(direction)).astype(int), 0, width - 1)
    energy = rng.uniform(200, 3000, size=length).astype(np.float32)
    cube[0, rows, cols] += energy
    cube[2, rows, cols] += energy
    return cube


def _bad_column(cube, scene, rng, x, y):
    """A hot or dead CCD column through the candidate (sometimes NaN-masked)."""
    column = cube.shape[2] // 2 + rng.integers(-1, 2)
    value = np.nan if rng.uniform() < 0.3 else rng.uniform(300, 5000) * rng.choice([-1, 1])
    cube[0, :, column] = value if np.isnan(value) else cube[0, :, column] + value
    cube[2, :, column] = value if np.isnan(value) else cube[2, :, column] + value
    return cube


def _nan_region(cube, scene, rng, x, y):
    """A masked block (saturation or a chip gap) covering part of the stamp."""
    height, width = cube.shape[1:]
    if rng.uniform() < 0.5:
        rows = slice(0, rng.integers(height // 4, height // 2))
    else:
        rows = slice(rng.integers(height // 2, 3 * height // 4), height)
    cols = slice(0, width) if rng.uniform() < 0.5 else slice(0, rng.integers(width // 3, width))
    cube[:, rows, cols] = np.nan
    return cube


def _masked_edge(cube: np.ndarray, fraction: float, rng: np.random.Generator) -> np.ndarray:
    """NaN over ``fraction`` of the stamp along one side, as ZTF masks pixels beyond a CCD edge
    (18% of real cutouts have some, median 5% of the stamp)."""
    height, width = cube.shape[1:]
    side = int(rng.integers(4))
    depth = max(int(round(fraction * (height if side < 2 else width))), 1)
    index = [slice(None)] * 3
    index[1 + side // 2] = slice(0, depth) if side % 2 == 0 else slice(-depth, None)
    cube[tuple(index)] = np.nan
    return cube


def _edge(cube, scene, rng, x, y):
    """The candidate sits at a CCD edge: the stamp loses rows or columns (48x63 and the like)."""
    side = int(rng.choice(TRUNCATED_SIZES))
    if rng.uniform() < 0.6:
        return cube[:, :side, :] if rng.uniform() < 0.5 else cube[:, -side:, :]
    return cube[:, :, :side] if rng.uniform() < 0.5 else cube[:, :, -side:]


def _noise_spike(cube, scene, rng, x, y):
    """A few correlated hot pixels at the centre with no PSF shape (a 'noise' detection)."""
    patch = rng.normal(0, scene.sky_sigma * rng.uniform(3, 8), size=(3, 3)).astype(np.float32)
    r, c = cube.shape[1] // 2, cube.shape[2] // 2
    cube[0, r - 1:r + 2, c - 1:c + 2] += np.abs(patch)
    cube[2, r - 1:r + 2, c - 1:c + 2] += np.abs(patch)
    return cube


ARTEFACTS = {"dipole": _dipole, "cosmic_ray": _cosmic_ray, "bad_column": _bad_column,
             "nan_region": _nan_region, "edge": _edge, "noise_spike": _noise_spike}


def simulate_stamps(class_name: str, rng: np.random.Generator, size: tuple[int, int] = (63, 63)) -> np.ndarray:
    """(3, H, W) float32 science/template/difference cutouts of one ``class_name`` detection.

    H, W equal ``size`` except for stamps cut by a CCD edge (bogus ones mostly).
    """
    return render(draw_scene(class_name, rng), rng, size)


def simulate_stamp_example(class_name: str, rng: np.random.Generator,
                           size: tuple[int, int] = (63, 63)) -> tuple[np.ndarray, dict[str, Any]]:
    """Cutouts and candidate fields of the same detection, consistent with each other."""
    scene = draw_scene(class_name, rng)
    return render(scene, rng, size), scene_metadata(scene, rng)


def stamp_metadata(class_name: str, rng: np.random.Generator) -> dict[str, Any]:
    """Candidate fields the stamp classifier reads, for one ``class_name`` detection."""
    return scene_metadata(draw_scene(class_name, rng), rng)


def scene_metadata(scene: Scene, rng: np.random.Generator, observing: ObservingModel | None = None) -> dict[str, Any]:
    """The candidate fields (sgscore1-3, distpsnr1-3, fwhm, rb, ndethist, ...) matching a scene."""
    model = observing or default_model()
    kind = scene.stamp_class
    difference = scene.science_flux - scene.template_flux
    if difference == 0:  # bogus without a real source: a noise peak just above the limit
        difference = scene.mag_to_adu(rng.uniform(19.5, 21.0))
    magpsf = float(scene.zero_point - 2.5 * np.log10(abs(difference)))
    diffmaglim = float(max(scene.diffmaglim, magpsf + 0.05))
    real = kind != "bogus"
    if kind == "asteroid":
        ra, dec = ecliptic_position(rng)
    else:
        ra, dec, _ = sky_position(rng, galactic=kind == "VS")
    host = {"VS": "star", "AGN": "nuclear", "SN": "offset" if scene.host is not None else "hostless"
            }.get(kind, "hostless")
    if kind == "AGN" and scene.host is not None and scene.host.flux < scene.template_flux:
        host = "star"  # a quasar outshining its galaxy is a point source to PS1 (real AGN: sgscore1 ~0.94)
    under_mag = (scene.zero_point - 2.5 * np.log10(scene.host.flux) if scene.host else
                 scene.zero_point - 2.5 * np.log10(scene.template_flux) if scene.template_flux > 0 else 21.0)
    meta: dict[str, Any] = dict(ps1_neighbours(rng, host, float(under_mag)))
    if kind == "asteroid" and rng.uniform() < ASTEROID_NO_PS1_SHARE:  # an empty patch of PS1 sky
        meta.update({name: MISSING for name in meta})
    known_asteroid = kind == "asteroid" and rng.uniform() < 0.75
    # ndethist counts every detection at the position so far: a SN alert may come weeks into
    # its light curve (real labelled SN alerts: median ~80), a quasar's after years of them.
    n_hist = {"SN": rng.integers(1, 6) if rng.uniform() < 0.5 else _log_uniform_int(rng, 5, 150),
              "asteroid": 1, "VS": rng.integers(5, 500), "AGN": _log_uniform_int(rng, 3, 2000),
              "bogus": rng.integers(1, 3) if rng.uniform() < 0.8 else rng.integers(3, 100)}[kind]
    ncovhist = int(n_hist + _log_uniform_int(rng, 5, 4000))  # real fields: hundreds to thousands of visits
    if host == "star" or host == "nuclear":
        distnr, chinr, sharpnr = rng.exponential(0.2), rng.uniform(0.3, 2.0), rng.normal(0.0, 0.05)
    elif host == "offset":
        distnr = np.hypot(scene.host.dx, scene.host.dy) * PIXEL_SCALE
        chinr, sharpnr = rng.uniform(1.5, 12.0), rng.uniform(0.1, 0.6)
    else:
        distnr, chinr, sharpnr = rng.uniform(2.0, 25.0), rng.uniform(0.3, 5.0), rng.normal(0.0, 0.2)
    shape = reference_shape(host, rng, model) if real else {"classtar": rng.uniform(0.0, 1.0)}
    chinr, sharpnr = shape.get("chinr", chinr), shape.get("sharpnr", sharpnr)  # real alerts' values by host
    meta.update(
        ra=ra, dec=dec, magpsf=magpsf,
        sigmapsf=float(model.sigma_mag(np.array(magpsf - diffmaglim), rng)),
        diffmaglim=diffmaglim,
        isdiffpos="t" if (scene.science_flux - scene.template_flux) >= 0 else "f",
        fwhm=float(scene.fwhm * (rng.uniform(0.3, 0.7) if "cosmic_ray" in scene.artefacts else rng.uniform(0.9, 1.1))),
        classtar=float(shape["classtar"]),
        elong=float(scene.elongation * rng.uniform(1.0, 1.2) if real else rng.uniform(1.0, 3.0)),
        nbad=int(0 if real else rng.integers(0, 5)),
        ndethist=int(n_hist), ncovhist=ncovhist,
        distnr=float(distnr), magnr=float(under_mag), sigmagnr=0.02, chinr=float(chinr), sharpnr=float(sharpnr),
        rb=float(model.sample("rb", rng) if real else rng.uniform(0.0, 0.55)),
        # Real alerts' deep real-bogus scores: the upper 60% of the stream's (which has bogus too).
        drb=float(model.sample("drb", rng, between=(0.4, 0.995)) if real else rng.uniform(0.0, 0.4)),
        ssdistnr=float(rng.uniform(0.0, 4.0)) if known_asteroid else MISSING,
        ssmagnr=float(magpsf + rng.normal(0, 0.3)) if known_asteroid else MISSING,
        ssnamenr=str(rng.integers(1000, 700000)) if known_asteroid else "null",
    )
    return meta


def _log_uniform_int(rng: np.random.Generator, low: float, high: float) -> int:
    return int(np.exp(rng.uniform(np.log(low), np.log(high))))


def with_photometry(scene: Scene, science_mag: float, template_mag: float) -> Scene:
    """The same field with the central source at new magnitudes (another epoch of the object)."""
    return replace(scene, science_flux=scene.mag_to_adu(science_mag), template_flux=scene.mag_to_adu(template_mag))
