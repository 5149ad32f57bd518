"""The candidate's own measurements, drawn from what real ZTF alerts carry.

For every candidate ZTF's pipeline measures how well the PSF fits it (``chipsf``), its
significance in the matched-filter image (``scorr``), the science-to-reference seeing ratio
(``seeratio``), aperture minus PSF magnitude (``magdiff``), the share of good pixels
(``sumrat``), and the shape of the nearest source in the reference image (``classtar``,
``chinr``, ``sharpnr``). The simulator renders no catalogue to measure them on, so they are
drawn from the real alerts' distributions summarised in ``observing_model.json`` by
:mod:`calibrate`: the reference-source shape by what lies under the candidate (a star, a
galaxy nucleus, an offset host, nothing), ``chipsf`` and ``scorr`` from the log-linear
relation with the height above the limit (``diffmaglim - magpsf``) that they follow in real
alerts (chipsf: r = 0.89), ``seeratio`` from its quantiles per bin of fwhm (Spearman -0.91;
ZTF clips it at 2, a third of real alerts), and ``magdiff``/``sumrat`` from their overall quantiles.
"""
from __future__ import annotations

import numpy as np

from classifier_service.simulate.cadence import TAIL, ObservingModel, default_model

SCENE_FIELDS = ("magdiff", "sumrat")


def _draw(model: ObservingModel, table: list[float], rng: np.random.Generator,
          size: tuple[int, ...] | None = None) -> np.ndarray:
    """Inverse-CDF draw from a quantile table, without its rare outermost outliers (``cadence.TAIL``)."""
    return np.interp(rng.uniform(*TAIL, size=size), model.levels, table)


def reference_shape(host: str, rng: np.random.Generator, observing: ObservingModel | None = None) -> dict[str, float]:
    """classtar, chinr and sharpnr of the reference source under a candidate on ``host`` (``sky.HOSTS``),
    drawn independently: within a host kind, real alerts show them only weakly related."""
    model = observing or default_model()
    table = model.stats["candidate_fields"]["by_host"][host]
    return {name: float(_draw(model, table[name], rng)) for name in ("classtar", "chinr", "sharpnr")}


def near_source(host: str, rng: np.random.Generator, observing: ObservingModel | None = None) -> dict[str, float]:
    """distnr, distpsnr1 and sgscore1 of a candidate on a star or a galaxy nucleus, as real ones
    show them (ZTF's and PS1's astrometric scatter: median ~0.26")."""
    model = observing or default_model()
    table = model.stats["candidate_fields"]["by_host"][host]
    return {name: float(_draw(model, table[name], rng)) for name in ("distnr", "distpsnr1", "sgscore1")}


def _log_linear(fit: dict[str, float], x: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    return 10.0 ** (fit["slope"] * x + fit["intercept"] + fit["scatter"] * rng.normal(size=x.shape))


def epoch_fields(height: np.ndarray, fwhm: np.ndarray | float, rng: np.random.Generator,
                 observing: ObservingModel | None = None) -> dict[str, np.ndarray]:
    """chipsf, scorr, seeratio, magdiff and sumrat of detections ``height`` = diffmaglim - magpsf
    above their limits, seen at seeing ``fwhm`` (pixels); one value per epoch."""
    model = observing or default_model()
    stats = model.stats["candidate_fields"]
    height = np.asarray(height, dtype=float)
    out = {"chipsf": _log_linear(stats["chipsf_vs_height"], height, rng),
           # A detection is at least 5 sigma in the matched filter too: ZTF alerts from scorr >= 5.
           "scorr": np.maximum(_log_linear(stats["scorr_vs_height"], height, rng), 5.0),
           "seeratio": np.empty(height.shape)}
    table = stats["seeratio_by_fwhm"]
    bins = np.searchsorted(table["edges"], np.broadcast_to(np.asarray(fwhm, dtype=float), height.shape))
    for k in np.unique(bins):
        chosen = bins == k
        out["seeratio"][chosen] = _draw(model, table["quantiles"][k], rng, size=int(chosen.sum()))
    for name in SCENE_FIELDS:
        out[name] = _draw(model, stats[name], rng, size=height.shape)
    return out
