"""``alerce-classifier run``: the Kafka worker (consume → store → classify → produce → commit).

Every flag also reads an ``ALERCE_*`` environment variable (named in its help), and any
librdkafka setting passes through with ``--kafka-option key=value`` or ``ALERCE_KAFKA_<KEY>``
(SASL/SSL for ZTF's or Rubin's brokers). Start several workers with the same ``--group-id``
to share the topic's partitions; SIGTERM or SIGINT finishes the batch in hand, commits it
and leaves the group. A database or Kafka that cannot be reached is waited for, the batch
retried with capped backoff and one log line per retry, and nothing committed meanwhile;
after ``--max-outage`` seconds (default 600) the worker exits with status 3 for its supervisor.
"""
from __future__ import annotations

import argparse
import logging
import os
import signal
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from classifier_service.commands.arguments import run_arguments as add_arguments  # noqa: F401 (tests)
from classifier_service.commands.preflight import check_kafka, open_store
from classifier_service.settings import CommandError
from classifier_service.stream import tansu
from classifier_service.stream.base import Unavailable
from classifier_service.stream.consumer import KafkaSource, env_options, parse_options
from classifier_service.stream.kafka import KafkaSink, date_range, expand_topics

if TYPE_CHECKING:
    from classifier_service.worker import Worker

EXIT_UNAVAILABLE = 3
log = logging.getLogger(__name__)


def _split(values: Sequence[str] | None) -> list[str]:
    """Flags given several times and/or comma-separated, as one list."""
    return [part.strip() for value in values or () for part in value.split(",") if part.strip()]


def topics_of(args: argparse.Namespace) -> list[str]:
    """What to subscribe to: a regex pattern, or topic names with '{date}' expanded."""
    if args.topic_pattern:
        return [args.topic_pattern if args.topic_pattern.startswith("^") else "^" + args.topic_pattern]
    names = _split(args.topic) or _split([os.environ.get("ALERCE_TOPIC", "")])
    if not names:
        raise ValueError("give --topic or --topic-pattern (or ALERCE_TOPIC / ALERCE_TOPIC_PATTERN)")
    return expand_topics(names, date_range(args.date))


def classifier_names(spec: str | None) -> list[str] | None:
    """None (every registered classifier), [] for 'none', or the names given."""
    if spec is None:
        return None
    names = _split([spec])
    return [] if names == ["none"] else names


def build_source(args: argparse.Namespace, user_settings: dict[str, Any]) -> KafkaSource:
    consumer_settings = {**(tansu.FAST_CONSUMER_SETTINGS if args.fast_group else {}), **user_settings}
    return KafkaSource(
        topics_of(args), bootstrap_servers=args.bootstrap_servers, group_id=args.group_id,
        batch_size=args.batch_size, batch_timeout_s=args.batch_timeout, linger_s=args.batch_linger,
        idle_timeout_s=args.stop_after_idle, unreachable_limit_s=args.max_outage,
        settings=consumer_settings,
    )


def stop_on_signals(source: KafkaSource, worker: Worker) -> None:
    """First SIGTERM/SIGINT: finish, commit and leave the group (or, while the database or
    Kafka is unreachable, stop waiting and exit 3 uncommitted); a second one kills."""

    def handler(signum: int, _frame: Any) -> None:
        log.info("%s: finishing the current batch, then leaving the group", signal.Signals(signum).name)
        source.stop()
        worker.stopping.set()
        signal.signal(signum, signal.SIG_DFL)

    for signum in (signal.SIGTERM, signal.SIGINT):
        signal.signal(signum, handler)


def ignore_late_signals() -> None:
    """Once the work is done, a late SIGTERM/SIGINT (a supervisor's, racing the worker's own
    idle exit) must not turn the clean exit into a kill: Python gives handled signals back
    their default action while it exits, but leaves ignored ones ignored."""
    for signum in (signal.SIGTERM, signal.SIGINT):
        signal.signal(signum, signal.SIG_IGN)


def run(args: argparse.Namespace) -> int:
    from classifier_service.classifiers.registry import load_classifiers
    from classifier_service.surveys.registry import SchemaRegistry
    from classifier_service.worker import Worker

    if not args.bootstrap_servers:
        raise CommandError("give --bootstrap-servers or ALERCE_BOOTSTRAP_SERVERS")
    try:
        user_settings = {**env_options(), **parse_options(args.kafka_option)}
        topics_of(args)
    except ValueError as exc:
        raise CommandError(str(exc)) from exc
    check_kafka(args.bootstrap_servers, user_settings)
    if args.processes > 1:
        from classifier_service.supervisor import supervise

        open_store(args.db).dispose()  # an unreachable database is one error here, not one per child
        try:
            return supervise(run, args, args.processes)
        finally:
            ignore_late_signals()
    store = open_store(args.db)
    source = build_source(args, user_settings)
    classifiers = load_classifiers(classifier_names(args.classifiers))
    sinks = []
    if args.output_topic:
        sinks.append(KafkaSink(args.output_topic, bootstrap_servers=args.bootstrap_servers,
                               dead_letter_topic=args.dead_letter_topic, settings=user_settings,
                               unreachable_limit_s=args.max_outage))
    log.info("reading %s as group %s with classifiers %s", source.topics, args.group_id,
             [c.name for c in classifiers] or "none")
    registry = SchemaRegistry(args.schema_registry) if args.schema_registry else None
    worker = Worker(source, store, classifiers, sinks, schema_registry=registry, max_outage_s=args.max_outage)
    stop_on_signals(source, worker)
    try:
        report = worker.run(max_batches=args.max_batches)
    except Unavailable as exc:
        log.error("giving up: %s", exc)
        return EXIT_UNAVAILABLE
    finally:
        worker.close()
        store.dispose()
        ignore_late_signals()
    log.info("done: %d batches, %d alerts, %d dead letters in %.1f s",
             report.n_batches, report.n_alerts, report.n_dead_letters, report.seconds)
    return 0
