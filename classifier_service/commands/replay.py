"""``alerce-classifier replay PATH... --db URL``: archives of alerts into a store."""
from __future__ import annotations

import argparse
from collections.abc import Iterator
from typing import Any

from classifier_service.classifiers.registry import load_classifiers
from classifier_service.commands.arguments import replay_arguments as add_arguments  # noqa: F401 (tests)
from classifier_service.commands.preflight import open_store
from classifier_service.commands.progress import Progress
from classifier_service.settings import CommandError
from classifier_service.stream.archive import ArchiveSource
from classifier_service.stream.file_sink import JsonLinesSink
from classifier_service.surveys.registry import SchemaRegistry
from classifier_service.worker import RunReport, Worker


def run(args: argparse.Namespace) -> int:
    source = ArchiveSource(args.paths, batch_size=args.batch_size)
    store = open_store(args.db)
    names = args.classifiers.split(",") if args.classifiers else None
    classifiers = [] if args.no_classify else load_classifiers(names)
    sinks = [JsonLinesSink(args.output)] if args.output else []
    registry = SchemaRegistry(args.schema_registry) if args.schema_registry else None
    before = store.row_counts()
    if args.processes > 1:
        if sinks:
            raise CommandError("--output writes one file from one process: leave out --processes")
        from classifier_service.supervisor import replay_in_processes

        worker_args = {"db": args.db, "names": [c.name for c in classifiers], "registry": args.schema_registry}
        with Progress("replay", "alerts") as progress:
            report = replay_in_processes(_counted_messages(source, progress), args.processes,
                                         args.batch_size, worker_args)
        added = {table: n - before.get(table, 0) for table, n in store.row_counts().items()}
        store.dispose()
        print(summary(report, [c.name for c in classifiers], added))
        return 0
    with Progress("replay", "alerts") as progress:
        worker = Worker(_Counted(source, progress), store, classifiers, sinks, schema_registry=registry)
        try:
            report = worker.run()
            added = {table: n - before.get(table, 0) for table, n in store.row_counts().items()}
        finally:
            worker.close()
            store.dispose()
    print(summary(report, [c.name for c in classifiers], added))
    return 0


def _counted_messages(source: ArchiveSource, progress: Progress) -> Iterator[Any]:
    for message in source.messages():
        yield message
        progress.update(1)


class _Counted:
    """The source, counting the alerts of each batch the worker has finished with."""

    def __init__(self, source: ArchiveSource, progress: Progress) -> None:
        self.source, self.progress = source, progress

    def batches(self) -> Iterator[list]:
        for batch in self.source.batches():
            yield batch
            self.progress.update(len(batch))

    def __getattr__(self, name: str) -> Any:
        return getattr(self.source, name)


def summary(report: RunReport, classifier_names: list[str], rows_added: dict[str, int]) -> str:
    """What a person replaying an archive wants to see; a replay of stored alerts adds 0 rows."""
    per_alert_ms = {stage: 1e3 * s / max(report.n_alerts, 1) for stage, s in report.stage_seconds.items()}
    changed = {table: n for table, n in rows_added.items() if n}
    lines = [
        f"alerts processed: {report.n_alerts}",
        f"rows added: {sum(changed.values())}"
        + (f" ({', '.join(f'{k} +{v}' for k, v in sorted(changed.items()))})" if changed else ""),
        f"dead letters: {report.n_dead_letters}"
        + (f" ({', '.join(f'{k}: {v}' for k, v in sorted(report.dead_letters_by_stage.items()))})"
           if report.n_dead_letters else ""),
        f"classifiers: {', '.join(classifier_names) or 'none'}",
        f"batches: {report.n_batches}, seconds: {report.seconds:.2f}, alerts/s: {report.alerts_per_s:.0f}",
        "ms per alert by stage: " + ", ".join(f"{k} {v:.3f}" for k, v in per_alert_ms.items()),
    ]
    return "\n".join(lines)
