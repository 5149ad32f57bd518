"""Issue 13: a simulated Rubin night is what Rubin would send.

Packets valid against the official lsst v10 and v11 schemas (read in place from
../shared/data/schemas), parsed by the same adapter as the real alerts: six bands,
difference fluxes in nJy at Rubin's depths, a year of history, 30x30 cutouts of 0.2"
pixels in Rubin's three-extension layout, solar-system sources as Rubin sends them.
"""
from __future__ import annotations

import argparse
import io
import json
import math
from collections import Counter

import fastavro
import numpy as np
import pytest
from astropy.io import fits

from alerce_contract.bands import BAND_OF_FID
from classifier_service.commands import simulate
from classifier_service.simulate.rubin import DEPTH, simulate_rubin_alerts, simulate_rubin_labelled_alerts
from classifier_service.surveys import parse_record
from classifier_service.surveys.avro import iter_records


@pytest.fixture(scope="module")
def night():
    return list(simulate_rubin_labelled_alerts(150, seed=3))


@pytest.fixture(scope="module")
def alerts(night):
    return [parse_record(record) for packet, _, _ in night for record in iter_records(packet)]


def official_schema(shared_data, major: str):
    folder = shared_data / "schemas" / "lsst" / major / "0"
    named: dict = {}
    for name in ("diaSource", "diaForcedSource", "diaObject", "ssSource", "mpc_orbits", "alert"):
        schema = fastavro.parse_schema(json.loads((folder / f"lsst.v{major}_0.{name}.avsc").read_text()),
                                       named_schemas=named)
    return schema


@pytest.mark.parametrize("major", ["10", "11"])
def test_packets_are_valid_against_rubins_published_schema(shared_data, night, major):
    schema = official_schema(shared_data, major)
    for packet, _, _ in night:
        (record,) = fastavro.reader(io.BytesIO(packet), reader_schema=schema)
        assert fastavro.validation.validate(record, schema)


def test_the_real_alert_adapter_reads_every_packet(night, alerts):
    assert len(alerts) == len(night) == 150
    assert all(a.survey == "LSST" for a in alerts)
    assert len({a.candid for a in alerts}) == 150
    mjds = [a.candidate.mjd for a in alerts]
    assert mjds == sorted(mjds)  # a night streams in time order


def test_six_bands_of_difference_flux_at_rubins_depths(night):
    records = [next(iter_records(packet)) for packet, _, _ in night]
    forced = [row for r in records for row in r["prvDiaForcedSources"] or ()]
    bands = Counter(row["band"] for row in forced)
    assert set(bands) == set(BAND_OF_FID.values())
    for band, depth in DEPTH.items():  # the 5-sigma limit implied by the errors of the faint epochs
        errors = np.array([row["psfFluxErr"] for row in forced
                           if row["band"] == band and abs(row["psfFlux"]) < 5 * row["psfFluxErr"]])
        limit = 31.4 - 2.5 * np.log10(5 * np.median(errors))
        assert abs(limit - depth) < 0.3, band


def test_cadence_and_seasons_of_a_wide_fast_deep_field(night):
    records = [next(iter_records(packet)) for packet, _, _ in night]
    longest = max((r for r in records if r["prvDiaForcedSources"]), key=lambda r: len(r["prvDiaForcedSources"]))
    mjd = np.sort([row["midpointMjdTai"] for row in longest["prvDiaForcedSources"]])
    nights = np.unique(np.floor(mjd))
    assert 1 < np.median(np.diff(nights)) <= 7  # a visit pair every few nights
    assert mjd[-1] - mjd[0] <= 365  # a year of history at most
    assert np.diff(nights).max() > 100  # ... with the gap between two seasons


def test_histories_grow_with_each_alert_and_match_the_diaobject(alerts):
    for alert in alerts:
        if alert.oid.startswith("ss"):
            continue
        dia_object = alert.candidate.extra  # the candidate's diaSource names its object
        assert str(dia_object["diaObjectId"]) == alert.oid
        # nDiaSources counts every detection; the packet carries the last 365 days of them
        assert alert.metadata["ndethist"] >= len(alert.prv_detections) + 1
        assert all(alert.candidate.mjd - d.mjd <= 365 for d in alert.prv_detections)
    assert sum(len(a.forced_photometry) for a in alerts) > 0


def test_solar_system_sources_come_without_object_or_history(night, alerts):
    solar = [(a, truth) for a, (_, truth, _) in zip(alerts, night) if a.oid.startswith("ss")]
    assert solar and {truth for _, truth in solar} == {"asteroid"}
    for alert, _ in solar:
        assert alert.prv_detections == [] and alert.forced_photometry == []
        assert alert.metadata["ssnamenr"]


def test_solar_system_sources_carry_their_ecliptic_and_galactic_coordinates(night):
    from astropy import units as u
    from astropy.coordinates import SkyCoord

    records = [record for packet, truth, _ in night if truth == "asteroid" for record in iter_records(packet)]
    assert records
    for record in records:
        source, ss = record["diaSource"], record["ssSource"]
        sky = SkyCoord(source["ra"] * u.deg, source["dec"] * u.deg)
        ecliptic = sky.barycentricmeanecliptic
        assert SkyCoord(ss["eclLambda"] * u.deg, ss["eclBeta"] * u.deg, frame="barycentricmeanecliptic").separation(
            ecliptic).deg < 1e-3
        assert SkyCoord(l=ss["galLon"] * u.deg, b=ss["galLat"] * u.deg, frame="galactic").separation(sky).deg < 1e-4
        assert abs(ss["eclBeta"]) < 40, "main-belt asteroids near the ecliptic"


def test_fluxes_are_nJy_and_magnitudes_follow(night, alerts):
    for (packet, _, _), alert in zip(night, alerts):
        flux = next(iter_records(packet))["diaSource"]["psfFlux"]
        assert alert.candidate.magpsf == pytest.approx(31.4 - 2.5 * math.log10(abs(flux)), abs=1e-5)
        assert alert.candidate.isdiffpos == (1 if flux > 0 else -1)


def test_cutouts_in_rubins_size_and_layout(alerts):
    with fits.open(io.BytesIO(alerts[0].cutouts.difference)) as hdus:
        assert [hdu.name for hdu in hdus] == ["PRIMARY", "UNCERT", "PSFIMAGE"]
        assert hdus[0].data.shape == (30, 30) and hdus[0].header["BUNIT"] == "nJy"
        assert np.all(hdus[1].data > 0)


def test_same_seed_same_night():
    assert list(simulate_rubin_alerts(5, seed=9)) == list(simulate_rubin_alerts(5, seed=9))
    assert list(simulate_rubin_alerts(5, seed=9)) != list(simulate_rubin_alerts(5, seed=10))


def test_simulate_command_writes_rubin_files(tmp_path, capsys):
    parser = argparse.ArgumentParser()
    simulate.add_arguments(parser)
    args = parser.parse_args(["--survey", "lsst", "--n-alerts", "12", "--per-file", "5", "--out", str(tmp_path)])
    assert simulate.run(args) == 0
    files = sorted(tmp_path.glob("*.avro"))
    assert len(files) == 3
    assert sum(1 for f in files for _ in iter_records(f.read_bytes())) == 12
    assert "simulated 12 alerts" in capsys.readouterr().out
