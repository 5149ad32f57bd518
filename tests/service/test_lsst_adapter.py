"""The Rubin/LSST adapter: real lsst.v10_0 alerts (Fink's Avro and Parquet copies) into the alert model.

Fluxes in nJy become magnitudes with zero point 31.4, bands become ZTF-compatible fids,
solar-system sources get an "ss" oid, and the real Avro file replays through the worker
into a store twice without changing a row.
"""
from __future__ import annotations

import copy
import io
from pathlib import Path

import fastavro
import numpy as np
import pyarrow.parquet as pq
import pytest
from astropy.io import fits

from alerce_contract.bands import FID_OF_BAND
from classifier_service.cutouts import decode_stamp
from classifier_service.store import Store
from classifier_service.stream.archive import ArchiveSource
from classifier_service.stream.base import RawMessage
from classifier_service.surveys import adapter_for, lsst, parse_record
from classifier_service.surveys.avro import iter_records
from classifier_service.surveys.base import AlertParseError, UnsupportedSchemaError
from classifier_service.worker import Worker
from tests.service.conftest import table_checksums

AVRO = "lsst_alerts/fink-client/part-2-918301.avro"
PARQUET = "lsst_alerts/fink-science/rubin_sample_data_10_0.parquet"
SCHEMAS = "schemas/lsst"


@pytest.fixture(scope="module")
def avro_records(shared_data: Path) -> list[dict]:
    return list(iter_records((shared_data / AVRO).read_bytes()))


@pytest.fixture(scope="module")
def parquet_records(shared_data: Path) -> list[dict]:
    return pq.read_table(shared_data / PARQUET).to_pylist()


def fake_alert(shared_data: Path, version: str) -> dict:
    """The simulated sample alert Rubin ships with each schema version (layout coverage only)."""
    with open(shared_data / SCHEMAS / version / "sample_data" / "fakeAlert.avro", "rb") as handle:
        return next(fastavro.reader(handle))


def test_rubin_packets_are_dispatched_to_the_lsst_adapter(avro_records):
    assert adapter_for(avro_records[0]) is lsst
    assert lsst.SURVEY == "LSST"


def test_every_real_rubin_alert_parses(avro_records, parquet_records):
    assert len(avro_records) == 7 and len(parquet_records) == 25
    for record in [*avro_records, *parquet_records]:
        alert = parse_record(record)
        assert alert.survey == "LSST" and alert.schema_version == "10.0"
        assert alert.candid == record["diaSource"]["diaSourceId"]
        assert alert.candidate.has_stamp and alert.cutouts.present()
        assert alert.non_detections == []  # Rubin alerts carry no upper limits
        for det in alert.detections:
            assert det.fid in FID_OF_BAND.values()
            assert np.isfinite(det.magpsf) and det.sigmapsf > 0 and det.isdiffpos in (1, -1)


def test_the_candidate_flux_becomes_magnitude_band_and_time_as_hand_computed(avro_records):
    alert = parse_record(avro_records[0])
    candidate = alert.candidate
    # psfFlux = -19549.39453125 nJy, psfFluxErr = 555.803955078125 nJy, band i
    assert alert.oid == "170028485706776685"
    assert alert.candid == candidate.candid == 170094456272322680
    assert candidate.magpsf == pytest.approx(-2.5 * np.log10(19549.39453125) + 31.4)
    assert candidate.magpsf == pytest.approx(20.67217, abs=1e-5)
    assert candidate.sigmapsf == pytest.approx(0.0308683, abs=1e-6)
    assert candidate.isdiffpos == -1  # a negative difference flux
    assert candidate.fid == 3
    assert candidate.mjd == pytest.approx(61105.093643486834)
    assert candidate.ra == pytest.approx(63.349628499442076) and candidate.dec == pytest.approx(-47.18075801654059)
    assert candidate.rb == pytest.approx(0.8754439353942871)
    assert alert.metadata["rb"] == candidate.rb and alert.metadata["ndethist"] == 346
    assert "extendedness" in alert.metadata and "sgscore1" not in alert.metadata


def test_history_and_forced_photometry_come_from_prv_dia_sources(avro_records):
    record = avro_records[0]
    alert = parse_record(record)
    assert len(alert.prv_detections) == len(record["prvDiaSources"]) == 345
    assert {d.parent_candid for d in alert.prv_detections} == {alert.candid}
    assert not any(d.has_stamp for d in alert.prv_detections)
    assert {d.fid for d in alert.detections} == {1, 2, 3, 5}  # g, r, i and z epochs
    forced = alert.forced_photometry
    assert len(forced) == len(record["prvDiaForcedSources"]) == 395
    first = record["prvDiaForcedSources"][0]
    assert forced[0].pid == first["visit"] and forced[0].forcediffimflux == first["psfFlux"]
    assert forced[0].magzpsci == 31.4 and forced[0].fid == FID_OF_BAND[first["band"]]


def test_solar_system_sources_get_an_ss_oid_and_their_designation(avro_records):
    sso = [r for r in avro_records if not r["diaSource"]["diaObjectId"]]
    assert len(sso) == 2
    for record in sso:
        alert = parse_record(record)
        assert alert.oid == f"ss{record['diaSource']['ssObjectId']}"
        assert alert.metadata["ssnamenr"] == record["ssSource"]["designation"]
        assert 0 <= alert.metadata["ssdistnr"] < 1


def test_the_exact_long_dia_object_id_wins_over_parquets_rounded_double(parquet_records):
    record = parquet_records[0]
    assert isinstance(record["diaObject"]["diaObjectId"], float)
    assert parse_record(record).oid == str(record["diaSource"]["diaObjectId"]) == "169813006680588318"


def test_cutouts_decode_to_the_primary_image_as_2d_float_arrays(avro_records, parquet_records):
    for record in (avro_records[0], parquet_records[0]):
        alert = parse_record(record)
        for data in (alert.cutouts.science, alert.cutouts.template, alert.cutouts.difference):
            image = decode_stamp(data)
            assert image.ndim == 2 and image.dtype == np.float32 and image.shape == (30, 30)
            with fits.open(io.BytesIO(data)) as hdus:  # astropy as the reference
                np.testing.assert_array_equal(image, hdus[0].data.astype(np.float32))


def test_an_unknown_major_schema_version_is_unsupported(avro_records, shared_data):
    future = {**avro_records[0], "lsst_schema_version": "lsst.v99_0"}
    with pytest.raises(UnsupportedSchemaError, match="99.0"):
        parse_record(future)
    with pytest.raises(UnsupportedSchemaError, match="7.0"):  # lsst.v7 packets carry alertId
        parse_record(fake_alert(shared_data, "7/4"))
    assert parse_record(fake_alert(shared_data, "11/0")).schema_version == "10.0"  # same layout


@pytest.mark.parametrize("damage, message", [
    (lambda r: r["diaSource"].pop("ra"), "diaSource ra None is not a number"),
    (lambda r: r["diaSource"].update(dec=95.0), r"diaSource dec 95.0 is outside \[-90.0, 90.0\]"),
    (lambda r: r["diaSource"].update(ra=360.0), r"diaSource ra 360.0 is outside \[0.0, 360.0\)"),  # 360 is 0
    (lambda r: r["diaSource"].update(psfFluxErr=0.0), "diaSource psfFluxErr 0.0 is outside"),
    (lambda r: r["diaSource"].update(midpointMjdTai=1e9), "diaSource midpointMjdTai 1000000000.0 is outside"),
    (lambda r: r["diaSource"].update(diaObjectId=-5), "diaObjectId -5 is not a positive 64-bit id"),
    (lambda r: r.update(lsst_schema_version="lsst.v10_0", note="a\x00b"), "note holds the non-printable"),
    (lambda r: r["diaSource"].update(band="w"), "unknown Rubin band 'w'"),
    (lambda r: r["diaSource"].update(psfFlux=None), "no usable psfFlux"),
    (lambda r: (r["diaSource"].update(diaObjectId=0, ssObjectId=0), r.update(diaObject=None)),
     "neither a diaObjectId nor an ssObjectId"),
    (lambda r: r.update(diaSource="nonsense"), "has no diaSource"),
])
def test_a_malformed_record_is_an_alert_parse_error_that_says_why(avro_records, damage, message):
    record = copy.deepcopy(avro_records[0])
    damage(record)
    with pytest.raises(AlertParseError, match=message):
        parse_record(record)


def test_the_real_rubin_file_replays_through_the_worker_twice_without_changing_a_row(shared_data, tmp_path):
    store = Store(f"sqlite:///{tmp_path / 'rubin.sqlite3'}")
    store.create_all()
    try:
        report = Worker(ArchiveSource([shared_data / AVRO]), store).run()
        assert report.n_alerts == 7 and report.n_dead_letters == 0
        counts = store.row_counts()
        alerts = [parse_record(r) for r in iter_records((shared_data / AVRO).read_bytes())]
        assert counts["object"] == len({a.oid for a in alerts}) == 7
        assert counts["detection"] == len({(a.oid, d.candid) for a in alerts for d in a.detections})
        assert counts["forced_photometry"] == len({(a.oid, f.pid) for a in alerts for f in a.forced_photometry})
        assert counts["cutout"] == 7 and counts["dead_letter"] == 0
        first = table_checksums(store)
        again = Worker(ArchiveSource([shared_data / AVRO], batch_size=3), store).run()
        assert again.n_alerts == 7 and again.n_dead_letters == 0
        assert table_checksums(store) == first
    finally:
        store.dispose()


def test_a_rubin_alert_of_an_unknown_version_becomes_a_parse_dead_letter(shared_data, tmp_path):
    with open(shared_data / AVRO, "rb") as handle:
        reader = fastavro.reader(handle)
        schema, record = reader.writer_schema, next(reader)
    out = io.BytesIO()
    fastavro.writer(out, schema, [{**record, "lsst_schema_version": "lsst.v99_0"}])
    store = Store(f"sqlite:///{tmp_path / 'rubin.sqlite3'}")
    store.create_all()
    try:
        report = Worker(ArchiveSource([]), store).process([RawMessage(payload=out.getvalue(), source="v99")])
        assert report.n_alerts == 0 and len(report.dead_letters) == 1
        letter = report.dead_letters[0]
        assert letter.stage == "parse" and "unsupported Rubin schema version '99.0'" in letter.reason
        assert store.row_counts()["dead_letter"] == 1
    finally:
        store.dispose()
