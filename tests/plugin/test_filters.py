"""Listener filters: which classified alerts a TOM keeps (pure functions, no database)."""
from __future__ import annotations

import pytest

from alerce_broker_plugin.filters import DEFAULT_FILTERS, AlertFilter, angular_separation_deg

MESSAGE = {
    "objectId": "ZTF19aanyzri", "ra": 90.35, "dec": -14.42, "magpsf": 17.4, "ndet": 3,
    "classifications": {"stamp_classifier": {"version": "1.0.0", "probabilities": {
        "SN": 0.62, "AGN": 0.2, "VS": 0.1, "asteroid": 0.05, "bogus": 0.03}}},
}


def passes(**config) -> bool:
    return AlertFilter.from_config({"name": "f", **config}).matches(MESSAGE)


def test_a_filter_with_only_a_name_passes_everything():
    assert passes()


@pytest.mark.parametrize("config, expected", [
    ({"classifier": "stamp_classifier", "class_name": "SN", "min_probability": 0.6}, True),
    ({"classifier": "stamp_classifier", "class_name": "SN", "min_probability": 0.7}, False),
    ({"classifier": "stamp_classifier", "class_name": "AGN"}, False),            # not the top class
    ({"classifier": "stamp_classifier", "class_name": "AGN", "max_ranking": 2}, True),
    ({"classifier": "lc_classifier"}, False),                                   # did not classify it
    ({"classifier": "stamp_classifier"}, True),
])
def test_class_filters_need_the_class_at_its_probability_and_ranking(config, expected):
    assert passes(**config) is expected


@pytest.mark.parametrize("config, expected", [
    ({"max_magpsf": 18.0}, True), ({"max_magpsf": 17.0}, False), ({"min_magpsf": 17.5}, False),
    ({"min_ndet": 3}, True), ({"min_ndet": 4}, False), ({"max_ndet": 2}, False),
])
def test_magnitude_and_detection_bounds_are_inclusive(config, expected):
    assert passes(**config) is expected


def test_sky_region_is_a_cone_around_a_position():
    assert passes(cone={"ra": 90.0, "dec": -14.0, "radius_deg": 1.0})
    assert not passes(cone={"ra": 270.0, "dec": 14.0, "radius_deg": 10.0})


def test_separation_across_ra_zero_is_small():
    assert angular_separation_deg(359.9, 0.0, 0.1, 0.0) == pytest.approx(0.2)


@pytest.mark.parametrize("config", [
    {"classifier": "x", "typo_key": 1},
    {"class_name": "SN"},   # a class without its classifier
])
def test_misconfigured_filters_are_rejected_with_the_reason(config):
    with pytest.raises(ValueError):
        AlertFilter.from_config({"name": "bad", **config})


def test_each_filter_has_its_own_target_list():
    assert AlertFilter(name="bright SNe").target_list_name == "ALeRCE: bright SNe"


def top_class(name: str, classifier: str = "stamp_classifier") -> dict:
    """MESSAGE with ``classifier``'s top class set to ``name``."""
    probabilities = {c: (0.9 if c == name else 0.025) for c in ("SN", "AGN", "VS", "asteroid", "bogus")}
    return {**MESSAGE, "classifications": {classifier: {"version": "1.0.0", "probabilities": probabilities}}}


def default_filter() -> AlertFilter:
    (config,) = DEFAULT_FILTERS
    return AlertFilter.from_config(dict(config))


@pytest.mark.parametrize("classifier", ["stamp_classifier", "stamp_classifier_lsst"])
@pytest.mark.parametrize("stamp_class, kept", [("SN", True), ("AGN", True), ("VS", True),
                                               ("bogus", False), ("asteroid", False)])
def test_by_default_bogus_detections_and_asteroids_of_either_survey_are_left_out(classifier, stamp_class, kept):
    assert default_filter().matches(top_class(stamp_class, classifier)) is kept


def test_by_default_an_alert_no_stamp_classifier_saw_is_kept_unless_it_is_in_the_solar_system():
    rubin = {**MESSAGE, "objectId": "313853876524318749", "classifications": {}}
    assert default_filter().matches(rubin)
    assert not default_filter().matches({**rubin, "objectId": "ss21474836480"})


def test_exclude_looks_only_at_the_top_class():
    keep_sn = AlertFilter.from_config({"name": "f", "exclude": {"stamp_classifier": ["AGN"]}})
    assert keep_sn.matches(MESSAGE)  # AGN is second, SN on top
    assert not AlertFilter.from_config({"name": "f", "exclude": {"stamp_classifier": ["SN"]}}).matches(MESSAGE)
    with pytest.raises(ValueError, match="exclude maps a classifier"):
        AlertFilter.from_config({"name": "f", "exclude": ["bogus"]})
