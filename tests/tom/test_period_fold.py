"""When the ALeRCE tab folds a periodic star's light curve: only on a period its class can have
(GCVS's ranges, declared once in alerce_contract.taxonomy) and that its detections cover at
least twice; otherwise the plain light curve and one line saying why."""
from __future__ import annotations

import re

import numpy as np
import pytest
from django.urls import reverse
from tom_dataproducts.models import PhotometryReducedDatum
from tom_targets.models import Target

from alerce_contract.mjd import mjd_to_datetime, now_mjd
from alerce_contract.taxonomy import PERIOD_RANGE_DAYS, PERIODIC
from tom_alerce.classifications import record_classifications
from tom_alerce.plots import why_not_folded
from tom_alerce.templatetags.alerce_extras import periodic_class

STAMP = {("stamp_classifier", "1.0.0"): {"VS": 0.9, "SN": 0.1}}


def test_a_period_its_class_cannot_have_is_not_folded():
    assert why_not_folded(0.575, "LPV", 28.0) == (
        "P = 0.575 d is too short for an LPV, whose periods are 20 d or more (GCVS)")
    assert why_not_folded(3.2, "RRL", 60.0) == (
        "P = 3.2 d is too long for an RRL, whose periods are 0.2 to 1.2 d (GCVS)")
    assert why_not_folded(0.3, "CEP", 60.0).startswith("P = 0.3 d is too short for a CEP")


def test_a_history_shorter_than_two_cycles_is_not_folded():
    assert why_not_folded(40.0, "LPV", 28.0) == "the history of 28 d covers fewer than 2 cycles of P = 40 d"
    assert why_not_folded(20.0, "Periodic-Other", 39.9) != ""  # a class without a range still needs two cycles
    assert why_not_folded(312.0, "LPV", 1200.0) == ""


def test_a_plausible_period_covered_twice_is_folded():
    assert why_not_folded(0.55, "RRL", 28.0) == ""
    assert why_not_folded(0.06, "DSCT", 2.0) == ""
    assert why_not_folded(5.4, "CEP", 28.0) == ""
    assert why_not_folded(0.15, "E", 28.0) == ""  # half the orbit of a contact binary, as a periodogram finds it


def test_every_range_belongs_to_a_periodic_class_and_is_a_range():
    assert set(PERIOD_RANGE_DAYS) <= set(PERIODIC)
    assert all(0 < low < high for low, high in PERIOD_RANGE_DAYS.values())


def test_the_class_shown_is_the_hierarchys_periodic_class_else_the_light_curve_classifiers():
    hierarchy = {("lc_classifier_top", "2"): {"Periodic": 0.9, "Transient": 0.1},
                 ("lc_classifier_periodic", "2"): {"LPV": 0.86, "E": 0.14}}
    assert periodic_class({**STAMP, **hierarchy, ("lc_classifier", "2"): {"E": 0.5, "LPV": 0.4}}) == "LPV"
    assert periodic_class({("lc_classifier_top", "2"): {"Periodic": 0.8, "Transient": 0.2}}) == "Periodic"
    assert periodic_class({("lc_classifier", "2"): {"RRL": 0.6, "SNIa": 0.4}}) == "RRL"
    assert periodic_class({("lc_classifier_top", "2"): {"Transient": 0.8, "Periodic": 0.2}, **STAMP}) is None


def test_a_rubin_periodic_star_gets_its_period_section_too():
    assert periodic_class({("lc_classifier_lsst_top", "1"): {"Periodic": 0.9, "Transient": 0.1},
                           ("lc_classifier_lsst", "1"): {"RRL": 0.7, "E": 0.2}}) == "RRL"
    assert periodic_class({("lc_classifier_lsst_top", "1"): {"Periodic": 0.5, "Stochastic": 0.4},
                           ("lc_classifier_lsst", "1"): {"YSO": 0.4, "E": 0.3}}) == "Periodic"
    assert periodic_class({("lc_classifier_lsst_top", "1"): {"Transient": 0.9, "Periodic": 0.1}}) is None


RRL_PERIOD = 0.55


def periodic_target(name: str, periodic: dict[str, float]) -> Target:
    """A target with 28 days of a 0.55-day pulsation in g and r (44 detections), classified by the
    light-curve hierarchy as Periodic with the given classes, the way the broker plugin records it."""
    target = Target.objects.create(name=name, type=Target.SIDEREAL, ra=150.0, dec=2.0, epoch=2000.0)
    rng = np.random.default_rng(7)
    mjd = np.sort(now_mjd() - 28.0 + rng.uniform(0, 28.0, 44))
    # The phase counts from the first detection, so every run has the same light curve (and finds
    # the same period) whatever the hour: from MJD 0 the 28 days fell on other phases each run, and
    # the period found moved about 0.55 d enough to print 0.551 some hours.
    mag = 17.5 + 0.4 * np.sin(2 * np.pi * (mjd - mjd[0]) / RRL_PERIOD) + rng.normal(0, 0.02, mjd.size)
    PhotometryReducedDatum.objects.bulk_create([
        PhotometryReducedDatum(target=target, timestamp=mjd_to_datetime(t), brightness=m, brightness_error=0.03,
                               bandpass=band, unit="mag", source_name="ALeRCEBroker")
        for t, m, band in zip(mjd, mag, ["g", "r"] * 22)])
    record_classifications(target, {
        "lc_classifier_top": {"version": "2.0.0", "probabilities": {"Periodic": 0.9, "Stochastic": 0.1}},
        "lc_classifier_periodic": {"version": "2.0.0", "probabilities": periodic},
    }, source="test seed")
    return target


@pytest.mark.django_db
@pytest.mark.parametrize("periodic, folded, says", [
    ({"RRL": 0.8, "E": 0.2}, True, None),
    ({"LPV": 0.86, "RRL": 0.14}, False, "too short for an LPV, whose periods are 20 d or more (GCVS)"),
])
def test_the_tab_folds_a_plausible_period_and_says_why_it_does_not_fold_another(
        client, user, our_api, periodic, folded, says):
    """The broker (our API) has no period for these targets, so the tab finds one in the TOM's
    photometry: 0.55 d, an RR Lyrae's period, but not an LPV's."""
    target = periodic_target(f"ZTF26period{next(iter(periodic))}", periodic)
    client.force_login(user)
    html = client.get(reverse("targets:detail", kwargs={"pk": target.pk})).content.decode()
    assert re.search(r'class="alerce-period">P = <strong>0\.5[45]\d* d</strong>', html)  # shown either way
    assert ('class="alerce-folded"' in html) is folded
    assert ('class="text-muted small alerce-not-folded"' in html) is not folded
    if says:
        assert f"Not folded: P = 0.55 d is {says}." in html
