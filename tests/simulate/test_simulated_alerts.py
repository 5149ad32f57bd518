"""Simulated alert packets are valid ZTF 4.02 alerts that the pipeline reads like real ones."""
from __future__ import annotations

import json
import re
from collections import defaultdict

import fastavro
import numpy as np
import pytest

from classifier_service.simulate import simulate_alert_packets, simulate_labelled_alerts
from classifier_service.surveys import parse_record
from classifier_service.surveys.avro import iter_records

N_ALERTS = 120


@pytest.fixture(scope="module")
def packets() -> list[bytes]:
    return list(simulate_alert_packets(N_ALERTS, seed=42))


@pytest.fixture(scope="module")
def records(packets) -> list[dict]:
    out = []
    for packet in packets:
        decoded = list(iter_records(packet))
        assert len(decoded) == 1, "one alert per container, as ZTF sends them"
        out.extend(decoded)
    return out


@pytest.fixture(scope="module")
def official_schema(shared_data):
    folder = shared_data / "schemas" / "ztf" / "v4.02"
    named: dict = {}
    for name in ("cutout", "candidate", "prv_candidate", "fp_hist", "alert"):
        schema = fastavro.parse_schema(json.loads((folder / f"{name}.avsc").read_text()), named_schemas=named)
    return schema


def test_exactly_the_requested_number_of_alerts(packets):
    assert len(packets) == N_ALERTS
    assert list(simulate_alert_packets(0)) == []


def test_every_packet_validates_against_the_official_ztf_402_schema(records, official_schema):
    for record in records:
        assert fastavro.validation.validate(record, official_schema, raise_errors=True)
        assert record["schemavsn"] == "4.02"


def test_the_official_schema_reads_the_packets(packets, official_schema):
    import io

    for packet in packets[:10]:
        [record] = list(fastavro.reader(io.BytesIO(packet), reader_schema=official_schema))
        assert record["candidate"]["candid"] == record["candid"]


def test_the_pipelines_parser_reads_every_alert_with_cutouts_history_and_forced_photometry(records):
    alerts = [parse_record(record) for record in records]
    assert all(alert.cutouts.present() for alert in alerts)
    assert all(alert.schema_version == "4.02" for alert in alerts)
    assert sum(len(a.prv_detections) for a in alerts) > 0
    assert sum(len(a.non_detections) for a in alerts) > 0
    assert sum(len(a.forced_photometry) for a in alerts) > 0
    for alert in alerts:
        assert all(alert.candidate.mjd - 30 <= d.mjd < alert.candidate.mjd for d in alert.prv_detections)
        assert {"sgscore1", "distpsnr1", "ndethist", "ncovhist", "drb"} <= set(alert.metadata)


def test_cutouts_decode_to_images(records):
    cutouts = pytest.importorskip("classifier_service.cutouts")
    for record in records[:20]:
        for key in ("cutoutScience", "cutoutTemplate", "cutoutDifference"):
            image = cutouts.decode_stamp(record[key]["stampData"])
            assert image.ndim == 2 and max(image.shape) == 63


def test_ids_are_unique_and_in_ztf_formats(records):
    assert len({r["candid"] for r in records}) == len(records)
    assert all(re.fullmatch(r"ZTF\d{2}[a-z]{7}", r["objectId"]) for r in records)
    assert all(len(str(r["candid"])) == 19 for r in records)
    candids_of = defaultdict(set)  # every detection's candid, from the alerts and their histories
    for record in records:
        prv = [p["candid"] for p in record["prv_candidates"] if p["candid"] is not None]
        assert len(prv) == len(set(prv))
        candids_of[record["objectId"]].update([record["candid"], *prv])
    total = sum(len(candids) for candids in candids_of.values())
    assert len(set().union(*candids_of.values())) == total, "no candid is shared by two objects"


def test_objects_get_several_alerts_whose_histories_grow(records):
    by_object = defaultdict(list)
    for record in records:
        by_object[record["objectId"]].append(record)
    repeated = [alerts for alerts in by_object.values() if len(alerts) > 1]
    assert len(repeated) >= 5
    for alerts in repeated:
        first, later = alerts[0], alerts[-1]
        earlier_candids = {p["candid"] for p in later["prv_candidates"]}
        assert first["candid"] in earlier_candids
        assert later["candidate"]["ndethist"] > first["candidate"]["ndethist"]


def test_candidates_carry_the_measurements_real_alerts_carry(records):
    detections = [r["candidate"] for r in records] + [p for r in records for p in r["prv_candidates"] or ()
                                                      if p["magpsf"] is not None]
    for row in detections:
        assert all(row[name] is not None for name in ("chipsf", "scorr", "seeratio", "magdiff", "sumrat", "classtar"))
        assert row["scorr"] >= 5 and 0 < row["seeratio"] <= 2 and 0 < row["sumrat"] <= 1
        assert abs(row["magap"] - row["magpsf"] - row["magdiff"]) < 1e-4
    chipsf = np.array([row["chipsf"] for row in detections])
    height = np.array([row["diffmaglim"] - row["magpsf"] for row in detections])
    assert np.median(chipsf[height > 3]) > 3 * np.median(chipsf[height < 1]), "bright detections fit the PSF worse"


def test_known_variables_were_mostly_first_detected_long_before_fresh_transients():
    ages = defaultdict(list)
    for packet, _, stamp_class in simulate_labelled_alerts(150, seed=5, class_mix={"VS": 0.5, "SN": 0.5}):
        candidate = next(iter(iter_records(packet)))["candidate"]
        ages[stamp_class].append(candidate["jd"] - candidate["jdstarthist"])
    assert max(ages["SN"]) < 31, "a transient is at most one 30-day history old"
    # Real alerts on stars and nuclei: a third first detected within the history, median ~1 year.
    assert np.median(ages["VS"]) > 31 and min(ages["VS"]) < 31


def test_variable_stars_in_the_stream_are_seen_on_few_of_their_history_epochs():
    # Real alerts on stars: detected on a median 0.12 of their 30-day history's epochs; with
    # the catalogues' amplitude ranges the simulated ones were on 0.69.
    shares = []
    for packet, lc_class, _ in simulate_labelled_alerts(120, seed=3, class_mix={"VS": 1.0}):
        alert = parse_record(next(iter(iter_records(packet))))
        epochs = len(alert.prv_detections) + len(alert.non_detections)
        shares.append(len(alert.prv_detections) / max(epochs, 1))
    assert np.median(shares) < 0.35


def test_alerts_come_in_time_order(records):
    times = [r["candidate"]["jd"] for r in records]
    assert times == sorted(times)


def test_same_seed_same_packets_other_seed_other_packets(packets):
    assert list(simulate_alert_packets(15, seed=42)) == list(simulate_alert_packets(15, seed=42))
    assert list(simulate_alert_packets(15, seed=42)) != list(simulate_alert_packets(15, seed=43))


def test_class_mix_selects_what_is_simulated():
    asteroids = [parse_record(r) for p in simulate_alert_packets(15, seed=1, class_mix={"asteroid": 1.0})
                 for r in iter_records(p)]
    assert all(a.metadata["ndethist"] == 1 and not a.prv_detections for a in asteroids)
    bogus = [parse_record(r) for p in simulate_alert_packets(15, seed=1, class_mix={"bogus": 1.0})
             for r in iter_records(p)]
    assert sum(a.metadata["drb"] < 0.5 for a in bogus) == len(bogus)
    rrl = [parse_record(r) for p in simulate_alert_packets(10, seed=1, class_mix={"RRL": 1.0}) for r in iter_records(p)]
    assert all(a.metadata["sgscore1"] > 0.8 for a in rrl)


def test_start_mjd_sets_the_night():
    [record] = list(iter_records(next(simulate_alert_packets(1, seed=0, start_mjd=59000.0))))
    assert 59000.0 <= record["candidate"]["jd"] - 2400000.5 < 59001.0


def test_unknown_class_in_the_mix_is_a_clear_error():
    with pytest.raises(ValueError, match="unknown class"):
        next(simulate_alert_packets(1, class_mix={"comet": 1.0}))


def test_labelled_alerts_carry_the_truth_of_each_packet():
    labelled = list(simulate_labelled_alerts(40, seed=42))
    assert [packet for packet, _, _ in labelled] == list(simulate_alert_packets(40, seed=42))
    assert {stamp for _, _, stamp in labelled} <= {"SN", "VS", "AGN", "asteroid", "bogus"}
    for packet, lc_class, stamp in labelled:
        [alert] = [parse_record(r) for r in iter_records(packet)]
        if stamp == "asteroid":
            assert alert.metadata["ndethist"] == 1
        if stamp == "VS":
            assert lc_class in ("E", "RRL", "LPV", "Periodic-Other", "DSCT", "CEP", "YSO", "CV/Nova")
