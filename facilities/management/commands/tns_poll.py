"""manage.py tns_poll: move every open TNS report on; run it every few minutes (cron, systemd timer).

Sends reports queued behind a rate limit once it resets, polls sent reports for TNS's
verdict, turns a "sending" abandoned by its process, and a "sent" report whose reply TNS
never processes, into "outcome unknown", and settles those by searching TNS: no report stays
open longer than the grace periods in ``DATA_SERVICES['TNS']`` (``sending_stale_s``,
``reply_timeout_s``, ``unknown_grace_s``) while TNS answers.
"""
from __future__ import annotations

from django.core.management.base import BaseCommand

from facilities.tns.service import poll_pending


class Command(BaseCommand):
    help = "Send queued TNS reports, poll sent ones and settle those whose outcome is unknown."

    def handle(self, *args, **options) -> None:
        results = poll_pending()
        if not results:
            self.stdout.write("no TNS report awaiting an answer")
        for result in results:
            report = result.report
            line = f"{report.internal_name}: {result.before} -> {report.status}" + (
                f" ({report.iau_name})" if report.iau_name else "")
            if result.note:
                self.stderr.write(f"{line}: {result.note}")
            else:
                self.stdout.write(line)
