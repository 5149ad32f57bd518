"""ALeRCE's LSST API: the official ``alerce`` client, ``survey="lsst"``, against ``serve``.

The store is replayed from the real Rubin alerts in ../shared/data/lsst_alerts and a simulated
Rubin night; the client is configured the way it documents, with ALERCE_CONFIG_PATH naming the
file ``serve`` writes.
"""
from __future__ import annotations

from contextlib import contextmanager
from pathlib import Path

import numpy as np
import pytest
from api_live import serve_app
from api_store_builder import replay_into_store

from classifier_service.api import create_app, write_alerce_client_config
from classifier_service.simulate.rubin import simulate_rubin_alerts
from classifier_service.surveys import parse_record
from classifier_service.surveys.avro import iter_records

pytestmark = pytest.mark.filterwarnings("ignore::DeprecationWarning")
ALERCE_BANDS = {"u", "g", "r", "i", "z", "y"}


def rubin_alert_files(shared_data: Path) -> list[Path]:
    return sorted((shared_data / "lsst_alerts").rglob("*.avro"))


@pytest.fixture(scope="module")
def rubin_alerts(shared_data):
    return [parse_record(r) for p in rubin_alert_files(shared_data)
            for r in iter_records(p.read_bytes())]


@pytest.fixture(scope="module")
def simulated_night(tmp_path_factory) -> list[Path]:
    """A small simulated Rubin night, one packet a file."""
    folder = tmp_path_factory.mktemp("rubin_night")
    files = []
    for n, packet in enumerate(simulate_rubin_alerts(40, seed=11)):
        files.append(folder / f"{n:03d}.avro")
        files[-1].write_bytes(packet)
    return files


@pytest.fixture(scope="module")
def simulated_oids(simulated_night) -> set[str]:
    return {parse_record(r).oid for p in simulated_night for r in iter_records(p.read_bytes())}


@pytest.fixture(scope="module")
def lsst_url(shared_data, simulated_night, tmp_path_factory):
    """The API over a store the Worker filled from the real Rubin alerts and a simulated night."""
    url = f"sqlite:///{tmp_path_factory.mktemp('lsst_store') / 'store.sqlite3'}"
    replay_into_store(url, rubin_alert_files(shared_data) + simulated_night)
    app = create_app(url)
    with contextmanager(serve_app)(app) as base_url:
        yield base_url
    app.state.engine.dispose()


@pytest.fixture(scope="module")
def alerce(lsst_url, tmp_path_factory):
    path = write_alerce_client_config(lsst_url, tmp_path_factory.mktemp("alerce") / "cfg.json")
    with pytest.MonkeyPatch.context() as env:
        env.setenv("ALERCE_CONFIG_PATH", str(path))
        from alerce.core import Alerce

        yield Alerce()


@pytest.fixture(scope="module")
def rubin_oid(rubin_alerts) -> str:
    """The object with the most detections."""
    return max(rubin_alerts, key=lambda a: len(a.prv_detections)).oid


def test_query_objects_lists_every_rubin_object_in_alerces_shape(alerce, rubin_alerts, simulated_oids):
    items = alerce.query_objects(survey="lsst", format="json", page_size=100, count=True)
    assert {str(item["oid"]) for item in items} == {a.oid for a in rubin_alerts} | simulated_oids
    numeric = [item for item in items if str(item["oid"]).isdigit()]
    assert numeric and all(isinstance(item["oid"], int) for item in numeric)
    assert {(item["sid"], item["tid"]) for item in items} == {(1, 1)}
    assert all(item["n_det"] >= 1 and item["n_non_det"] == 0 for item in items)
    assert {"class_name", "classifier_name", "probability", "ranking"} <= set(items[0])


def test_query_objects_filters_orders_and_pages(alerce):
    by_ndet = alerce.query_objects(survey="lsst", format="pandas", n_det=[300, 1000],
                                   order_by="n_det", order_mode="DESC", page_size=3)
    assert len(by_ndet) == 3 and by_ndet["n_det"].between(300, 1000).all()
    assert list(by_ndet["n_det"]) == sorted(by_ndet["n_det"], reverse=True)
    second = alerce.query_objects(survey="lsst", format="json", n_det=[300, 1000],
                                  order_by="n_det", order_mode="DESC", page_size=3, page=2)
    assert not {i["oid"] for i in second} & set(by_ndet["oid"])


def test_query_object_and_its_light_curve(alerce, rubin_oid):
    obj = alerce.query_object(survey="lsst", oid=rubin_oid)
    assert obj["oid"] == int(rubin_oid) and obj["sid"] == 1
    lightcurve = alerce.query_lightcurve(survey="lsst", oid=rubin_oid)
    assert set(lightcurve) == {"detections", "non_detections", "forced_photometry"}
    assert len(lightcurve["detections"]) == obj["n_det"]
    assert len(lightcurve["forced_photometry"]) == obj["n_forced"] > 0
    assert lightcurve["non_detections"] == []
    bands = {d["band_name"] for d in lightcurve["detections"] + lightcurve["forced_photometry"]}
    assert bands <= ALERCE_BANDS and len(bands) > 1


def test_detection_fluxes_are_the_alerts_in_njy(alerce, rubin_alerts, rubin_oid):
    detections = alerce.query_detections(survey="lsst", oid=rubin_oid, format="pandas")
    alert = next(a for a in rubin_alerts if a.oid == rubin_oid)
    sent = alert.candidate.extra  # the diaSource as Rubin sent it
    row = detections.set_index("measurement_id").loc[alert.candid]
    assert row["psfFlux"] == pytest.approx(sent["psfFlux"], rel=1e-6)
    assert row["psfFluxErr"] == pytest.approx(sent["psfFluxErr"], rel=1e-6)
    assert row["band_name"] == sent["band"] and row["visit"] == sent["visit"]
    assert list(detections["mjd"]) == sorted(detections["mjd"])


def test_forced_photometry_and_non_detections(alerce, rubin_oid):
    forced = alerce.query_forced_photometry(survey="lsst", oid=rubin_oid, format="pandas")
    assert {"measurement_id", "psfFlux", "psfFluxErr", "scienceFlux", "visit", "detector",
            "band_name"} <= set(forced.columns)
    assert np.isfinite(forced["psfFlux"]).all()
    assert alerce.query_non_detections(survey="lsst", oid=rubin_oid) == []


def test_query_probabilities_in_alerces_shape(alerce, rubin_oid):
    probabilities = alerce.query_probabilities(survey="lsst", oid=rubin_oid)
    assert probabilities, "the replay classified every object"
    assert {"oid", "class_name", "classifier_name", "probability", "ranking"} <= set(
        probabilities[0])
    for name in {p["classifier_name"] for p in probabilities}:
        ranked = [p for p in probabilities if p["classifier_name"] == name]
        assert [p["ranking"] for p in ranked] == list(range(1, len(ranked) + 1))
        assert sum(p["probability"] for p in ranked) == pytest.approx(1.0)


def test_get_stamps_of_the_first_detection_with_stamps(alerce, rubin_alerts, rubin_oid):
    stamps = alerce.get_stamps(rubin_oid, survey="lsst")  # finds the measurement_id itself
    assert list(stamps) == ["cutoutScience", "cutoutTemplate", "cutoutDifference"]
    assert all(hdu.data.ndim == 2 and np.isfinite(hdu.data).any() for hdu in stamps.values())


def test_unknown_objects_and_other_surveys_are_client_errors(alerce, lsst_url):
    import httpx
    from alerce.exceptions import ObjectNotFoundError

    with pytest.raises(ObjectNotFoundError):
        alerce.query_object(survey="lsst", oid="1234")
    response = httpx.get(f"{lsst_url}/lightcurve_api/detections",
                         params={"oid": "1234", "survey_id": "ztf"})
    assert response.status_code == 400
    assert httpx.get(f"{lsst_url}/ztf/v1/objects").json()["items"] == []  # Rubin is not ZTF


def test_a_simulated_rubin_object_answers_every_call_in_alerces_shape(alerce, simulated_oids):
    oid = sorted(o for o in simulated_oids if o.isdigit())[0]
    assert str(alerce.query_object(oid, survey="lsst", format="json")["oid"]) == oid
    detections = alerce.query_detections(oid, survey="lsst", format="json")
    assert detections and {d["band_name"] for d in detections} <= ALERCE_BANDS
    assert isinstance(alerce.query_forced_photometry(oid, survey="lsst", format="json"), list)
    probabilities = alerce.query_probabilities(survey="lsst", oid=oid)
    assert {"oid", "class_name", "classifier_name", "probability", "ranking"} <= set(probabilities[0])
