"""Reporting a TOM target to TNS: build, check for duplicates, send once, poll, rename.

The state of every report lives in :class:`facilities.models.TNSReport`, written before
the upload and after each answer. Three things make a second upload impossible:

- a partial unique index allows one live report (queued, sending, sent, outcome unknown,
  accepted) per target, so two processes cannot both start one;
- the upload is claimed by a conditional UPDATE (queued -> sending), so two processes
  cannot both send a queued one;
- an upload whose answer does not prove TNS refused it is "outcome unknown" until a TNS
  search (internal name, then position) finds the object or, after a grace period, shows
  it never arrived.

Nothing waits inside a web request: a rate limit leaves the report queued until TNS's
reset, and ``manage.py tns_poll`` (:func:`poll_pending`) sends it, polls replies, turns
an abandoned "sending" into "outcome unknown" and settles those — every state ends.
"""
from __future__ import annotations

import logging
import os
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone

from django.conf import settings
from django.db import IntegrityError, transaction
from django.views.decorators.debug import sensitive_variables
from tom_targets.models import Target, TargetName

from alerce_contract.names import broker_name
from facilities.models import TNSReport
from facilities.target_facts import target_facts
from facilities.tns.client import (
    LIVE_URL,
    SANDBOX_URL,
    RateLimited,
    ReportOutcomeUnknown,
    TNSClient,
    TNSCredentials,
    TNSError,
    TNSUnavailable,
)
from facilities.tns.report import (
    ALERCE_CLASSIFIER_DESCRIPTIONS,
    REPORTED_CLASS,
    ReportCandidate,
    ReporterSettings,
    build_at_report,
    bulk_report,
)

log = logging.getLogger(__name__)
Status = TNSReport.Status

# DATA_SERVICES['TNS'] key -> the environment variable that overrides it.
ENVIRONMENT = {"base_url": "TNS_BASE_URL", "bot_id": "TNS_BOT_ID", "bot_name": "TNS_BOT_NAME",
               "api_key": "TNS_API_KEY", "group_id": "TNS_GROUP_ID", "reporter": "TNS_REPORTER"}
SENDING_STALE_S = 300.0  # a "sending" older than this lost its process: the outcome is unknown
UNKNOWN_GRACE_S = 900.0  # TNS processes bulk reports within minutes; not found after this = never arrived
# A sent report whose reply TNS has not processed after this long is not getting one: what
# became of it is asked by name and position instead (outcome unknown, then settled).
REPLY_TIMEOUT_S = 86400.0
REPORTING_CLASSIFIERS = ("stamp_classifier", "lc_classifier")


def tns_settings() -> dict:
    """``DATA_SERVICES['TNS']`` (the block tom-tns and tomtoolkit read), TNS_* variables on top.

    The API key is left out: only :func:`credentials` reads it.
    """
    configured = {k: v for k, v in _configured().items() if k not in ("api_key", "tns_base_url")}
    tns_base_url = _configured().get("tns_base_url")  # tom-tns spells it so, ending in /api
    if tns_base_url and not configured.get("base_url"):
        configured["base_url"] = tns_base_url.rstrip("/").removesuffix("/api")
    for key, variable in ENVIRONMENT.items():
        if key != "api_key" and os.environ.get(variable):
            configured[key] = os.environ[variable]
    if not configured.get("base_url"):
        configured["base_url"] = SANDBOX_URL if _flag(configured.get("sandbox", True)) else LIVE_URL
    return configured


@sensitive_variables()
def credentials() -> TNSCredentials:
    """The bot's credentials, the key wrapped in a Secret that never prints."""
    conf = _configured()
    api_key = os.environ.get(ENVIRONMENT["api_key"]) or conf.get("api_key") or ""
    bot_id = os.environ.get(ENVIRONMENT["bot_id"]) or conf.get("bot_id") or ""
    bot_name = os.environ.get(ENVIRONMENT["bot_name"]) or conf.get("bot_name") or ""
    missing = [name for name, value in (("bot_id", bot_id), ("bot_name", bot_name), ("api_key", api_key))
               if not value]
    if missing:
        raise TNSError(f"TNS is not configured: set {', '.join(missing)} in DATA_SERVICES['TNS'] "
                       f"or the TNS_* environment variables")
    return TNSCredentials(bot_id=str(bot_id), bot_name=str(bot_name), api_key=api_key)


def client_from_settings() -> TNSClient:
    conf = tns_settings()
    return TNSClient(conf["base_url"], credentials(), deadline_s=float(conf.get("deadline_s", 30)))


def reporter_settings() -> ReporterSettings:
    conf = tns_settings()
    return ReporterSettings(
        reporter=conf.get("reporter", "ALeRCE-style broker on behalf of this TOM"),
        group_id=str(conf.get("group_id", "74")),
        object_url=conf.get("object_url", "https://alerce.online/object/{oid}"),
        classifier_descriptions={**ALERCE_CLASSIFIER_DESCRIPTIONS, **conf.get("classifier_descriptions", {})},
    )


def internal_name(target: Target) -> str:
    """The survey name TNS should know the object by: the broker's name of it (see
    alerce_contract.names), else the target name."""
    return broker_name([target.name, *target.aliases.values_list("name", flat=True)])


def candidate_for(target: Target, classifier: str | None = None) -> ReportCandidate:
    """What a report of the target says; ValueError when TNS reporting here cannot describe it.

    ``classifier`` is the one whose class the report states (a policy's); by default the first
    of REPORTING_CLASSIFIERS that classified the target, so the remark names a real verdict.
    """
    facts = target_facts(target)
    if facts.not_reportable_survey:
        raise ValueError(facts.not_reportable_survey)
    classifier = classifier or reporting_classifier(facts.top_classes)
    top = facts.top(classifier) if classifier else None
    return ReportCandidate(
        internal_name=internal_name(target), ra=target.ra, dec=target.dec,
        detections=facts.detections, non_detections=facts.non_detections,
        classifier=classifier if top else None,
        class_name=top[0] if top else REPORTED_CLASS, probability=top[1] if top else None,
    )


def reporting_classifier(top_classes: dict[str, tuple[str, float]]) -> str | None:
    """The classifier a hand-made report names: ALeRCE's stamp classifier first, then any other."""
    ranked = [c for c in REPORTING_CLASSIFIERS if c in top_classes] + sorted(top_classes)
    return ranked[0] if ranked else None


def class_warning(candidate: ReportCandidate) -> str | None:
    """What an observer should know before sending a hand-made report as a possible supernova."""
    if candidate.classifier is None:
        return "no classifier has classified this target; the report calls it a supernova candidate"
    if candidate.class_name != REPORTED_CLASS:
        return (f"{candidate.classifier}'s top class is {candidate.class_name}, not {REPORTED_CLASS}; "
                f"TNS will file it as a possible supernova")
    return None


def report_warning(target: Target) -> str | None:
    """The class warning of a hand-made report of the target (None when it cannot be built: the
    builder says why)."""
    try:
        return class_warning(candidate_for(target))
    except ValueError:
        return None


def build_report(target: Target, classifier: str | None = None) -> dict:
    return bulk_report([build_at_report(candidate_for(target, classifier), reporter_settings())])


def live_report(target: Target) -> TNSReport | None:
    return target.tns_reports.filter(status__in=TNSReport.ACTIVE).first()


def submit_report(target: Target, *, mode: str = "manual", dry_run: bool = False,
                  client: TNSClient | None = None, poll_attempts: int | None = None,
                  poll_interval_s: float | None = None, payload: dict | None = None,
                  classifier: str | None = None) -> TNSReport:
    """Report a target once. Returns the report record, whatever happened; never raises for TNS.

    ``payload`` is the bulk report as an observer edited it on the TNS tab (default: built here,
    naming ``classifier``'s class).

    After an upload the reply is polled ``poll_attempts`` times (DATA_SERVICES['TNS']
    ``poll_attempts``/``poll_interval_s``); what is still open then is ``tns_poll``'s.
    """
    existing = live_report(target)
    if existing:
        log.info("%s already has a TNS report (%s); not sending another", target.name, existing.status)
        return existing
    name = internal_name(target)
    try:
        payload = build_report(target, classifier) if payload is None else payload
    except ValueError as exc:
        return TNSReport.objects.create(target=target, internal_name=name, mode=mode, payload={},
                                        status=Status.FAILED, error=str(exc))
    if dry_run:
        return TNSReport.objects.create(target=target, internal_name=name, mode=mode, payload=payload,
                                        status=Status.DRY_RUN)
    try:
        with transaction.atomic():
            report = TNSReport.objects.create(target=target, internal_name=name, mode=mode, payload=payload,
                                              status=Status.QUEUED, not_before=_now())
    except IntegrityError:  # another process is reporting this target right now
        return live_report(target) or target.tns_reports.first()
    try:
        client = client or client_from_settings()
    except TNSError as exc:
        return _finish(report, Status.FAILED, error=str(exc))
    send_queued(report, client)
    conf = tns_settings()
    attempts = int(conf.get("poll_attempts", 3)) if poll_attempts is None else poll_attempts
    interval = float(conf.get("poll_interval_s", 2.0)) if poll_interval_s is None else poll_interval_s
    for attempt in range(attempts):
        if report.status != Status.SENT:
            break
        if attempt:
            client.sleep(interval)
        _quietly(poll_report, report, client)
    return report


def send_queued(report: TNSReport, client: TNSClient) -> TNSReport:
    """Search TNS, then claim and upload a queued report: the one path to an upload."""
    try:
        known = _already_on_tns(client, report.target, report.internal_name)
    except RateLimited as exc:
        return _settled(report, _claim(report, Status.QUEUED, Status.QUEUED, **_queued(exc)))
    except TNSError as exc:
        log.error("cannot report %s to TNS: %s", report.internal_name, exc)
        return _settled(report, _claim(report, Status.QUEUED, Status.FAILED, error=f"nothing sent: {exc}"))
    if known:
        if _claim(report, Status.QUEUED, Status.ALREADY_ON_TNS, iau_name=known):
            rename_target(report.target, known)
        return _settled(report, True)
    if not _claim(report, Status.QUEUED, Status.SENDING):
        return _settled(report, False)
    try:
        report_id = client.send_report(report.payload)
    except RateLimited as exc:  # TNS answers 429 before reading the report: nothing was stored
        log.info("TNS report of %s queued: %s", report.internal_name, exc)
        return _finish(report, Status.QUEUED, **_queued(exc))
    except ReportOutcomeUnknown as exc:
        log.warning("TNS upload of %s may or may not have arrived: %s", report.internal_name, exc)
        _finish(report, Status.OUTCOME_UNKNOWN, error=str(exc))
        return _quietly(settle_unknown, report, client)
    except TNSError as exc:
        log.error("TNS refused the report of %s: %s", report.internal_name, exc)
        return _finish(report, Status.FAILED, error=f"refused by TNS: {exc}")
    return _finish(report, Status.SENT, report_id=report_id, error="")


def poll_report(report: TNSReport, client: TNSClient | None = None, *, now: datetime | None = None) -> TNSReport:
    """Ask TNS what became of a sent report, and record it; a reply still unprocessed after
    ``reply_timeout_s`` makes the outcome unknown, for ``settle_unknown`` to search TNS."""
    if report.status != Status.SENT or not report.report_id:
        return report
    reply = (client or client_from_settings()).report_reply(report.report_id)
    if not reply.processed:
        timeout = float(tns_settings().get("reply_timeout_s", REPLY_TIMEOUT_S))
        if (now or _now()) - report.modified >= timedelta(seconds=timeout):
            _finish(report, Status.OUTCOME_UNKNOWN,
                    error=f"TNS had not processed report {report.report_id} {timeout / 3600:g} h after it was "
                          f"sent; asking TNS whether the object exists")
        return report
    report.feedback = reply.feedback
    if reply.accepted and reply.objname:
        _finish(report, Status.ACCEPTED, iau_name=f"{reply.prefix or 'AT'} {reply.objname}")
        rename_target(report.target, report.iau_name)
    else:
        _finish(report, Status.REJECTED, error=f"TNS feedback codes {reply.codes or 'none'}")
    return report


def settle_unknown(report: TNSReport, client: TNSClient | None = None, *, now: datetime | None = None,
                   grace_s: float | None = None) -> TNSReport:
    """After an upload with no usable answer, ask TNS whether the object now exists.

    Found: accepted. Not found after the grace period TNS needs to process a report: it
    never arrived, and the target may be reported again.
    """
    if report.status != Status.OUTCOME_UNKNOWN:
        return report
    known = _already_on_tns(client or client_from_settings(), report.target, report.internal_name)
    if known:
        _finish(report, Status.ACCEPTED, iau_name=known, error="")
        rename_target(report.target, known)
        return report
    grace = float(tns_settings().get("unknown_grace_s", UNKNOWN_GRACE_S)) if grace_s is None else grace_s
    if (now or _now()) - report.modified >= timedelta(seconds=grace):
        _finish(report, Status.NOT_RECEIVED,
                error=f"TNS has no object named {report.internal_name} nor at its position "
                      f"{grace:.0f} s after the upload: it never arrived")
    return report


@dataclass
class PollResult:
    report: TNSReport
    before: str
    note: str = ""


def poll_pending(client: TNSClient | None = None, *, now: datetime | None = None) -> list[PollResult]:
    """One pass of ``tns_poll``: every open report moves on, or says why it cannot yet."""
    now = now or _now()
    conf = tns_settings()
    stale = now - timedelta(seconds=float(conf.get("sending_stale_s", SENDING_STALE_S)))
    for report in TNSReport.objects.filter(status=Status.SENDING, modified__lt=stale):
        if _claim(report, Status.SENDING, Status.OUTCOME_UNKNOWN,
                  error="the sending process stopped before recording TNS's answer"):
            log.warning("TNS report of %s was left sending; its outcome is unknown", report.internal_name)
    results = []
    pending = TNSReport.objects.filter(status__in=TNSReport.PENDING).exclude(status=Status.SENDING)
    for report in pending.select_related("target").order_by("created"):
        before = report.status
        if report.status == Status.QUEUED and report.not_before and report.not_before > now:
            results.append(PollResult(report, before, f"waiting until {report.not_before:%H:%M:%S} UTC"))
            continue
        try:
            client = client or client_from_settings()
            if report.status == Status.QUEUED:
                send_queued(report, client)
            elif report.status == Status.SENT:
                poll_report(report, client, now=now)
            else:
                settle_unknown(report, client, now=now)
        except TNSError as exc:  # TNS unreachable or rate limited: the next pass tries again
            results.append(PollResult(report, before, str(exc)))
            continue
        results.append(PollResult(report, before))
    return results


def rename_target(target: Target, iau_name: str) -> None:
    """Name the target by its IAU name and keep its survey name as an alias (as tom-tns does)."""
    if target.name == iau_name:
        return
    if Target.objects.filter(name=iau_name).exclude(pk=target.pk).exists():
        log.warning("not renaming %s: another target is already named %s", target.name, iau_name)
        return
    old = target.name
    with transaction.atomic():
        TargetName.objects.filter(target=target, name=iau_name).delete()
        target.name = iau_name
        target.save(update_fields=["name"])
        TargetName.objects.get_or_create(target=target, name=old)
    log.info("renamed target %s to %s", old, iau_name)


def _already_on_tns(client: TNSClient, target: Target, name: str) -> str | None:
    """The IAU name ('AT 2025abc') of an object TNS already has, by our name or at our position."""
    hits = client.search(internal_name=name) or client.search(ra=target.ra, dec=target.dec, radius_arcsec=2.0)
    for hit in hits:
        objname = hit.get("objname")
        if objname:
            prefix = hit.get("prefix") or client.get_object(objname).get("name_prefix") or "AT"
            return f"{prefix} {objname}"
    return None


def _claim(report: TNSReport, before: str, after: str, **fields) -> bool:
    """Move the report from ``before`` to ``after`` only if no other process did: a conditional UPDATE."""
    now = _now()
    claimed = TNSReport.objects.filter(pk=report.pk, status=before).update(status=after, modified=now, **fields)
    if claimed:
        report.status, report.modified = after, now
        for key, value in fields.items():
            setattr(report, key, value)
    return bool(claimed)


def _finish(report: TNSReport, status: str, **fields) -> TNSReport:
    report.status = status
    for key, value in fields.items():
        setattr(report, key, value)
    report.save()
    return report


def _queued(limit: RateLimited) -> dict:
    return {"not_before": limit.until,
            "error": f"queued, rate limited until {limit.until:%Y-%m-%d %H:%M:%S} UTC"}


def _settled(report: TNSReport, claimed: bool) -> TNSReport:
    """The report as the database has it when another process may have moved it."""
    if not claimed:
        report.refresh_from_db()
    return report


def _quietly(step, report: TNSReport, client: TNSClient) -> TNSReport:
    """A follow-up step inside a web request: if TNS is unavailable now, tns_poll finishes it."""
    try:
        return step(report, client)
    except TNSUnavailable as exc:
        log.info("TNS report of %s left for tns_poll: %s", report.internal_name, exc)
        return report


def _configured() -> dict:
    return dict((getattr(settings, "DATA_SERVICES", None) or {}).get("TNS") or {})


def _flag(value) -> bool:
    return str(value).strip().lower() not in {"0", "false", "no", "off", ""}


def _now() -> datetime:
    return datetime.now(timezone.utc)
