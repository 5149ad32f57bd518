"""Light curves: ALeRCE's magnitude correction, dubious flags, merging and statistics."""
from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest

from alerce_contract.sky import position_problem
from classifier_service.alert import Detection, NonDetection
from classifier_service.lightcurve import build_lightcurve, summarise
from classifier_service.lightcurve.columns import (
    detection_columns,
    merge_detections,
    merge_non_detections,
    non_detection_columns,
    stored_detection_columns,
    table_detection_columns,
)
from classifier_service.lightcurve.correction import correct_magnitudes, dubious_flags, is_stellar
from classifier_service.lightcurve.stats import mean_position


def det(candid, mjd, fid=1, magpsf=18.0, isdiffpos=1, distnr=None, magnr=None, ra=10.0, dec=-5.0, **kw):
    return Detection(oid="ZTFtest", candid=candid, mjd=mjd, fid=fid, ra=ra, dec=dec, magpsf=magpsf,
                     sigmapsf=0.1, isdiffpos=isdiffpos, distnr=distnr, magnr=magnr,
                     sigmagnr=0.02 if magnr else None, **kw)


def test_correction_reproduces_alerces_corrected_magnitudes(shared_data):
    table = pd.read_csv(shared_data / "lightcurves/alerce-lc_classifier/30_sne_detections_corr.csv")
    table = table[table["corrected"].astype(bool)]
    isdiffpos = np.where(table["isdiffpos"].astype(str).isin(["f", "-1", "-1.0"]), -1, 1)
    result = correct_magnitudes(table["magpsf"], table["sigmapsf"], isdiffpos,
                                table["magnr"], table["sigmagnr"], table["distnr"])
    assert len(table) > 100
    assert result.corrected.all()
    assert np.allclose(result.magpsf_corr, table["magpsf_corr"], atol=1e-5, equal_nan=True)
    assert np.allclose(result.sigmapsf_corr, table["sigmapsf_corr"], atol=1e-5, equal_nan=True)


def test_correction_adds_difference_flux_to_the_reference_flux():
    result = correct_magnitudes([20.0], [0.1], [1], [20.0], [0.0], [0.5])
    assert result.magpsf_corr[0] == pytest.approx(20.0 - 2.5 * math.log10(2))
    assert result.sigmapsf_corr_ext[0] == pytest.approx(0.05)


def test_correction_is_nan_when_the_total_flux_goes_negative():
    result = correct_magnitudes([19.0], [0.1], [-1], [20.0], [0.02], [0.5])
    assert np.isnan(result.magpsf_corr[0]) and np.isnan(result.sigmapsf_corr[0])
    assert result.corrected[0]


def test_far_from_a_reference_source_nothing_is_corrected():
    result = correct_magnitudes([18.0, 18.0], [0.1, 0.1], [1, 1], [20.0, np.nan], [0.02, np.nan], [1.4, np.nan])
    assert not result.corrected.any()
    assert np.isnan(result.magpsf_corr).all()


def test_dubious_flags_negative_uncorrected_and_changes_from_the_first_state():
    mjd = np.array([1.0, 2.0, 3.0, 1.5])
    fid = np.array([1, 1, 1, 2])
    isdiffpos = np.array([1, 1, -1, 1])
    corrected = np.array([False, True, False, True])
    assert dubious_flags(mjd, fid, isdiffpos, corrected).tolist() == [False, True, True, False]


def test_stellar_needs_a_corrected_first_detection_on_a_ps1_star():
    assert is_stellar(True, 0.3, 0.9)
    assert not is_stellar(False, 0.3, 0.9)
    assert not is_stellar(True, 3.0, 0.9)
    assert not is_stellar(True, 0.3, 0.1)
    assert not is_stellar(True, None, None)


def test_merge_keeps_one_detection_per_candid_preferring_the_alerts_own_copy():
    old = detection_columns([det(1, 10.0, magpsf=18.0), det(2, 12.0)])
    new = detection_columns([det(1, 10.0, magpsf=17.5, has_stamp=True), det(3, 11.0), det(2, 12.0, magpsf=1.0)])
    merged = merge_detections(old, new)
    assert merged["candid"].tolist() == [1, 3, 2]
    assert merged["magpsf"][0] == 17.5 and merged["has_stamp"][0]  # the candidate copy
    assert merged["magpsf"][2] == 18.0  # else the earlier (stored) copy


def test_merge_of_non_detections_dedupes_by_band_and_epoch():
    a = non_detection_columns([NonDetection("o", 10.0, 1, 20.0), NonDetection("o", 10.0, 2, 20.1)])
    b = non_detection_columns([NonDetection("o", 10.0 + 1e-9, 1, 20.0), NonDetection("o", 9.0, 1, 19.0)])
    merged = merge_non_detections(a, b)
    assert sorted(zip(merged["mjd"].round(6).tolist(), merged["fid"].tolist())) == [(9.0, 1), (10.0, 1), (10.0, 2)]
    assert np.all(np.diff(merged["mjd"]) >= 0)


def test_merge_orders_rows_tied_in_epoch_the_same_whatever_order_they_come_in():
    # The store returns rows tied in mjd in any order: the merged curve must not depend on it.
    rows = [det(5, 10.0, fid=2), det(4, 10.0, fid=1), det(6, 11.0)]
    merged = [merge_detections(detection_columns(order)) for order in (rows, rows[::-1])]
    assert merged[0]["candid"].tolist() == merged[1]["candid"].tolist() == [4, 5, 6]
    limits = [NonDetection("o", 9.0, 2, 20.0), NonDetection("o", 9.0, 1, 20.5)]
    merged = [merge_non_detections(non_detection_columns(order)) for order in (limits, limits[::-1])]
    assert merged[0]["fid"].tolist() == merged[1]["fid"].tolist() == [1, 2]


def test_stored_rows_become_the_same_columns_as_a_table_of_them():
    stored = [{"candid": 7, "mjd": 10.0, "fid": 1, "ra": 1.0, "dec": 2.0, "magpsf": 18.0, "sigmapsf": 0.1,
               "isdiffpos": -1, "magpsf_corr": None, "sigmapsf_corr": None, "sigmapsf_corr_ext": None,
               "corrected": False, "dubious": True, "has_stamp": True},
              {"candid": 8, "mjd": 11.0, "fid": 2, "ra": 1.0, "dec": 2.0, "magpsf": 17.0, "sigmapsf": 0.2,
               "isdiffpos": 1, "magpsf_corr": 16.5, "sigmapsf_corr": 0.05, "sigmapsf_corr_ext": 0.06,
               "corrected": True, "dubious": False, "has_stamp": False}]
    direct = stored_detection_columns(stored)
    via_table = table_detection_columns({key: [row[key] for row in stored] for key in stored[0]})
    assert list(direct) == list(via_table)
    for name in direct:
        assert direct[name].dtype == via_table[name].dtype
        assert np.array_equal(direct[name], via_table[name], equal_nan=True), name


def summary_of(detections, non_detections=(), metadata=None):
    return summarise("ZTFtest", merge_detections(detection_columns(detections)),
                     merge_non_detections(non_detection_columns(list(non_detections))), metadata or {})


def test_object_statistics_follow_alerces_object_table():
    summary = summary_of(
        [det(1, 100.0, fid=1, magpsf=18.0), det(2, 101.0, fid=2, magpsf=17.5),
         det(3, 102.0, fid=1, magpsf=17.0), det(4, 103.0, fid=2, magpsf=17.8)],
        metadata={"ndethist": 7, "ncovhist": 30, "jdstarthist": 2400100.5, "jdendhist": 2400103.5})
    row = summary.object_row
    assert row["ndet"] == 4 and row["firstmjd"] == 100.0 and row["lastmjd"] == 103.0
    assert row["deltajd"] == 3.0
    assert row["g_r_max"] == pytest.approx(17.0 - 17.5)
    assert row["g_r_mean"] == pytest.approx(17.5 - 17.65)
    assert row["g_r_max_corr"] is None  # nothing corrected
    assert row["meanra"] == pytest.approx(10.0) and row["meandec"] == pytest.approx(-5.0)
    assert row["mjdstarthist"] == 100.0 and row["ndethist"] == 7
    assert row["diffpos"] is True and row["corrected"] is False and row["stellar"] is False


def test_magstat_rows_per_band_with_dmdt_from_the_earlier_upper_limit():
    summary = summary_of(
        [det(1, 100.0, magpsf=18.0), det(2, 102.0, magpsf=17.0), det(3, 104.0, magpsf=17.5)],
        [NonDetection("ZTFtest", 95.0, 1, 20.0), NonDetection("ZTFtest", 99.8, 1, 19.0)])
    (row,) = summary.magstat_rows
    assert row["fid"] == 1 and row["ndet"] == 3 and row["ndubious"] == 0
    assert row["magmean"] == pytest.approx(17.5) and row["magmedian"] == 17.5
    assert row["magmin"] == 17.0 and row["magmax"] == 18.0
    assert row["magfirst"] == 18.0 and row["maglast"] == 17.5
    assert row["magsigma"] == pytest.approx(0.5)
    # The limit 0.2 d before is too close; the one 5 d before: (18 + 0.1 - 20) / 5.
    assert row["dt_first"] == pytest.approx(5.0)
    assert row["dmdt_first"] == pytest.approx(-1.9 / 5.0)
    assert row["dm_first"] == pytest.approx(-2.0)


def test_dmdt_takes_the_steepest_earlier_limit_of_the_detections_own_band():
    summary = summary_of(
        [det(1, 100.0, magpsf=18.0), det(2, 101.0, fid=2, magpsf=18.0)],
        [NonDetection("ZTFtest", 90.0, 1, 20.5), NonDetection("ZTFtest", 98.0, 1, 19.5),
         NonDetection("ZTFtest", 99.0, 2, 18.5)])
    g, r = summary.magstat_rows
    # g: (18.1 - 20.5) / 10 and (18.1 - 19.5) / 2, the steeper wins.
    assert g["dt_first"] == pytest.approx(2.0) and g["dmdt_first"] == pytest.approx(-1.4 / 2.0)
    # r: only its own limit counts, though g's limit 3 d before would be steeper.
    assert r["dt_first"] == pytest.approx(2.0) and r["dmdt_first"] == pytest.approx(-0.4 / 2.0)


def test_corrected_statistics_use_the_apparent_magnitudes():
    summary = summary_of([det(1, 100.0, magpsf=20.0, distnr=0.3, magnr=20.0),
                          det(2, 101.0, magpsf=20.0, distnr=0.3, magnr=20.0)])
    (row,) = summary.magstat_rows
    assert row["corrected"] is True
    assert row["magmean_corr"] == pytest.approx(20.0 - 2.5 * math.log10(2))
    assert row["saturation_rate"] == 0.0


def test_mean_position_wraps_around_ra_zero():
    ra, dec, sigmara, sigmadec = mean_position(np.array([359.9999, 0.0001]), np.array([0.0, 0.0]),
                                               np.array([1, 1]))
    assert min(ra, 360 - ra) < 1e-6
    assert sigmadec == pytest.approx(0.065 / math.sqrt(2))


def test_a_mean_position_just_below_ra_zero_is_zero_not_360():
    """(5e-14 + (360 - 5.7e-14)) / 2 is a tiny negative ra, which a plain % 360 rounds to 360.0:
    a position the contract calls 'not on the sky', which a TOM import would refuse."""
    ra, *_ = mean_position(np.array([5e-14, 359.99999999999994]), np.array([0.0, 0.0]), np.array([1, 1]))
    assert 0.0 <= ra < 360.0
    assert position_problem(ra, 0.0) is None


def test_build_lightcurve_from_alert_detections(shared_data):
    from classifier_service.surveys import parse_record
    from classifier_service.surveys.avro import iter_records

    path = shared_data / "ztf_alerts/ampel-ztf/single/ZTF20abyfpze.avro"
    alert = parse_record(next(iter_records(path.read_bytes())))
    lc = build_lightcurve(alert.oid, alert.detections, alert.non_detections, alert.metadata)
    assert len(lc) == len({d.candid for d in alert.detections})
    assert np.all(np.diff(lc.mjd) >= 0)
    assert lc.fid.dtype == np.int8 and lc.corrected.dtype == bool
    assert lc.nd_mjd.size == len(alert.non_detections)


def test_build_lightcurve_from_an_alerce_csv_keeps_its_corrected_magnitudes(shared_data):
    base = shared_data / "lightcurves/alerce-lc_classifier"
    detections = pd.read_csv(base / "30_sne_detections_corr.csv")
    non_detections = pd.read_csv(base / "30_sne_non_detections.csv")
    oid = detections["objectId"].iloc[0]
    rows = detections[detections["objectId"] == oid]
    lc = build_lightcurve(oid, rows, non_detections[non_detections["objectId"] == oid])
    assert len(lc) == rows["candid"].nunique()
    assert np.allclose(np.sort(lc.magpsf_corr[np.isfinite(lc.magpsf_corr)]),
                       np.sort(rows["magpsf_corr"].dropna().to_numpy()))
    assert lc.nd_mjd.size > 0 and lc.nd_mjd.min() > 50000  # jd converted to mjd


def test_build_lightcurve_needs_only_mjd_fid_magpsf_sigmapsf():
    lc = build_lightcurve("x", {"mjd": [2.0, 1.0], "fid": [1, 2], "magpsf": [18.0, 19.0], "sigmapsf": [0.1, 0.2]})
    assert lc.mjd.tolist() == [1.0, 2.0] and lc.fid.tolist() == [2, 1]
    assert np.isnan(lc.magpsf_corr).all()


def test_build_lightcurve_without_required_columns_is_a_clear_error():
    with pytest.raises(ValueError, match="magpsf"):
        build_lightcurve("x", {"mjd": [1.0], "fid": [1]})
