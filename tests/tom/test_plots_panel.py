"""What the ALeRCE tab says beside its figures: magnitude statistics, where a period comes from,
why there is no light-curve class, and numbers at a sensible precision."""
from __future__ import annotations

import numpy as np

from tests.tom.test_plots import photometry
from tom_alerce.templatetags.alerce_extras import (
    display_value,
    extra_label,
    magstats_table,
    no_lc_class_reason,
    period_of,
)

STAMP = {("stamp_classifier", "1.0.0"): {"SN": 0.9, "AGN": 0.1}}


def test_magstats_become_one_column_per_band_with_magnitudes_to_a_hundredth_and_mjd_to_1e4():
    rows = [{"fid": 2, "ndet": 7, "magmean": 18.123456, "magfirst": 18.5, "firstmjd": 61000.123456,
             "magsigma": None},
            {"fid": 1, "ndet": 3, "magmean": 19.0}]
    table = magstats_table(rows)
    assert table["bands"] == ["g", "r"]
    r = {row["statistic"]: row["cells"][1] for row in table["rows"]}
    assert (r["detections"], r["mean"], r["first"], r["first MJD"], r["σ"]) == ("7", "18.12", "18.50", "61000.1235", "–")
    assert "mean apparent" not in r  # no corrected magnitudes, no empty rows
    assert "mean apparent" in [row["statistic"] for row in
                               magstats_table([{"fid": 1, "ndet": 2, "magmean_corr": 17.2}])["rows"]]


def test_the_brokers_period_wins_and_a_periodogram_fills_in_without_one():
    rng = np.random.default_rng(3)
    mjd = np.sort(rng.uniform(0, 60, 60))
    phot = photometry(mjd, 17 + 0.3 * np.sin(2 * np.pi * mjd / 0.37), ["g"] * 60, ["detection"] * 60)
    assert period_of([{"name": "Multiband_period", "value": 2.5, "fid": 0}], phot) == (
        2.5, "the broker's Multiband_period feature")
    period, source = period_of([{"name": "Multiband_period", "value": None}], phot)
    assert abs(period - 0.37) < 0.004 and "Lomb–Scargle" in source


def test_a_stamp_only_object_says_why_it_has_no_light_curve_class():
    few = photometry([0, 1, 2, 3], [19] * 4, ["g", "g", "r", "i"], ["detection"] * 4)
    assert "needs at least 6 detections in g or in r, and this object has 2 in g and 1 in r" in (
        no_lc_class_reason(STAMP, few, "ZTF"))
    many = photometry(range(6), [19] * 6, ["r"] * 6, ["detection"] * 6)
    assert "has not classified its light curve" in no_lc_class_reason(STAMP, many, "ZTF")
    assert no_lc_class_reason({**STAMP, ("lc_classifier", "2"): {"SNIa": 1.0}}, few, "ZTF") == ""


def test_a_rubin_object_is_held_to_rubins_rule_and_its_own_classifiers_answer_counts():
    five = photometry(range(5), [21] * 5, ["g", "r", "i", "z", "y"], ["detection"] * 5)
    assert "Rubin's light-curve classifier needs at least 6 detections in its bands together, " \
           "and this object has 5" in no_lc_class_reason(STAMP, five, "LSST")
    ten = photometry(range(10), [21] * 10, ["g", "r", "i", "z", "y"] * 2, ["detection"] * 10)
    assert "has not classified its light curve" in no_lc_class_reason(STAMP, ten, "LSST")
    lsst_answered = {("lc_classifier_lsst", "1.0.0"): {"SNII": 0.45}, ("lc_classifier_lsst_top", "1.0.0"): {}}
    assert no_lc_class_reason(lsst_answered, five, "LSST") == ""
    assert no_lc_class_reason(lsst_answered, five, "ZTF") == ""  # an answer is never contradicted


def test_target_extras_read_as_words_with_probabilities_to_two_decimals_and_mjds_to_four():
    assert display_value("0.9993", "stamp_classifier_probability") == "1.00"
    assert display_value("61121.149444", "lastmjd") == "61121.1494"
    assert display_value("SN", "stamp_classifier_class") == "SN"
    assert extra_label("stamp_classifier_probability") == "stamp classifier probability"  # wraps between words
