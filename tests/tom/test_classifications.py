"""record_classifications: the TOM's copy of the broker's classifications, idempotent, with history."""
from __future__ import annotations

import copy

import pytest
from tom_targets.models import Target

from tests.tom.seeding import CLASSIFICATIONS
from tom_alerce.classifications import parse_classifications, record_classifications
from tom_alerce.models import ClassificationHistory, TargetClassification

pytestmark = pytest.mark.django_db


@pytest.fixture
def target():
    return Target.objects.create(name="ZTF21aaaaaaa", type=Target.SIDEREAL, ra=10.0, dec=-5.0)


def test_first_classifications_are_stored_ranked_with_one_history_row_per_classifier(target):
    assert record_classifications(target, CLASSIFICATIONS, source="stream") is True
    stamp = TargetClassification.objects.filter(target=target, classifier_name="stamp_classifier")
    assert [(r.class_name, r.ranking) for r in stamp.order_by("ranking")][:2] == [("SN", 1), ("AGN", 2)]
    assert stamp.get(class_name="SN").probability == pytest.approx(0.81)
    assert ClassificationHistory.objects.filter(target=target).count() == len(CLASSIFICATIONS)


def test_the_same_alert_twice_changes_nothing(target):
    record_classifications(target, CLASSIFICATIONS, source="stream")
    before = list(TargetClassification.objects.values())
    assert record_classifications(target, copy.deepcopy(CLASSIFICATIONS), source="stream") is False
    assert list(TargetClassification.objects.values()) == before
    assert ClassificationHistory.objects.count() == len(CLASSIFICATIONS)


def test_new_probabilities_update_rows_rerank_and_append_history(target):
    record_classifications(target, CLASSIFICATIONS, source="stream")
    first_seen = TargetClassification.objects.get(target=target, class_name="SN").first_seen
    update = {"stamp_classifier": {"version": "1.0.0", "probabilities": {
        "SN": 0.1, "AGN": 0.6, "VS": 0.1, "asteroid": 0.1, "bogus": 0.1}}}
    assert record_classifications(target, update, source="api") is True
    sn = TargetClassification.objects.get(target=target, classifier_name="stamp_classifier", class_name="SN")
    agn = TargetClassification.objects.get(target=target, classifier_name="stamp_classifier", class_name="AGN")
    assert (agn.ranking, sn.probability, sn.source, sn.first_seen) == (1, 0.1, "api", first_seen)
    latest = ClassificationHistory.objects.filter(classifier_name="stamp_classifier").first()
    assert latest.top_class == ("AGN", 0.6) and latest.source == "api"


def test_a_new_classifier_version_is_kept_beside_the_old_one(target):
    record_classifications(target, CLASSIFICATIONS, source="stream")
    newer = {"stamp_classifier": {"version": "1.1.0", "probabilities": {"SN": 0.5, "bogus": 0.5}}}
    assert record_classifications(target, newer, source="stream") is True
    versions = set(TargetClassification.objects.filter(classifier_name="stamp_classifier")
                   .values_list("classifier_version", flat=True))
    assert versions == {"1.0.0", "1.1.0"}


def test_classes_missing_from_an_update_are_removed(target):
    record_classifications(target, {"c": {"version": "1", "probabilities": {"A": 0.5, "B": 0.5}}}, "s")
    record_classifications(target, {"c": {"version": "1", "probabilities": {"A": 1.0}}}, "s")
    assert list(TargetClassification.objects.values_list("class_name", flat=True)) == ["A"]


def test_malformed_entries_are_skipped_and_the_rest_is_stored(target, caplog):
    mixed = {"broken": {"probabilities": {"A": 1.0}}, "nan": {"version": "1", "probabilities": {"A": "nan"}},
             "ok": {"version": "1", "probabilities": {"A": 0.9, "B": 0.1}}}
    assert record_classifications(target, mixed, source="stream") is True
    assert set(TargetClassification.objects.values_list("classifier_name", flat=True)) == {"ok"}
    assert "broken" in caplog.text and "nan" in caplog.text


def test_a_non_mapping_is_a_clear_error(target):
    with pytest.raises(ValueError, match="mapping"):
        record_classifications(target, ["SN"], source="stream")


def test_parse_ranks_ties_by_name():
    (result,) = parse_classifications({"c": {"version": "1", "probabilities": {"B": 0.5, "A": 0.5}}})
    assert result.ranked() == [("A", 0.5, 1), ("B", 0.5, 2)]
