"""Astrophysical models of the 15 light-curve classes: true flux versus time in u g r i z y.

Each builder draws one object's parameters from its class's distribution and returns a
:class:`Source`: the flux the reference image holds at its position (a star's mean flux,
zero for a supernova) and a function giving the true flux at any epochs. Difference
imaging — and so what ZTF or Rubin alerts on — is the gap between the two. Fluxes are
microjansky (see :mod:`cadence`); bands are indexed by the contract's fid (1 g, 2 r, 3 i,
4 u, 5 z, 6 y), so every per-band array below has seven entries (0 unused). ZTF observes
fids 1-3 only; Rubin (:mod:`rubin`) all six, through the same models.
"""
from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from alerce_contract.taxonomy import LC_CLASSES as CLASSES
from alerce_contract.taxonomy import PERIODIC
from alerce_contract.taxonomy import TRANSIENT as TRANSIENTS
from classifier_service.simulate.cadence import flux_to_mag, mag_to_flux

FluxFunction = Callable[[np.ndarray, np.ndarray, np.random.Generator], np.ndarray]



@dataclass
class Source:
    """One simulated object: its reference flux per band, its flux curve and what we drew."""

    class_name: str
    host: str  # one of sky.HOSTS
    reference_mag: np.ndarray  # index fid (0 unused); inf where the reference holds nothing
    flux: FluxFunction  # (mjd, fid, rng) -> total flux of the variable source, microjansky
    host_mag: float  # magnitude of what lies under the candidate in PS1/the reference
    params: dict[str, Any] = field(default_factory=dict)

    def reference_flux(self, fid: np.ndarray) -> np.ndarray:
        return mag_to_flux(self.reference_mag[fid])

    def difference_flux(self, mjd: np.ndarray, fid: np.ndarray, rng: np.random.Generator) -> np.ndarray:
        return self.flux(mjd, fid, rng) - self.reference_flux(fid)


def _band_mags(r_mag: float, g_minus_r: float) -> np.ndarray:
    """Magnitudes indexed by fid from an r magnitude and a g-r colour: r-i ~ 0.4 (g-r),
    u-g ~ 0.3 + 1.3 (g-r), i-z ~ 0.25 (g-r), z-y ~ 0.1 (g-r) (main-sequence-like colours)."""
    g, i = r_mag + g_minus_r, r_mag - 0.4 * g_minus_r
    z = i - 0.25 * g_minus_r
    return np.array([np.inf, g, r_mag, i, g + 0.3 + 1.3 * g_minus_r, z, z - 0.1 * g_minus_r])


# --- transients ---------------------------------------------------------------------------

# Per type: peak absolute mag (mean, sd), rest-frame Bazin rise and fall (days, ranges),
# g-r at peak, how much faster g fades than r, redshift range. After Villar et al. 2019,
# Perley et al. 2020 (BTS) and ALeRCE's SN classes.
SN_TYPES: dict[str, dict[str, Any]] = {
    "SNIa": dict(peak=(-19.3, 0.3), rise=(1.5, 4.0), fall=(18, 35), colour=(-0.1, 0.1), g_fall=0.6,
                 z=(0.01, 0.15), plateau=0.0),
    "SNIbc": dict(peak=(-17.6, 0.7), rise=(1.5, 5.0), fall=(15, 40), colour=(0.1, 0.5), g_fall=0.7,
                  z=(0.005, 0.08), plateau=0.0),
    "SNII": dict(peak=(-17.0, 0.9), rise=(1.0, 4.0), fall=(60, 160), colour=(-0.15, 0.15), g_fall=0.45,
                 z=(0.005, 0.06), plateau=(60, 110)),
    "SLSN": dict(peak=(-21.3, 0.6), rise=(12, 40), fall=(40, 120), colour=(-0.25, 0.05), g_fall=0.75,
                 z=(0.05, 0.5), plateau=0.0),
}
MAX_PEAK_MAG = 20.8  # brighter than the deeper ZTF limits, or ZTF would never have seen it


def distance_modulus(z: np.ndarray | float) -> np.ndarray:
    """Low-redshift distance modulus with H0 = 70 and q0 = -0.55 (good to a few % at z < 0.5)."""
    z = np.asarray(z, dtype=float)
    d_l_mpc = 299792.458 / 70.0 * z * (1 + 0.5 * (1 + 0.55) * z)
    return 5 * np.log10(d_l_mpc * 1e6 / 10)


def supernova(class_name: str, rng: np.random.Generator) -> Source:
    """Bazin-shaped rise and decline (a plateau for SNe II), time-dilated by (1+z)."""
    spec = SN_TYPES[class_name]
    while True:
        z = rng.uniform(*spec["z"])
        peak_mag = float(rng.normal(*spec["peak"]) + distance_modulus(z))
        if 15.5 < peak_mag < MAX_PEAK_MAG:
            break
    dilation = 1 + z
    rise = rng.uniform(*spec["rise"]) * dilation
    fall = rng.uniform(*spec["fall"]) * dilation
    plateau = rng.uniform(*spec["plateau"]) * dilation if spec["plateau"] else 0.0
    colour = rng.uniform(*spec["colour"])
    peak_flux = mag_to_flux(_band_mags(peak_mag, colour))
    fall_by_band = np.array([fall, fall * spec["g_fall"], fall, fall * 1.1, fall * spec["g_fall"] * 0.8,
                             fall * 1.15, fall * 1.2])
    params = dict(z=z, peak_mag=peak_mag, rise=rise, fall=fall, plateau=plateau, g_minus_r=colour, t0=0.0)

    def flux(mjd: np.ndarray, fid: np.ndarray, rng: np.random.Generator) -> np.ndarray:
        t = mjd - params["t0"]
        tau_fall = fall_by_band[fid]
        # Bazin: A e^{-t/fall} / (1 + e^{-t/rise}); a plateau delays the decline for SNe II.
        decline_t = np.where(t > 0, np.maximum(t - plateau, 0.0) + 0.1 * np.minimum(t, plateau), t)
        shape = np.exp(-np.clip(decline_t, -50 * fall, None) / tau_fall) / (
            1 + np.exp(-np.clip(t / rise, -50, 50)))
        return peak_flux[fid] * shape * 2.0  # the Bazin factor peaks near 1/2 when rise << fall

    host = "offset" if rng.uniform() < 0.9 else "hostless"
    host_mag = float(np.clip(peak_mag + rng.normal(0.5, 1.0), 14.5, 22.0))
    return Source(class_name, host, _band_mags(np.inf, 0.0), flux, host_mag, params)


# --- stochastic ---------------------------------------------------------------------------

# Damped random walks: tau (days, log-uniform range), SF_inf (mag), mean r mag, g-r, host.
DRW_TYPES: dict[str, dict[str, Any]] = {
    "QSO": dict(tau=(80, 600), sf=(0.12, 0.35), mag=(18.0, 20.3), colour=(-0.05, 0.35), host="nuclear"),
    "AGN": dict(tau=(40, 400), sf=(0.08, 0.25), mag=(16.5, 19.5), colour=(0.3, 0.8), host="nuclear"),
    "Blazar": dict(tau=(5, 120), sf=(0.5, 1.4), mag=(15.5, 19.5), colour=(0.3, 0.8), host="star"),
}


def drw_path(times: np.ndarray, tau: float, sigma: float, rng: np.random.Generator) -> np.ndarray:
    """Exact Ornstein-Uhlenbeck (damped random walk) values at sorted times, zero mean."""
    x = np.empty(times.size)
    if times.size == 0:
        return x
    x[0] = rng.normal(0, sigma)
    decay = np.exp(-np.diff(times) / tau)
    kicks = rng.normal(size=times.size - 1) * sigma * np.sqrt(1 - decay**2)
    for i in range(1, times.size):
        x[i] = x[i - 1] * decay[i - 1] + kicks[i - 1]
    return x


def _on_sorted_times(mjd: np.ndarray, path: Callable[[np.ndarray], np.ndarray]) -> np.ndarray:
    """Evaluate a process defined on sorted unique times back at the given (unsorted) epochs."""
    unique, inverse = np.unique(mjd, return_inverse=True)
    return path(unique)[inverse]


def damped_random_walk(class_name: str, rng: np.random.Generator) -> Source:
    """QSO/AGN/Blazar: one DRW drives all bands, with larger amplitude in g (bluer when brighter)."""
    spec = DRW_TYPES[class_name]
    tau = float(np.exp(rng.uniform(*np.log(spec["tau"]))))
    sf_inf = rng.uniform(*spec["sf"])
    mean_mag = rng.uniform(*spec["mag"])
    colour = rng.uniform(*spec["colour"])
    mean_mags = _band_mags(mean_mag, colour)
    band_gain = np.array([0.0, 1.25, 1.0, 0.85, 1.5, 0.75, 0.7])

    def flux(mjd: np.ndarray, fid: np.ndarray, rng: np.random.Generator) -> np.ndarray:
        delta = _on_sorted_times(mjd, lambda t: drw_path(t, tau, sf_inf / np.sqrt(2), rng))
        return mag_to_flux(mean_mags[fid] + delta * band_gain[fid])

    host_mag = mean_mag - (rng.uniform(0.3, 1.5) if spec["host"] == "nuclear" else 0.0)
    return Source(class_name, spec["host"], mean_mags, flux, float(host_mag),
                  dict(tau=tau, sf_inf=sf_inf, mean_mag=mean_mag, g_minus_r=colour))


def young_stellar_object(class_name: str, rng: np.random.Generator) -> Source:
    """YSO: red, mildly stochastic, with extinction dips (dippers) or accretion bursts."""
    mean_mag = rng.uniform(15.0, 19.0)
    colour = rng.uniform(0.9, 1.8)
    mean_mags = _band_mags(mean_mag, colour)
    tau, sigma = rng.uniform(3, 30), rng.uniform(0.05, 0.25)
    dipper = rng.uniform() < 0.6
    rate = rng.uniform(0.01, 0.06)  # events per day
    if dipper:
        amplitude, width = rng.uniform(0.3, 1.5), rng.uniform(1, 8)
    else:
        amplitude, width = rng.uniform(0.4, 1.5), rng.uniform(5, 40)
    extinction_gain = np.array([0.0, 1.4, 1.0, 0.75, 1.8, 0.6, 0.5])  # dust dims the blue most

    def flux(mjd: np.ndarray, fid: np.ndarray, rng: np.random.Generator) -> np.ndarray:
        delta = _on_sorted_times(mjd, lambda t: drw_path(t, tau, sigma, rng))
        span = (mjd.min() - 3 * width, mjd.max() + 3 * width) if mjd.size else (0, 0)
        n_events = rng.poisson(rate * (span[1] - span[0]))
        centres = rng.uniform(*span, size=n_events)
        depths = amplitude * rng.uniform(0.4, 1.0, size=n_events)
        profile = (depths[:, None] * np.exp(-0.5 * ((mjd[None, :] - centres[:, None]) / width) ** 2)).sum(0)
        event = profile * extinction_gain[fid] * (1 if dipper else -1)
        return mag_to_flux(mean_mags[fid] + delta + event)

    return Source(class_name, "star", mean_mags, flux, mean_mag,
                  dict(mean_mag=mean_mag, dipper=dipper, event_rate=rate, event_amplitude=amplitude))


def cataclysmic(class_name: str, rng: np.random.Generator) -> Source:
    """CV/Nova: dwarf-nova outbursts (2-5 mag, recurring) or, rarely, one classical nova."""
    nova = rng.uniform() < 0.15
    quiescent = rng.uniform(18.5, 21.5) if not nova else rng.uniform(20.0, 23.0)
    colour = rng.uniform(0.0, 0.4)
    quiet_mags = _band_mags(quiescent, colour)
    if nova:
        amplitude, recurrence, rise, decline = rng.uniform(7, 11), np.inf, rng.uniform(1, 3), rng.uniform(8, 40)
    else:
        amplitude, recurrence = rng.uniform(2.0, 5.0), rng.uniform(15, 150)
        rise, decline = rng.uniform(0.5, 2.0), rng.uniform(2, 8)
    outburst_colour = np.array([0.0, -0.1, 0.0, 0.05, -0.25, 0.08, 0.1])

    def flux(mjd: np.ndarray, fid: np.ndarray, rng: np.random.Generator) -> np.ndarray:
        if mjd.size == 0:
            return mjd.copy()
        if np.isfinite(recurrence):
            regular = np.arange(mjd.min() - rng.uniform(0, recurrence), mjd.max() + 1, recurrence)
            starts = regular + rng.normal(0, 0.15 * recurrence, size=regular.size)
        else:
            starts = np.array([rng.uniform(mjd.min() - 20, mjd.max())])
        dt = mjd[None, :] - starts[:, None]
        shape = np.where(dt < 0, np.exp(np.clip(dt / rise, -50, 0)), np.exp(-np.clip(dt, 0, None) / decline))
        brightening = mag_to_flux(quiet_mags[fid] - amplitude) - mag_to_flux(quiet_mags[fid])
        flicker = 1 + rng.normal(0, 0.05, size=mjd.size)
        return mag_to_flux(quiet_mags[fid]) * flicker + brightening * 10 ** (0.4 * outburst_colour[fid]) * shape.max(0)

    return Source(class_name, "star", quiet_mags, flux, quiescent,
                  dict(nova=nova, quiescent_mag=quiescent, amplitude=amplitude, recurrence=recurrence))


# --- periodic -----------------------------------------------------------------------------

def _sawtooth(phase: np.ndarray, rise_fraction: float) -> np.ndarray:
    """Brightness in [0, 1]: a fast rise over ``rise_fraction`` of the cycle, a slow decline."""
    return np.where(phase < rise_fraction, phase / rise_fraction, (1 - phase) / (1 - rise_fraction))


def _eclipses(phase: np.ndarray, width: float, secondary: float, contact: bool) -> np.ndarray:
    """Dimming in [0, 1]: primary eclipse at phase 0, secondary (relative depth) at 0.5."""
    if contact:  # W UMa: continuous light variation with unequal minima
        return 0.5 * (1 - np.cos(4 * np.pi * phase)) * np.where(np.abs(phase - 0.5) < 0.25, secondary, 1.0)
    distance = np.minimum(phase, 1 - phase)
    primary = np.exp(-0.5 * (distance / width) ** 2)
    second = secondary * np.exp(-0.5 * ((phase - 0.5) / width) ** 2)
    return primary + second


def _loguniform(rng: np.random.Generator, lo: float, hi: float) -> float:
    return float(np.exp(rng.uniform(np.log(lo), np.log(hi))))


def _near_threshold_amplitude(rng: np.random.Generator, hi: float) -> float:
    """A peak-to-peak amplitude (mag) with density ~ A^-(1 + AMPLITUDE_SLOPE) from
    :data:`SMALLEST_AMPLITUDE` to ``hi``: the sky's stars, most of which vary little."""
    lo, hi = SMALLEST_AMPLITUDE ** -AMPLITUDE_SLOPE, hi ** -AMPLITUDE_SLOPE
    return float((lo - rng.uniform() * (lo - hi)) ** (-1.0 / AMPLITUDE_SLOPE))


# Sub-type shares inside ALeRCE classes, counted from the GCVS types in
# ../shared/data/labels/gcvs_fink-science/gcvs.parquet (59,099 stars; first type of each):
# RRL: RRAB 7,225, RRC 1,712 -> RRc 0.19; E: EW 3,637 + EW/KW 245 (contact) against EA 4,283 +
# EA/SD 957 + EA/DM 189 + EB 1,486 -> contact 0.36; LPV: M 9,172 against SR/SRA/SRB/SRD 7,587
# and L/LB 4,483 -> Mira 0.43.
SUBTYPE_SHARES = {"RRc": 0.19, "contact": 0.36, "mira": 0.43}
# Most variable stars vary little, and they dominate an alert stream's stars: about 150,000 of
# the 781,602 periodic variables of the ZTF catalogue (Chen et al. 2020, ApJS 249, 18) are
# rotational (BY Dra, RS CVn; ALeRCE's Periodic-Other), and grazing eclipses outnumber deep
# ones. The real alerts on stars (../shared/data) show it: the median star is detected on 0.12
# of its 30-day history's epochs (simulated: 0.69 with the catalogues' amplitude ranges), its
# detections small changes of the reference flux (|dF/F| median 0.15-0.26, 5th percentile
# 0.05). So the stream's eclipsing and Periodic-Other stars (``near_threshold``) take their
# amplitude from a steep power law that starts below what ZTF detects on a star (5 sigma of a
# 2% subtraction residual, ~0.1 mag); the slope makes the simulated stream's stars about as
# rarely detected as the real ones (median 0.2-0.3 of their epochs). Light curves for training
# keep the catalogue ranges: the labelled stars a classifier learns from are the well-measured.
SMALLEST_AMPLITUDE = 0.08
AMPLITUDE_SLOPE = 3.0


def periodic(class_name: str, rng: np.random.Generator, near_threshold: bool = False) -> Source:
    """Pulsators, eclipsing binaries and other periodic stars with class-typical P and amplitude.

    Distributions after the ZTF periodic-variable catalogue (Chen et al. 2020, ApJS 249, 18) and
    GCVS: DSCT 0.03-0.25 d and < 0.3 mag; RRab 0.45-0.9 d and RRc 0.25-0.45 d; Cepheids 1-50 d;
    LPV 80-1000 d with up to several magnitudes in g; eclipsing 0.2-10 d. The sub-type shares
    are GCVS's (:data:`SUBTYPE_SHARES`). ``near_threshold``: eclipsing and Periodic-Other
    amplitudes as an alert stream meets them, mostly below 0.2 mag (:data:`AMPLITUDE_SLOPE`).
    """
    shape_params: dict[str, Any] = {}
    if class_name == "DSCT":
        period, amplitude, colour = _loguniform(rng, 0.03, 0.25), _loguniform(rng, 0.03, 0.35), rng.uniform(0.0, 0.35)
        shape = lambda ph: _sawtooth(ph, 0.4)  # noqa: E731  (nearly sinusoidal)
    elif class_name == "RRL":
        rrc = rng.uniform() < SUBTYPE_SHARES["RRc"]
        period = rng.uniform(0.25, 0.45) if rrc else rng.uniform(0.45, 0.9)
        amplitude = rng.uniform(0.25, 0.55) if rrc else rng.uniform(0.5, 1.2)
        rise = 0.45 if rrc else rng.uniform(0.1, 0.2)
        colour, shape = rng.uniform(0.15, 0.5), (lambda ph: _sawtooth(ph, rise))
        shape_params["rrc"] = rrc
    elif class_name == "CEP":
        period, amplitude, colour = _loguniform(rng, 1.0, 50.0), rng.uniform(0.3, 1.0), rng.uniform(0.4, 1.1)
        rise = rng.uniform(0.15, 0.3)
        shape = lambda ph: _sawtooth(ph, rise)  # noqa: E731
    elif class_name == "LPV":
        mira = rng.uniform() < SUBTYPE_SHARES["mira"]
        period = _loguniform(rng, 150, 700) if mira else _loguniform(rng, 60, 400)
        amplitude = rng.uniform(2.0, 5.0) if mira else rng.uniform(0.2, 1.2)
        colour, shape = rng.uniform(1.4, 2.6), (lambda ph: 0.5 * (1 + np.sin(2 * np.pi * ph)))
        shape_params["mira"] = mira
    elif class_name == "E":
        contact = rng.uniform() < SUBTYPE_SHARES["contact"]
        period = _loguniform(rng, 0.22, 0.6) if contact else _loguniform(rng, 0.5, 10.0)
        highest = 0.8 if contact else 1.5
        amplitude = (_near_threshold_amplitude(rng, highest) if near_threshold
                     else rng.uniform(0.15 if contact else 0.2, highest))
        width, secondary = rng.uniform(0.03, 0.08), rng.uniform(0.1, 1.0) if not contact else rng.uniform(0.7, 1.0)
        colour = rng.uniform(0.1, 1.0)
        shape = lambda ph: 1 - _eclipses(ph, width, secondary, contact)  # noqa: E731
        shape_params.update(contact=contact, secondary_depth=secondary)
    elif class_name == "Periodic-Other":
        period = _loguniform(rng, 0.1, 100.0)
        amplitude = _near_threshold_amplitude(rng, 0.5) if near_threshold else _loguniform(rng, 0.05, 0.5)
        colour = rng.uniform(0.3, 1.4)
        harmonic, lag = rng.uniform(0, 0.5), rng.uniform(0, 2 * np.pi)
        shape = lambda ph: 0.5 + 0.4 * (np.sin(2 * np.pi * ph) + harmonic * np.sin(4 * np.pi * ph + lag))  # noqa: E731
    else:
        raise ValueError(f"unknown periodic class {class_name!r}")
    mean_mag = rng.uniform(13.5, 18.5) if class_name != "LPV" else rng.uniform(13.0, 17.5)
    mean_mags = _band_mags(mean_mag, colour)
    band_gain = (np.array([0.0, 1.25, 1.0, 0.8, 1.5, 0.7, 0.65]) if class_name != "E"
                 else np.array([0.0, 1.05, 1.0, 0.97, 1.08, 0.96, 0.95]))
    epoch0 = rng.uniform(0, period)
    cycle_jitter = 0.1 if class_name == "LPV" else 0.0  # LPV cycles differ in depth

    def flux(mjd: np.ndarray, fid: np.ndarray, rng: np.random.Generator) -> np.ndarray:
        phase = ((mjd - epoch0) / period) % 1.0
        cycles = np.floor((mjd - epoch0) / period)
        cycle_scale = 1 + cycle_jitter * np.sin(cycles * 2.3 + epoch0)
        delta = -amplitude * cycle_scale * (shape(phase) - 0.5) * band_gain[fid]
        return mag_to_flux(mean_mags[fid] + delta)

    # The reference image co-adds many epochs, so it holds the star's mean flux over the cycle:
    # a detached binary's out-of-eclipse light, which its difference images then do not show.
    grid = np.linspace(0.0, 1.0, 256, endpoint=False)
    cycle_flux = mag_to_flux(mean_mags[:, None] - amplitude * (shape(grid)[None, :] - 0.5) * band_gain[:, None])
    reference_mags = flux_to_mag(cycle_flux.mean(axis=1))
    return Source(class_name, "star", reference_mags, flux, float(reference_mags[2]),
                  dict(period=period, amplitude=amplitude, mean_mag=mean_mag, g_minus_r=colour, **shape_params))


BUILDERS: dict[str, Callable[[str, np.random.Generator], Source]] = {
    **{name: supernova for name in TRANSIENTS},
    **{name: damped_random_walk for name in DRW_TYPES},
    "YSO": young_stellar_object,
    "CV/Nova": cataclysmic,
    **{name: periodic for name in PERIODIC},
}


def build_source(class_name: str, rng: np.random.Generator, *, near_threshold: bool = False) -> Source:
    """Draw one object of a light-curve class; ``near_threshold``: as an alert stream meets it,
    where most eclipsing and Periodic-Other stars vary little (:data:`AMPLITUDE_SLOPE`)."""
    try:
        builder = BUILDERS[class_name]
    except KeyError:
        raise ValueError(f"unknown light-curve class {class_name!r}; expected one of {CLASSES}") from None
    if near_threshold and builder is periodic:
        return periodic(class_name, rng, near_threshold=True)
    return builder(class_name, rng)
