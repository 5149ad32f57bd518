"""manage.py tns_poll: ask TNS what became of sent reports, and settle uploads whose outcome was lost."""
from __future__ import annotations

from django.core.management.base import BaseCommand

from facilities.models import TNSReport
from facilities.tns.client import TNSError
from facilities.tns.service import client_from_settings, poll_report, settle_unknown


class Command(BaseCommand):
    help = "Poll TNS for SENT reports and settle OUTCOME_UNKNOWN ones; run it every few minutes."

    def handle(self, *args, **options) -> None:
        pending = list(TNSReport.objects.filter(status__in=[TNSReport.Status.SENT, TNSReport.Status.OUTCOME_UNKNOWN]))
        if not pending:
            self.stdout.write("no TNS report awaiting an answer")
            return
        client = client_from_settings()
        for report in pending:
            before = report.status
            try:
                report = poll_report(report, client) if before == TNSReport.Status.SENT else settle_unknown(report, client)
            except TNSError as exc:  # TNS unreachable: try again next time
                self.stderr.write(f"{report.internal_name}: {exc}")
                continue
            self.stdout.write(f"{report.internal_name}: {before} -> {report.status}"
                              + (f" ({report.iau_name})" if report.iau_name else ""))
