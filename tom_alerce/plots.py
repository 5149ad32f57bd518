"""Plotly figures of the ALeRCE tab: classification bars, the light curve and the folded curve
(with the rule for when a period is worth folding on).

Pure functions from probabilities or arrays to figures, so they can be tested without Django.
Figures carry their data only; the page loads plotly.js once (see tom_alerce.offline).
"""
from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass

import numpy as np
import plotly.graph_objects as go
from astropy.timeseries import LombScargle
from plotly.subplots import make_subplots

from alerce_contract.bands import band_color
from alerce_contract.taxonomy import (HIERARCHY_PARTS, LC_GROUP_CLASSIFIERS, LC_TOP, PERIOD_RANGE_DAYS,
                                      STAMP_CLASSIFIER)

PLOT_CONFIG = {"responsive": True, "displaylogo": False}
PERIOD_FEATURE = "Multiband_period"  # the light-curve classifier's multiband period, in days
PROBABILITY_AXIS = dict(range=[0, 1.18], tickvals=[0, 0.25, 0.5, 0.75, 1])  # room for the value right of a 1.00 bar
DIFFERENCE_AXIS = "difference magnitude (AB)"
APPARENT_AXIS = "apparent magnitude (AB)"


def figure_html(fig: go.Figure) -> str:
    """A <div> with the figure; plotly.js is loaded once by the page, not embedded per plot."""
    return fig.to_html(full_html=False, include_plotlyjs=False, config=PLOT_CONFIG)


def _bars(probabilities: Mapping[str, float], color: str = "#1f77b4", opacity: float = 1.0,
          label: str = "P") -> go.Bar:
    names = list(probabilities)[::-1]  # most probable on top of a horizontal bar chart
    values = [probabilities[n] for n in names]
    return go.Bar(x=values, y=names, orientation="h", marker_color=color, opacity=opacity, cliponaxis=False,
                  text=[f"{v:.2f}" for v in values], textposition="outside", showlegend=False,
                  hovertemplate=f"{label}(%{{y}}) = %{{x:.2f}}<extra></extra>")


def bar_chart(title: str, probabilities: Mapping[str, float]) -> go.Figure:
    """One classifier's probabilities, most probable first."""
    fig = go.Figure(_bars(probabilities))
    fig.update_layout(title=title, height=110 + 26 * len(probabilities), margin=dict(l=10, r=20, t=50, b=30),
                      bargap=0.2)
    fig.update_xaxes(title_text="probability", **PROBABILITY_AXIS)
    return fig


def hierarchy_chart(title: str, groups: Mapping[str, float],
                    classes_by_group: Mapping[str, Mapping[str, float]]) -> go.Figure:
    """The top level, P(group), on its own row; below it each group's classes as P(class | group),
    the likeliest group first. A group's bars fade with its own probability, so full-length
    conditional bars under an unlikely group do not read as a likely class."""
    ordered = [g for g in groups if g in classes_by_group] + [g for g in classes_by_group if g not in groups]
    n_cols = max(1, len(ordered))
    titles = ["P(group)", *[f"P(class | {g})<br>P({g}) = {groups.get(g, float('nan')):.2f}" for g in ordered]]
    specs = [[{"colspan": n_cols}, *[None] * (n_cols - 1)], [{} for _ in range(n_cols)]]
    n_classes = max([0, *[len(c) for c in classes_by_group.values()]])
    top_height, bottom_height = 26 * len(groups) + 20, 26 * n_classes + 20
    fig = make_subplots(rows=2, cols=n_cols, specs=specs, subplot_titles=titles, horizontal_spacing=0.14,
                        vertical_spacing=0.22 * 200 / (top_height + bottom_height + 1),
                        row_heights=[top_height, bottom_height])
    fig.add_trace(_bars(groups, "#636efa"), row=1, col=1)
    for col, group in enumerate(ordered, start=1):
        weight = groups.get(group)
        opacity = 1.0 if weight is None else 0.3 + 0.7 * float(weight)
        fig.add_trace(_bars(classes_by_group[group], "#00a08a", opacity, label=f"P(· | {group}): P"),
                      row=2, col=col)
    fig.update_layout(title=title, height=150 + top_height + bottom_height, margin=dict(l=10, r=20, t=60, b=30),
                      bargap=0.2)
    fig.update_xaxes(**PROBABILITY_AXIS)
    return fig


@dataclass(frozen=True, slots=True)
class ChartSpec:
    title: str
    figure: go.Figure


def classification_charts(grouped: Mapping[tuple[str, str], Mapping[str, float]]) -> list[ChartSpec]:
    """One chart per classifier version, the stamp classifier first, then the light-curve
    hierarchy (its four classifiers as one chart), then any other classifier."""
    hierarchy_versions = {v for (name, v) in grouped if name == LC_TOP}
    charts = []
    for (name, version), probabilities in sorted(grouped.items(), key=lambda kv: (kv[0][0] != STAMP_CLASSIFIER,
                                                                                   kv[0][0] != LC_TOP, kv[0])):
        if name == LC_TOP:
            classes = {group: grouped[(clf, version)] for group, clf in LC_GROUP_CLASSIFIERS.items()
                       if (clf, version) in grouped}
            charts.append(ChartSpec(f"hierarchy {version}", hierarchy_chart(
                f"light-curve hierarchy ({version})", probabilities, classes)))
        elif not (name in HIERARCHY_PARTS and version in hierarchy_versions):
            charts.append(ChartSpec(f"{name} {version}", bar_chart(f"{name} ({version})", probabilities)))
    return charts


@dataclass(frozen=True, slots=True)
class Photometry:
    """A target's photometry as arrays; kind is 'detection', 'limit' or 'forced'.

    ``magnitude`` is the difference-image magnitude (or the limit); ``apparent`` the broker's
    corrected magnitude of a detection (NaN where it has none: no nearby reference source).
    """

    mjd: np.ndarray
    magnitude: np.ndarray
    error: np.ndarray
    band: np.ndarray
    kind: np.ndarray
    apparent: np.ndarray
    apparent_error: np.ndarray

    @property
    def has_apparent(self) -> bool:
        return bool(np.isfinite(self.apparent[self.kind == "detection"]).any())

    def detections_in(self, band: str | None = None) -> int:
        """Detections in ``band``, or in every band together."""
        detected = self.kind == "detection"
        return int(np.count_nonzero(detected if band is None else detected & (self.band == band)))

    def detection_baseline(self) -> float:
        """Days from the first detection to the last (0 without two): what a fold can show."""
        mjd = self.mjd[self.kind == "detection"]
        return float(mjd.max() - mjd.min()) if mjd.size else 0.0


TRACE_STYLE = {
    "detection": dict(mode="markers", marker=dict(size=8, symbol="circle")),
    "forced": dict(mode="markers", marker=dict(size=6, symbol="circle-open")),
    "limit": dict(mode="markers", marker=dict(size=8, symbol="triangle-down-open"), opacity=0.6),
}
TRACE_NAME = {"detection": "detection", "forced": "forced phot.", "limit": "upper limit"}


def _bands(phot: Photometry) -> list[str]:
    return sorted(set(phot.band.tolist()), key=lambda b: ("gri".find(b) % 10, b))


def _outside_legend() -> dict:
    return dict(x=1.01, xanchor="left", y=1, yanchor="top", bgcolor="rgba(255,255,255,0)")


# Forced photometry fainter than this signal-to-noise does not stretch the magnitude axis.
MIN_FORCED_SNR = 3.0
RANGE_PADDING_MAG = 0.3


def magnitude_range(phot: Photometry) -> tuple[float, float] | None:
    """(brightest, faintest) of detections, limits and significant forced points, padded: a few
    noise-dominated forced epochs (mag 30 +- 8) would otherwise squash the light curve flat."""
    significant = (phot.kind != "forced") | (phot.error <= 1.0857 / MIN_FORCED_SNR)
    mags = phot.magnitude[significant & np.isfinite(phot.magnitude)]
    if not mags.size:
        return None
    return float(mags.min()) - RANGE_PADDING_MAG, float(mags.max()) + RANGE_PADDING_MAG


def lightcurve_figure(phot: Photometry, title: str = "") -> go.Figure:
    """Per band: detections with error bars, upper limits (open triangles) and forced photometry
    in difference magnitudes; with a button to switch to the detections' apparent magnitudes."""
    fig = go.Figure()
    scales = []  # which scale ("difference" or "apparent") each trace belongs to
    for band in _bands(phot):
        color = band_color(band)
        for kind, style in TRACE_STYLE.items():
            sel = (phot.band == band) & (phot.kind == kind)
            if not sel.any():
                continue
            error = None if kind == "limit" else dict(type="data", array=phot.error[sel], visible=True)
            fig.add_trace(go.Scatter(x=phot.mjd[sel], y=phot.magnitude[sel], error_y=error,
                                     name=f"{band} {TRACE_NAME[kind]}", marker_color=color, **style,
                                     hovertemplate="MJD %{x:.4f}<br>%{y:.2f} mag<extra>%{fullData.name}</extra>"))
            scales.append("difference")
        sel = (phot.band == band) & (phot.kind == "detection") & np.isfinite(phot.apparent)
        if sel.any():
            fig.add_trace(go.Scatter(x=phot.mjd[sel], y=phot.apparent[sel], visible=False,
                                     error_y=dict(type="data", array=phot.apparent_error[sel], visible=True),
                                     name=f"{band} apparent", marker_color=color, **TRACE_STYLE["detection"],
                                     hovertemplate="MJD %{x:.4f}<br>%{y:.2f} mag<extra>%{fullData.name}</extra>"))
            scales.append("apparent")
    bright_faint = magnitude_range(phot)
    difference_y = ({"yaxis.range": [bright_faint[1], bright_faint[0]], "yaxis.autorange": False}  # faint below
                    if bright_faint else {"yaxis.autorange": "reversed"})
    fig.update_layout(title=title, height=440, margin=dict(l=10, r=10, t=50, b=40), showlegend=True,
                      legend=_outside_legend(),
                      xaxis=dict(title="MJD (days)", tickformat=".5~f"),  # 61365.25, not 61.365k
                      yaxis=dict(title=DIFFERENCE_AXIS, autorange="reversed"))
    fig.update_layout(difference_y)
    if "apparent" in scales:
        fig.update_layout(updatemenus=[dict(
            type="buttons", direction="right", x=1, xanchor="right", y=1.02, yanchor="bottom", showactive=True,
            buttons=[dict(label=label, method="update", args=[{"visible": [s == scale for s in scales]}, layout])
                     for label, scale, layout in (
                         ("Difference magnitude", "difference", {"yaxis.title.text": DIFFERENCE_AXIS, **difference_y}),
                         ("Apparent magnitude", "apparent",
                          {"yaxis.title.text": APPARENT_AXIS, "yaxis.autorange": "reversed"}))])])
    return fig


# Periods searched when the broker has none: 1.2 h to half the baseline.
MIN_PERIOD_DAYS = 0.05
MIN_DETECTIONS_FOR_PERIOD = 10


def best_period(phot: Photometry) -> float | None:
    """The Lomb–Scargle period (days) of the band with the most detections; None when too few."""
    bands = [b for b in _bands(phot) if phot.detections_in(b) >= MIN_DETECTIONS_FOR_PERIOD]
    if not bands:
        return None
    band = max(bands, key=phot.detections_in)
    sel = (phot.band == band) & (phot.kind == "detection")
    t, m = phot.mjd[sel], phot.magnitude[sel]
    baseline = float(t.max() - t.min())
    if baseline <= 2 * MIN_PERIOD_DAYS:
        return None
    err = phot.error[sel]
    dy = np.where(np.isfinite(err) & (err > 0), err, np.nanmedian(err[err > 0]) if (err > 0).any() else 0.1)
    frequency, power = LombScargle(t, m, dy).autopower(minimum_frequency=2.0 / baseline,
                                                        maximum_frequency=1.0 / MIN_PERIOD_DAYS,
                                                        samples_per_peak=10)
    return float(1.0 / frequency[np.argmax(power)])


# A fold shows a period only when the detections cover at least this many of its cycles.
MIN_FOLD_CYCLES = 2


def why_not_folded(period: float, periodic_class: str, baseline_days: float) -> str:
    """Why the light curve is not worth folding on ``period`` ("" when it is): a period outside
    the range of the class the tab shows (``PERIOD_RANGE_DAYS``: a 0.6 d "period" of a Mira is an
    alias, not its pulsation), or detections covering fewer than two of its cycles."""
    reasons = []
    low, high = PERIOD_RANGE_DAYS.get(periodic_class, (0.0, math.inf))
    if not low <= period <= high:
        bounds = f"{_days(low)} d or more" if high == math.inf else f"{_days(low)} to {_days(high)} d"
        reasons.append(f"P = {_days(period)} d is too {'short' if period < low else 'long'} for "
                       f"{_a(periodic_class)} {periodic_class}, whose periods are {bounds} (GCVS)")
    if baseline_days < MIN_FOLD_CYCLES * period:
        reasons.append(f"the history of {_days(baseline_days)} d covers fewer than {MIN_FOLD_CYCLES} cycles "
                       f"of P = {_days(period)} d")
    return "; ".join(reasons)


def broker_period(features: list[dict]) -> float | None:
    """The broker's period (its ``PERIOD_FEATURE``) in days, None where it has none worth using."""
    for row in features:
        try:
            if row.get("name") == PERIOD_FEATURE and float(row["value"]) > 0:
                return float(row["value"])
        except (KeyError, TypeError, ValueError):
            continue
    return None


def _days(days: float) -> str:
    return f"{days:.3g}" if days < 100 else f"{days:.0f}"


def _a(acronym: str) -> str:
    """The article of an acronym read letter by letter: "an LPV", "an RRL", "a CEP"."""
    return "an" if acronym[:1] in "AEFHILMNORSX" else "a"


def folded_figure(phot: Photometry, period: float, title: str = "") -> go.Figure:
    """Detections folded on ``period``, two cycles, one colour per band; apparent magnitudes
    when every detection has one, else difference magnitudes."""
    detections = phot.kind == "detection"
    apparent = phot.has_apparent and bool(np.isfinite(phot.apparent[detections]).all())
    mag, err = (phot.apparent, phot.apparent_error) if apparent else (phot.magnitude, phot.error)
    t0 = float(phot.mjd[detections].min()) if detections.any() else 0.0
    fig = go.Figure()
    for band in _bands(phot):
        sel = detections & (phot.band == band)
        if not sel.any():
            continue
        phase = ((phot.mjd[sel] - t0) / period) % 1.0
        fig.add_trace(go.Scatter(
            x=np.concatenate([phase, phase + 1]), y=np.concatenate([mag[sel], mag[sel]]),
            error_y=dict(type="data", array=np.concatenate([err[sel], err[sel]]), visible=True),
            mode="markers", marker=dict(size=7, color=band_color(band)), name=band,
            hovertemplate="phase %{x:.3f}<br>%{y:.2f} mag<extra>%{fullData.name}</extra>"))
    fig.update_layout(title=title or f"folded on P = {period:.5f} d", height=380,
                      margin=dict(l=10, r=10, t=50, b=40), legend=_outside_legend(),
                      xaxis=dict(title=f"phase (P = {period:.5f} d)", range=[0, 2]),
                      yaxis=dict(title=APPARENT_AXIS if apparent else DIFFERENCE_AXIS, autorange="reversed"))
    return fig
