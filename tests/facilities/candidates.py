"""TOM targets as the broker plugin leaves them: ZTF photometry and an ALeRCE classification."""
from __future__ import annotations

from datetime import timezone

from astropy.time import Time
from tom_dataproducts.models import PhotometryReducedDatum
from tom_targets.models import Target

FIRST_DETECTION_MJD = 61000.10  # 2026-02-25


def make_candidate(oid: str, probability: float = 0.93, ra: float = 150.1, dec: float = -20.2,
                   class_name: str = "SN") -> Target:
    """A young transient: three detections, an earlier limit, and the stamp classifier's verdict."""
    from tom_alerce.classifications import record_classifications

    target = Target.objects.create(name=oid, type="SIDEREAL", ra=ra, dec=dec)
    for mjd, band, mag, err in [(FIRST_DETECTION_MJD, "g", 19.9, 0.15), (61000.15, "r", 19.7, 0.12),
                                (61001.10, "g", 19.5, 0.10)]:
        PhotometryReducedDatum.objects.create(
            target=target, timestamp=_utc(mjd), bandpass=band, brightness=mag, brightness_error=err, limit=20.5,
            source_name="ALeRCE")
    PhotometryReducedDatum.objects.create(target=target, timestamp=_utc(60998.2), bandpass="r", limit=20.3,
                                          source_name="ALeRCE")
    others = [c for c in ("SN", "AGN", "VS", "asteroid", "bogus") if c != class_name]
    probabilities = {class_name: probability, others[0]: (1 - probability) / 2, others[1]: (1 - probability) / 2,
                     others[2]: 0.0, others[3]: 0.0}
    record_classifications(target, {"stamp_classifier": {"version": "1.0.0", "probabilities": probabilities}},
                           source="test")
    return target


def ztf_alert(oid: str, **candidate) -> dict:
    """A ZTF alert as the hook gets it, with ZTF's solar-system fields (no known asteroid by default)."""
    return {"objectId": oid, "survey": "ZTF", "candidate": {"ssnamenr": "null", "ssdistnr": -999.0, **candidate}}


def _utc(mjd: float):
    return Time(mjd, format="mjd").to_datetime(timezone=timezone.utc)
