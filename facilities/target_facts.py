"""What the follow-up and TNS decisions need to know about a TOM target, read in one place.

Classifications come from tom_alerce's TargetClassification rows and photometry from the
TOM's PhotometryReducedDatum rows that the broker plugin ingests; the decisions
themselves never touch the ORM.
"""
from __future__ import annotations

from dataclasses import dataclass, field

from tom_dataproducts.models import PhotometryReducedDatum
from tom_targets.models import Target

from alerce_contract.bands import SURVEY_FIDS, fid_of_band
from alerce_contract.mjd import datetime_to_mjd
from alerce_contract.names import broker_name, survey_of_oid
from alerce_broker_plugin.ingest import FACILITIES, FORCED_REDUCTION
from facilities.tns.report import PhotometryPoint, UpperLimit


# The TNS report is a ZTF report (ZTF's instrument and filter ids), so the facts keep ZTF's g, r, i
# and only note which other surveys observed the target: their points must never pass as ZTF's.
REPORTED_SURVEY = "ZTF"
REPORTED_FIDS = SURVEY_FIDS[REPORTED_SURVEY]
SURVEY_OF_TELESCOPE = {telescope: survey for survey, (telescope, _) in FACILITIES.items()}
SURVEY_DISPLAY = {"ZTF": "ZTF", "LSST": "Rubin"}


@dataclass
class TargetFacts:
    # classifier_name -> (class_name, probability) of its latest version's top class
    top_classes: dict[str, tuple[str, float]] = field(default_factory=dict)
    detections: list[PhotometryPoint] = field(default_factory=list)
    non_detections: list[UpperLimit] = field(default_factory=list)
    # surveys whose photometry the target has (ZTF's is in detections/non_detections)
    surveys: frozenset[str] = frozenset()

    @property
    def ndet(self) -> int:
        return len(self.detections)

    @property
    def first_detection_mjd(self) -> float | None:
        return min((d.mjd for d in self.detections), default=None)

    @property
    def last_magnitude(self) -> float | None:
        return max(self.detections, key=lambda d: d.mjd).mag if self.detections else None

    def top(self, classifier_name: str) -> tuple[str, float] | None:
        return self.top_classes.get(classifier_name)

    @property
    def not_reportable_survey(self) -> str | None:
        """Why the target cannot be reported as a ZTF discovery (TNS ids for Rubin are not set up)."""
        others = sorted(SURVEY_DISPLAY.get(s, s) for s in self.surveys - {REPORTED_SURVEY})
        if not others:
            return None
        whose = "includes" if REPORTED_SURVEY in self.surveys else "is"
        return (f"TNS reporting is set up for ZTF discoveries only; this target's photometry {whose} "
                f"{' and '.join(others)}'s")


def target_facts(target: Target) -> TargetFacts:
    return TargetFacts(
        top_classes=_top_classes(target),
        **_photometry(target),
    )


def _top_classes(target: Target) -> dict[str, tuple[str, float]]:
    from tom_alerce.models import TargetClassification

    rows = (TargetClassification.objects.filter(target=target, ranking=1)
            .order_by("classifier_name", "-last_seen")
            .values_list("classifier_name", "class_name", "probability"))
    top: dict[str, tuple[str, float]] = {}
    for classifier_name, class_name, probability in rows:
        top.setdefault(classifier_name, (class_name, float(probability)))
    return top


def _photometry(target: Target) -> dict:
    detections: list[PhotometryPoint] = []
    limits: list[UpperLimit] = []
    surveys: set[str] = set()
    # A row's survey is its telescope's (as the broker plugin ingests it); a row without a known
    # telescope is the survey of the target's broker name, and a band ZTF lacks (u, z, y) is Rubin's.
    named = survey_of_oid(broker_name([target.name, *target.aliases.values_list("name", flat=True)]))
    # Forced photometry is measured at every epoch, before the source appeared too: it is not
    # a detection (a TNS discovery date or a rule's "first detected" must not come from it).
    rows = (PhotometryReducedDatum.objects.filter(target=target).exclude(reduction_version=FORCED_REDUCTION)
            .values_list("timestamp", "bandpass", "brightness", "brightness_error", "limit", "telescope"))
    for timestamp, bandpass, brightness, error, limit, telescope in rows:
        fid = fid_of_band(bandpass)
        if fid is None:
            continue
        survey = SURVEY_OF_TELESCOPE.get(telescope) or ((named or REPORTED_SURVEY) if fid in REPORTED_FIDS else "LSST")
        surveys.add(survey)
        if survey != REPORTED_SURVEY:
            continue
        mjd = datetime_to_mjd(timestamp)
        if brightness is not None:
            detections.append(PhotometryPoint(mjd=mjd, fid=fid, mag=brightness, mag_err=error or 0.0, limit=limit))
        elif limit is not None:
            limits.append(UpperLimit(mjd=mjd, fid=fid, limit=limit))
    detections.sort(key=lambda p: p.mjd)
    limits.sort(key=lambda p: p.mjd)
    return {"detections": detections, "non_detections": limits, "surveys": frozenset(surveys)}
