"""The shared words: bands, broker names, the classifications shape and its version rule."""
from __future__ import annotations

import pytest

from alerce_contract.bands import BAND_OF_FID, SURVEY_FIDS, band_name, fid_of_band
from alerce_contract.classifications import classifications_from_probabilities, newest_version
from alerce_contract.classified import ClassifiedDecodeError, decode_classified, encode_classified
from alerce_contract.names import broker_name, survey_of_oid
from alerce_contract.taxonomy import LC_CLASSES, LC_GROUP_CLASSIFIERS, LC_TAXONOMY


def test_ztf_keeps_alerce_fids_and_rubin_adds_u_z_y_after_them():
    assert [band_name(fid) for fid in SURVEY_FIDS["ZTF"]] == ["g", "r", "i"]
    assert [band_name(fid) for fid in SURVEY_FIDS["LSST"]] == ["u", "g", "r", "i", "z", "y"]
    assert set(BAND_OF_FID) == {1, 2, 3, 4, 5, 6}
    with pytest.raises(ValueError, match="unknown fid 9"):
        band_name(9)


@pytest.mark.parametrize("bandpass, fid", [("g", 1), ("ZTF g", 1), ("ztfr", 2), ("LSST-u", 4), ("y", 6),
                                           ("", None), ("V", None)])
def test_a_band_is_read_however_a_tom_spells_it(bandpass, fid):
    assert fid_of_band(bandpass) == fid


@pytest.mark.parametrize("name, survey", [("ZTF19abcdefg", "ZTF"), ("313853876524318749", "LSST"),
                                          ("ss21474836480", "LSST"), ("AT2019xyz", None), ("ZTF19ABCDEFG", None),
                                          ("0", None)])
def test_the_broker_knows_ztf_object_ids_and_rubin_object_ids(name, survey):
    assert survey_of_oid(name) == survey


def test_a_target_is_asked_for_by_its_broker_alias_else_by_its_own_name():
    assert broker_name(["SN 2019xyz", "ZTF19abcdefg"]) == "ZTF19abcdefg"
    assert broker_name(["SN 2019xyz", "313853876524318749"]) == "313853876524318749"
    assert broker_name(["my favourite"]) == "my favourite"


def test_versions_compare_as_versions_not_as_text():
    assert newest_version(["1.9.0", "1.10.0"]) == "1.10.0"
    assert newest_version(["1.0.rc1", "1.0"]) == "1.0"
    assert newest_version(["1.0", "1.0.1", "1.0rc2"]) == "1.0.1"


def test_probability_rows_become_one_version_of_each_classifier():
    rows = [{"classifier_name": "lc_classifier", "classifier_version": v, "class_name": c, "probability": p}
            for v, c, p in [("1.9.0", "SNIa", 0.9), ("1.10.0", "SNII", 0.6), ("1.10.0", "SNIa", 0.4)]]
    assert classifications_from_probabilities(rows) == {
        "lc_classifier": {"version": "1.10.0", "probabilities": {"SNII": 0.6, "SNIa": 0.4}}}


def test_the_hierarchy_covers_every_light_curve_class_once():
    assert sorted(c for classes in LC_TAXONOMY.values() for c in classes) == sorted(LC_CLASSES)
    assert set(LC_GROUP_CLASSIFIERS) == set(LC_TAXONOMY)


def test_a_classified_record_survives_the_wire_and_garbage_is_refused():
    record = {"objectId": "ZTF19abcdefg", "candid": 1, "survey": "ZTF", "ra": 1.0, "dec": 2.0, "mjd": 60000.0,
              "fid": 1, "magpsf": 18.0, "sigmapsf": 0.1, "ndet": 1, "firstmjd": 60000.0, "lastmjd": 60000.0,
              "classifications": {"stamp_classifier": {"version": "1.0", "probabilities": {"SN": 0.9}}},
              "detections": [], "non_detections": []}
    assert decode_classified(encode_classified(record))["classifications"] == record["classifications"]
    with pytest.raises(ClassifiedDecodeError):
        decode_classified(b"not avro")
