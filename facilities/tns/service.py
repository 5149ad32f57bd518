"""Reporting a TOM target to TNS: build, check for duplicates, send once, poll, rename.

The state of every report lives in :class:`facilities.models.TNSReport`, written before
the upload and after each answer, so a crash or a time-out never leads to a second upload:
a report whose upload outcome is unknown blocks new ones until a search settles it.
"""
from __future__ import annotations

import logging
import os

from django.conf import settings
from django.db import IntegrityError, transaction
from tom_targets.models import Target, TargetName

from facilities.models import TNSReport
from facilities.target_facts import target_facts
from facilities.tns.client import (
    LIVE_URL,
    SANDBOX_URL,
    ReportOutcomeUnknown,
    TNSClient,
    TNSCredentials,
    TNSError,
)
from facilities.tns.report import (
    ALERCE_CLASSIFIER_DESCRIPTIONS,
    ReportCandidate,
    ReporterSettings,
    build_at_report,
    bulk_report,
)

log = logging.getLogger(__name__)
Status = TNSReport.Status


def tns_settings() -> dict:
    """settings.TNS, with credentials from the environment where settings leave them out."""
    configured = dict(getattr(settings, "TNS", {}))
    env = {
        "base_url": os.environ.get("TNS_BASE_URL"),
        "bot_id": os.environ.get("TNS_BOT_ID"),
        "bot_name": os.environ.get("TNS_BOT_NAME"),
        "api_key": os.environ.get("TNS_API_KEY"),
    }
    for key, value in env.items():
        if value and not configured.get(key):
            configured[key] = value
    configured.setdefault("base_url", SANDBOX_URL if configured.get("sandbox", True) else LIVE_URL)
    return configured


def client_from_settings() -> TNSClient:
    conf = tns_settings()
    missing = [k for k in ("bot_id", "bot_name", "api_key") if not conf.get(k)]
    if missing:
        raise TNSError(f"TNS is not configured: set {', '.join(missing)} in settings.TNS or TNS_* variables")
    credentials = TNSCredentials(bot_id=str(conf["bot_id"]), bot_name=conf["bot_name"], api_key=conf["api_key"])
    return TNSClient(conf["base_url"], credentials, timeout_s=float(conf.get("timeout_s", 30)))


def reporter_settings() -> ReporterSettings:
    conf = tns_settings()
    return ReporterSettings(
        reporter=conf.get("reporter", "ALeRCE-style broker on behalf of this TOM"),
        group_id=str(conf.get("group_id", "74")),
        object_url=conf.get("object_url", "https://alerce.online/object/{oid}"),
        classifier_descriptions={**ALERCE_CLASSIFIER_DESCRIPTIONS, **conf.get("classifier_descriptions", {})},
    )


def internal_name(target: Target) -> str:
    """The survey name TNS should know the object by: a ZTF alias if any, else the target name."""
    names = [target.name, *target.aliases.values_list("name", flat=True)]
    return next((n for n in names if n.startswith("ZTF")), target.name)


def candidate_for(target: Target, classifier: str = "stamp_classifier") -> ReportCandidate:
    facts = target_facts(target)
    top = facts.top(classifier)
    return ReportCandidate(
        internal_name=internal_name(target), ra=target.ra, dec=target.dec,
        detections=facts.detections, non_detections=facts.non_detections, classifier=classifier,
        class_name=top[0] if top else "SN", probability=top[1] if top else None,
    )


def build_report(target: Target) -> dict:
    return bulk_report([build_at_report(candidate_for(target), reporter_settings())])


def live_report(target: Target) -> TNSReport | None:
    return target.tns_reports.filter(status__in=TNSReport.ACTIVE).first()


def submit_report(target: Target, *, mode: str = "manual", dry_run: bool = False,
                  client: TNSClient | None = None, poll_attempts: int | None = None,
                  poll_interval_s: float | None = None) -> TNSReport:
    """Report a target once. Returns the report record, whatever happened.

    After a successful upload the reply is polled ``poll_attempts`` times (settings.TNS
    ``poll_attempts``/``poll_interval_s``); reports still unprocessed then are picked up
    by ``manage.py tns_poll``.
    """
    conf = tns_settings()
    poll_attempts = int(conf.get("poll_attempts", 3)) if poll_attempts is None else poll_attempts
    poll_interval_s = float(conf.get("poll_interval_s", 2.0)) if poll_interval_s is None else poll_interval_s
    existing = live_report(target)
    if existing:
        log.info("%s already has a TNS report (%s); not sending another", target.name, existing.status)
        return existing
    name = internal_name(target)
    try:
        payload = build_report(target)
    except ValueError as exc:
        return TNSReport.objects.create(target=target, internal_name=name, mode=mode, payload={},
                                        status=Status.FAILED, error=str(exc))
    if dry_run:
        return TNSReport.objects.create(target=target, internal_name=name, mode=mode, payload=payload,
                                        status=Status.DRY_RUN)
    try:
        client = client or client_from_settings()
        known = _already_on_tns(client, target, name)
    except TNSError as exc:
        log.error("cannot report %s to TNS: %s", name, exc)
        return TNSReport.objects.create(target=target, internal_name=name, mode=mode, payload=payload,
                                        status=Status.FAILED, error=str(exc))
    if known:
        report = TNSReport.objects.create(target=target, internal_name=name, mode=mode, payload=payload,
                                          status=Status.ALREADY_ON_TNS, iau_name=known)
        rename_target(target, known)
        return report

    try:
        with transaction.atomic():
            report = TNSReport.objects.create(target=target, internal_name=name, mode=mode, payload=payload,
                                              status=Status.SENDING)
    except IntegrityError:  # another process is reporting this target right now
        return live_report(target)
    try:
        report.report_id = client.send_report(payload)
        report.status = Status.SENT
    except ReportOutcomeUnknown as exc:
        report.status, report.error = Status.OUTCOME_UNKNOWN, str(exc)
        log.warning("TNS upload of %s may or may not have arrived: %s", name, exc)
    except TNSError as exc:
        report.status, report.error = Status.FAILED, str(exc)
        log.error("TNS refused the report of %s: %s", name, exc)
    report.save()
    if report.status == Status.OUTCOME_UNKNOWN:
        settle_unknown(report, client)
    for attempt in range(poll_attempts):
        if report.status != Status.SENT:
            break
        if attempt:
            client.sleep(poll_interval_s)
        poll_report(report, client)
    return report


def poll_report(report: TNSReport, client: TNSClient | None = None) -> TNSReport:
    """Ask TNS what became of a sent report, and record it."""
    if report.status != Status.SENT or not report.report_id:
        return report
    reply = (client or client_from_settings()).report_reply(report.report_id)
    if not reply.processed:
        return report
    report.feedback = reply.feedback
    if reply.accepted and reply.objname:
        report.status = Status.ACCEPTED
        report.iau_name = f"{reply.prefix or 'AT'} {reply.objname}"
        rename_target(report.target, report.iau_name)
    else:
        report.status = Status.REJECTED
        report.error = f"TNS feedback codes {reply.codes or 'none'}"
    report.save()
    return report


def settle_unknown(report: TNSReport, client: TNSClient | None = None) -> TNSReport:
    """After an upload with no answer, ask TNS whether the object now exists under our name."""
    if report.status != Status.OUTCOME_UNKNOWN:
        return report
    try:
        known = _already_on_tns(client or client_from_settings(), report.target, report.internal_name)
    except TNSError as exc:
        log.warning("could not settle the TNS report of %s yet: %s", report.internal_name, exc)
        return report
    if known:
        report.status, report.iau_name = Status.ACCEPTED, known
        report.save()
        rename_target(report.target, known)
    return report


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
