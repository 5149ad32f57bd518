"""Rubin photometry reaches the TOM: real Rubin alerts, through the classified stream's wire
format and the one ingest mapping, become PhotometryReducedDatum rows in every Rubin band."""
from __future__ import annotations

from collections import Counter
from pathlib import Path

import pytest
from tom_dataproducts.models import PhotometryReducedDatum
from tom_targets.models import Target

from alerce_broker_plugin import ingest
from alerce_contract.bands import BAND_OF_FID
from alerce_contract.classified import decode_classified, encode_classified
from classifier_service.classifiers.base import ClassifierOutput
from classifier_service.lightcurve import build_lightcurve
from classifier_service.stream.base import ClassifiedAlert
from classifier_service.stream.classified import classified_record
from classifier_service.surveys import parse_record
from classifier_service.surveys.avro import iter_records

pytestmark = pytest.mark.django_db

RUBIN_AVRO = "lsst_alerts/fink-client/part-2-918301.avro"


@pytest.fixture(scope="module")
def rubin_alerts(shared_data: Path):
    return [parse_record(record) for record in iter_records((shared_data / RUBIN_AVRO).read_bytes())]


def stream_message(alert) -> dict:
    """What the TOM listener decodes for this alert, as classifier_service publishes it."""
    lightcurve = build_lightcurve(alert.oid, alert.detections, alert.non_detections, alert.metadata)
    dets = alert.detections
    classified = ClassifiedAlert(
        oid=alert.oid, candid=alert.candid, survey=alert.survey, ra=alert.candidate.ra, dec=alert.candidate.dec,
        mjd=alert.candidate.mjd, fid=alert.candidate.fid, magpsf=alert.candidate.magpsf,
        sigmapsf=alert.candidate.sigmapsf, ndet=len(dets), firstmjd=dets[0].mjd, lastmjd=dets[-1].mjd,
        classifications=[ClassifierOutput("stamp_classifier", "1.0.0", {"SN": 0.7, "VS": 0.3})])
    return decode_classified(encode_classified(classified_record(classified, lightcurve)))


def test_every_rubin_detection_becomes_photometry_in_its_own_band(rubin_alerts):
    sent: Counter = Counter()
    for alert in rubin_alerts:
        result = ingest.ingest_object(ingest.object_from_stream(stream_message(alert)), source_name="ALeRCEBroker")
        assert result.target.name == alert.oid
        sent.update(BAND_OF_FID[det.fid] for det in alert.detections)

    stored = Counter(PhotometryReducedDatum.objects.values_list("bandpass", flat=True))
    # The real alerts hold g r i z y; count each diaSource once, however many alerts repeat it.
    distinct = Counter(band for band, _ in {(BAND_OF_FID[d.fid], (a.oid, d.candid)) for a in rubin_alerts
                                            for d in a.detections})
    assert stored == distinct and set(stored) == {"g", "r", "i", "z", "y"}
    assert sent["z"] > 0 and sent["y"] > 0
    rows = PhotometryReducedDatum.objects.filter(bandpass__in=["z", "y"])
    assert {(row.unit, row.telescope, row.instrument) for row in rows} == {("mag", "Rubin", "LSSTCam")}
    assert all(15 < row.brightness < 30 and row.brightness_error > 0 for row in rows)
    assert Target.objects.count() == len({alert.oid for alert in rubin_alerts})


def test_a_u_band_point_is_kept_as_u():
    """No u-band point is in the real sample; the mapping gives u its own band all the same."""
    obj = ingest.BrokerObject(oid="313853876524318749", ra=10.0, dec=-5.0, survey="LSST",
                              detections=[{"mjd": 60900.1, "fid": 4, "magpsf": 21.3, "sigmapsf": 0.08}])
    (row,) = ingest.photometry_rows(obj)
    assert (row["bandpass"], row["unit"], row["telescope"], row["brightness"]) == ("u", "mag", "Rubin", 21.3)
