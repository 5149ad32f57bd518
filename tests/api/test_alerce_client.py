"""Acceptance 1: the official ``alerce`` client, pointed at ``serve`` by ALERCE_CONFIG_PATH."""
from __future__ import annotations

import numpy as np
import pytest

from classifier_service.api import write_alerce_client_config

pytestmark = pytest.mark.filterwarnings("ignore::DeprecationWarning")


@pytest.fixture(scope="module")
def alerce(live_url, tmp_path_factory):
    """An ``Alerce()`` built after ALERCE_CONFIG_PATH names a config pointing at the live API."""
    path = write_alerce_client_config(live_url, tmp_path_factory.mktemp("alerce") / "config.json")
    with pytest.MonkeyPatch.context() as env:
        env.setenv("ALERCE_CONFIG_PATH", str(path))
        from alerce.core import Alerce
        from alerce.ztf_search import ZTFSearch

        client = Alerce()
        # alerce.stamps builds its own search client once, when first imported; give this
        # instance one that read the config above, as a fresh notebook kernel would have.
        client.legacy_stamps_client.search_client = ZTFSearch()
        yield client


def test_query_objects_filters_and_pages_like_alerce(alerce):
    first = alerce.query_objects(survey="ztf", format="json", classifier="lc_classifier",
                                 page_size=5, page=1, count=True, order_by="oid")
    second = alerce.query_objects(survey="ztf", format="json", classifier="lc_classifier",
                                  page_size=5, page=2, order_by="oid")
    assert first["total"] == 34 and first["has_next"] and second["prev"] == 1
    first_oids = [item["oid"] for item in first["items"]]
    second_oids = [item["oid"] for item in second["items"]]
    assert len(first_oids) == len(second_oids) == 5
    assert first_oids + second_oids == sorted(first_oids + second_oids)
    assert all(item["classifier"] == "lc_classifier" for item in first["items"])


def test_query_objects_as_pandas_with_class_probability_and_ranges(alerce):
    frame = alerce.query_objects(survey="ztf", format="pandas", classifier="stamp_classifier",
                                 class_name="SN", probability=0.1, ndet=[1, 100],
                                 firstmjd=[58000, 61000], page_size=100)
    assert len(frame) > 0
    assert set(frame["class"]) == {"SN"}
    assert (frame["probability"] >= 0.1).all()
    assert frame["ndet"].between(1, 100).all()


def test_query_objects_cone_search_finds_the_object_at_its_position(alerce):
    target = alerce.query_object("ZTF17aaacxxf", survey="ztf")
    found = alerce.query_objects(survey="ztf", format="pandas", ra=target["meanra"],
                                 dec=target["meandec"], radius=5)
    assert list(found["oid"]) == ["ZTF17aaacxxf"]


def test_query_object_lightcurve_and_detections(alerce):
    obj = alerce.query_object("ZTF18abxhyqv", survey="ztf")
    lightcurve = alerce.query_lightcurve("ZTF18abxhyqv", survey="ztf")
    detections = alerce.query_detections("ZTF18abxhyqv", survey="ztf", format="pandas")
    non_detections = alerce.query_non_detections("ZTF18abxhyqv", survey="ztf", format="pandas")
    assert obj["ndet"] == len(lightcurve["detections"]) == len(detections)
    assert 3 in set(detections["fid"])  # this object has an i-band alert
    assert len(non_detections) == len(lightcurve["non_detections"]) > 0
    mjd = [d["mjd"] for d in lightcurve["detections"]]
    assert mjd == sorted(mjd)


def test_query_probabilities_magstats_and_features(alerce):
    probabilities = alerce.query_probabilities("ZTF17aaacxxf", survey="ztf", format="pandas")
    stamp = probabilities[probabilities.classifier_name == "stamp_classifier"]
    assert sorted(stamp["ranking"]) == [1, 2, 3, 4, 5]
    assert stamp["probability"].sum() == pytest.approx(1.0)
    magstats = alerce.query_magstats("ZTF17aaacxxf", survey="ztf")
    assert {m["fid"] for m in magstats} == {1, 2}
    features = alerce.query_features("ZTF17aaacxxf", survey="ztf", format="pandas")
    assert "Amplitude" in set(features["name"])


def test_query_forced_photometry_expands_extra_fields(alerce):
    epochs = alerce.query_forced_photometry("ZTF20acunklg", survey="ztf")
    assert len(epochs) > 0 and "magzpsci" in epochs[0] and "field" in epochs[0]


def test_query_forced_photometry_as_a_table_one_row_per_epoch(alerce):
    """The client's pandas format drops ALeRCE's aid and sid columns by name, then joins the
    expanded extra fields back on the columns they share."""
    epochs = alerce.query_forced_photometry("ZTF20acunklg", survey="ztf")
    table = alerce.query_forced_photometry("ZTF20acunklg", survey="ztf", format="pandas")
    assert len(table) == len(epochs) > 0
    assert {"mjd", "fid", "mag", "e_mag", "field", "magzpsci"} <= set(table.columns)
    assert sorted(table["pid"]) == sorted(epoch["pid"] for epoch in epochs)


def test_query_classifiers_and_classes(alerce):
    classifiers = alerce.query_classifiers(survey="ztf")
    names = {c["classifier_name"]: c for c in classifiers}
    assert {"stamp_classifier", "lc_classifier"} <= set(names)
    version = names["stamp_classifier"]["classifier_version"]
    classes = alerce.query_classes("stamp_classifier", version, survey="ztf")
    assert [c["name"] for c in classes] == ["AGN", "SN", "VS", "asteroid", "bogus"]


def test_get_stamps_returns_the_three_fits_cutouts(alerce, real_alerts):
    alert = next(a for a in real_alerts if a.oid == "ZTF18abfaepq")
    hdus = alerce.get_stamps("ZTF18abfaepq", survey="ztf")  # candid found via detections
    assert [h.header["STAMP_TYPE"] for h in hdus] == ["science", "template", "difference"]
    arrays = alerce.get_stamps("ZTF18abfaepq", candid=alert.candid, survey="ztf", format="numpy")
    assert all(a.ndim == 2 and np.isfinite(a).any() for a in arrays)


def test_unknown_object_raises_the_clients_not_found_error(alerce):
    from alerce.exceptions import ObjectNotFoundError

    with pytest.raises(ObjectNotFoundError):
        alerce.query_object("ZTF00aaaaaaa", survey="ztf")


def test_bad_parameters_raise_the_clients_parse_error(alerce):
    from alerce.exceptions import ParseError

    with pytest.raises(ParseError, match="unknown classifier"):
        alerce.query_objects(survey="ztf", classifier="no_such_classifier")
