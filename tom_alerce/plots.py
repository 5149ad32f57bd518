"""Plotly figures of the ALeRCE tab: classification bars and the multi-band light curve.

Pure functions from probabilities or arrays to figures, so they can be tested without Django.
"""
from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

import numpy as np
import plotly.graph_objects as go
from plotly.subplots import make_subplots

from alerce_contract.bands import band_color
from alerce_contract.taxonomy import HIERARCHY_PARTS, LC_GROUP_CLASSIFIERS, LC_TOP, STAMP_CLASSIFIER

PLOT_CONFIG = {"responsive": True, "displaylogo": False}


def figure_html(fig: go.Figure) -> str:
    """A <div> with the figure; plotly.js is loaded once by the page, not embedded per plot."""
    return fig.to_html(full_html=False, include_plotlyjs=False, config=PLOT_CONFIG)


def _bars(probabilities: Mapping[str, float], color: str = "#1f77b4") -> go.Bar:
    names = list(probabilities)[::-1]  # most probable on top of a horizontal bar chart
    values = [probabilities[n] for n in names]
    return go.Bar(x=values, y=names, orientation="h", marker_color=color, cliponaxis=False,
                  text=[f"{v:.2f}" for v in values], textposition="outside", showlegend=False)


def _layout(fig: go.Figure, title: str, n_rows: int) -> go.Figure:
    fig.update_layout(title=title, height=120 + 28 * n_rows, margin=dict(l=10, r=10, t=60, b=30),
                      bargap=0.2)
    fig.update_xaxes(range=[0, 1])
    return fig


def bar_chart(title: str, probabilities: Mapping[str, float]) -> go.Figure:
    """One classifier's probabilities, most probable first."""
    return _layout(go.Figure(_bars(probabilities)), title, len(probabilities))


def hierarchy_chart(title: str, groups: Mapping[str, float],
                    classes_by_group: Mapping[str, Mapping[str, float]]) -> go.Figure:
    """The top level (groups) then, side by side, each group's classes; the likeliest group first."""
    ordered = [g for g in groups if g in classes_by_group] + [g for g in classes_by_group if g not in groups]
    fig = make_subplots(rows=1, cols=1 + len(ordered), horizontal_spacing=0.08,
                        subplot_titles=["group", *[f"{g} ({groups.get(g, float('nan')):.2f})" for g in ordered]])
    fig.add_trace(_bars(groups, "#636efa"), row=1, col=1)
    for col, group in enumerate(ordered, start=2):
        fig.add_trace(_bars(classes_by_group[group], "#00a08a"), row=1, col=col)
    n_rows = max([len(groups), *[len(c) for c in classes_by_group.values()]])
    return _layout(fig, title, n_rows)


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
    """A target's photometry as arrays; kind is 'detection', 'limit' or 'forced'."""

    mjd: np.ndarray
    magnitude: np.ndarray
    error: np.ndarray
    band: np.ndarray
    kind: np.ndarray


TRACE_STYLE = {
    "detection": dict(mode="markers", marker=dict(size=8, symbol="circle")),
    "forced": dict(mode="markers", marker=dict(size=6, symbol="circle-open")),
    "limit": dict(mode="markers", marker=dict(size=8, symbol="triangle-down-open"), opacity=0.6),
}


def lightcurve_figure(phot: Photometry, title: str = "") -> go.Figure:
    """Detections with error bars, non-detection limits as open triangles and forced photometry per band."""
    fig = go.Figure()
    for band in sorted(set(phot.band.tolist()), key=lambda b: "gri".find(b) % 10):
        color = band_color(band)
        for kind, style in TRACE_STYLE.items():
            sel = (phot.band == band) & (phot.kind == kind)
            if not sel.any():
                continue
            error = None if kind == "limit" else dict(type="data", array=phot.error[sel], visible=True)
            fig.add_trace(go.Scatter(x=phot.mjd[sel], y=phot.magnitude[sel], error_y=error,
                                     name=f"{band} {kind}", marker_color=color, **style))
    fig.update_layout(title=title, height=420, margin=dict(l=10, r=10, t=50, b=40), showlegend=True,
                      xaxis=dict(title="MJD", tickformat=".5~f"),  # 61365.25, not 61.365k
                      yaxis_title="magnitude", legend=dict(orientation="h", y=1.02, x=0))
    fig.update_yaxes(autorange="reversed")
    return fig
