"""The ALeRCE tab's figures, as a person reads them: units on the axes, legends beside the data,
conditional probabilities labelled as such, values never clipped, a folded curve for a period."""
from __future__ import annotations

import numpy as np
import pytest

from tests.tom.seeding import CLASSIFICATIONS
from tom_alerce.plots import (
    APPARENT_AXIS,
    DIFFERENCE_AXIS,
    Photometry,
    best_period,
    classification_charts,
    folded_figure,
    lightcurve_figure,
)


def photometry(mjd, magnitude, band, kind, apparent=None) -> Photometry:
    n = len(mjd)
    apparent = np.full(n, np.nan) if apparent is None else np.asarray(apparent, dtype=float)
    return Photometry(np.asarray(mjd, dtype=float), np.asarray(magnitude, dtype=float), np.full(n, 0.1),
                      np.asarray(band, dtype=object), np.asarray(kind, dtype=object), apparent, np.full(n, 0.05))


def charts():
    grouped = {(name, e["version"]): e["probabilities"] for name, e in CLASSIFICATIONS.items()}
    return classification_charts(grouped)


def test_light_curve_hierarchy_is_one_chart_per_version_and_the_rest_one_each():
    assert [c.title for c in charts()] == ["stamp_classifier 1.0.0", "hierarchy 2.0.0", "lc_classifier 2.0.0"]
    hierarchy = charts()[1].figure
    assert [t.y[-1] for t in hierarchy.data] == ["Transient", "SNIa", "AGN", "LPV"]  # likeliest at top


def test_group_charts_say_they_are_conditional_and_fade_with_the_group():
    hierarchy = charts()[1].figure
    titles = [a.text for a in hierarchy.layout.annotations]
    assert "P(class | Transient)<br>P(Transient) = 0.70" in titles
    assert "P(class | Periodic)<br>P(Periodic) = 0.10" in titles
    transient, periodic = hierarchy.data[1], hierarchy.data[3]
    assert transient.opacity > periodic.opacity  # a 0.10 group's bars are drawn faint


def test_a_probability_of_one_keeps_its_label_inside_the_axis():
    stamp = charts()[0].figure
    assert stamp.layout.xaxis.range[1] > 1.1  # room right of a full bar for "1.00"
    assert list(stamp.data[0].text)[-1] == "0.81"


def test_light_curve_axes_carry_units_and_the_legend_sits_outside_the_data():
    phot = photometry([0, 1, 2, 3, 4], [18, 18.5, 20, 19, 19.2], ["g", "g", "r", "r", "r"],
                      ["detection", "detection", "limit", "forced", "detection"])
    fig = lightcurve_figure(phot)
    assert [t.name for t in fig.data] == ["g detection", "r detection", "r forced phot.", "r upper limit"]
    faint, bright = fig.layout.yaxis.range
    assert faint > 20 and bright < 18  # faint at the bottom, every point inside
    assert fig.layout.yaxis.title.text == DIFFERENCE_AXIS == "difference magnitude (AB)"
    assert fig.layout.xaxis.title.text == "MJD (days)"
    assert fig.layout.legend.x > 1  # right of the plotting area
    assert not fig.layout.updatemenus  # no apparent magnitudes, no switch


def test_apparent_magnitudes_come_with_a_switch_that_relabels_the_axis():
    phot = photometry([0, 1, 2], [19, 19.2, 20.5], ["g", "g", "g"], ["detection", "detection", "limit"],
                      apparent=[17.1, 17.2, np.nan])
    fig = lightcurve_figure(phot)
    assert [t.name for t in fig.data] == ["g detection", "g upper limit", "g apparent"]
    assert [t.visible for t in fig.data] == [None, None, False]
    difference, apparent = fig.layout.updatemenus[0].buttons
    assert list(apparent.args) == [{"visible": [False, False, True]},
                                   {"yaxis.title.text": APPARENT_AXIS, "yaxis.autorange": "reversed"}]
    assert difference.args[0]["visible"] == [True, True, False]
    assert difference.args[1]["yaxis.title.text"] == DIFFERENCE_AXIS


def test_noise_dominated_forced_photometry_does_not_squash_the_light_curve():
    phot = photometry([0, 1, 2, 3], [18.7, 18.9, 30.2, 19.4], ["g"] * 4, ["detection", "detection", "forced", "limit"])
    phot.error[2] = 8.0  # a forced epoch with no real flux
    faint, bright = lightcurve_figure(phot).layout.yaxis.range
    assert (bright, faint) == pytest.approx((18.4, 19.7))


def test_a_periodic_star_gets_its_period_back_and_a_two_cycle_folded_curve():
    rng = np.random.default_rng(1)
    period = 0.61
    mjd = np.sort(rng.uniform(60000, 60090, 80))
    mag = 17 + 0.4 * np.sin(2 * np.pi * mjd / period) + rng.normal(0, 0.02, mjd.size)
    phot = photometry(mjd, mag, ["g", "r"] * 40, ["detection"] * 80, apparent=mag)
    found = best_period(phot)
    assert abs(found - period) / period < 0.01
    fig = folded_figure(phot, found)
    assert [t.name for t in fig.data] == ["g", "r"]
    assert len(fig.data[0].x) == 2 * 40 and max(fig.data[0].x) < 2
    assert fig.layout.yaxis.title.text == APPARENT_AXIS  # every detection has an apparent magnitude
    assert fig.layout.xaxis.title.text == f"phase (P = {found:.5f} d)"


def test_too_few_detections_give_no_period():
    phot = photometry([0, 1, 2], [18, 18.1, 18.2], ["g"] * 3, ["detection"] * 3)
    assert best_period(phot) is None
