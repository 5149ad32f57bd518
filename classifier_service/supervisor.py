"""Several worker processes on one machine: ``run --processes N`` and ``replay --processes N``.

A Python worker uses one core; Kafka already shares a topic's partitions among the members
of a consumer group, so N processes of the same ``run`` (same ``--group-id``) scale on one
machine exactly as N workers on N machines do, with the same commit and outage rules. The
supervisor starts them, forwards SIGTERM/SIGINT to each (each finishes and commits its
batch, then leaves the group), and exits with the worst status: 3 (unreachable, for the
outer supervisor) if any child gave up, else the first failure, else 0.

An archive has no consumer group, so ``replay`` shares it out itself: by a hash of each
alert's object id, so that one object's alerts are all handled, in order, by one worker.
"""
from __future__ import annotations

import argparse
import logging
import multiprocessing
import os
import signal
import sys
import time
import zlib
from collections.abc import Callable, Iterable, Iterator, Sequence
from typing import Any

from classifier_service.stream.base import RawMessage
from classifier_service.surveys.avro import iter_records
from classifier_service.worker import RunReport

log = logging.getLogger(__name__)
EXIT_UNAVAILABLE = 3


def supervise(command: Callable[[argparse.Namespace], int], args: argparse.Namespace, processes: int) -> int:
    """Run ``command(args)`` in ``processes`` child processes and wait for them all."""
    child_args = argparse.Namespace(**{**vars(args), "processes": 1})
    context = multiprocessing.get_context("spawn")  # no inherited Kafka or database handles
    children = [context.Process(target=_child, args=(command, child_args), name=f"worker-{k}")
                for k in range(processes)]
    for child in children:
        child.start()
    log.info("started %d worker processes: %s", processes, [child.pid for child in children])

    def forward(signum: int, _frame: Any) -> None:
        for child in children:
            if child.is_alive():
                os.kill(child.pid, signal.SIGTERM if signum == signal.SIGINT else signum)

    previous = {signum: signal.signal(signum, forward) for signum in (signal.SIGTERM, signal.SIGINT)}
    try:
        for child in children:
            child.join()
    finally:
        for signum, handler in previous.items():
            signal.signal(signum, handler)
    codes = [child.exitcode for child in children]
    log.info("worker processes ended with %s", codes)
    if EXIT_UNAVAILABLE in codes:
        return EXIT_UNAVAILABLE
    return next((abs(code) for code in codes if code), 0)


def _child(command: Callable[[argparse.Namespace], int], args: argparse.Namespace) -> None:
    # Its own process group: a terminal's Ctrl-C reaches the supervisor only, which passes one
    # SIGTERM on (a second signal would kill the worker mid-batch).
    os.setpgrp()
    logging.basicConfig(level=getattr(args, "log_level", "INFO"), stream=sys.stderr,
                        format=f"%(asctime)s %(levelname)s [{multiprocessing.current_process().name}] "
                               "%(name)s: %(message)s")
    sys.exit(int(command(args) or 0))


def replay_in_processes(messages: Iterable[RawMessage], processes: int, batch_size: int,
                        worker_args: dict[str, Any]) -> RunReport:
    """An archive replay shared by ``processes`` workers: each object's alerts go to one
    worker (by a hash of the oid), in archive order, so per-object ordering holds as in one
    process. ``worker_args`` (db, classifier names, schema registry URL) build each worker."""
    context = multiprocessing.get_context("spawn")
    queues = [context.Queue(maxsize=4) for _ in range(processes)]
    results = context.Queue()
    children = [context.Process(target=_replay_child, args=(queue, results, worker_args), name=f"replay-{k}")
                for k, queue in enumerate(queues)]
    for child in children:
        child.start()
    start = time.perf_counter()
    buffers: list[list[RawMessage]] = [[] for _ in range(processes)]
    for message in messages:
        k = zlib.crc32(_object_key(message.payload).encode()) % processes
        buffers[k].append(message)
        if len(buffers[k]) >= batch_size:
            queues[k].put(buffers[k])
            buffers[k] = []
    for queue, buffer in zip(queues, buffers):
        if buffer:
            queue.put(buffer)
        queue.put(None)
    report = RunReport()
    for _ in children:
        part = results.get()
        report.n_batches += part.n_batches
        report.n_alerts += part.n_alerts
        report.n_dead_letters += part.n_dead_letters
        report.dead_letters_by_stage.update(part.dead_letters_by_stage)
        for stage, seconds in part.stage_seconds.items():
            report.stage_seconds[stage] += seconds
    for child in children:
        child.join()
    report.seconds = time.perf_counter() - start
    failed = [child.exitcode for child in children if child.exitcode]
    if failed:
        raise RuntimeError(f"replay worker processes failed with status {failed}")
    return report


def _object_key(payload: bytes) -> str:
    """The alert's object id (ZTF objectId, Rubin diaObjectId); the payload's hash where it
    cannot be read here (the worker makes it a dead letter, or reads it with the registry)."""
    try:
        record = next(iter(iter_records(payload)))
        key = record.get("objectId") or (record.get("diaSource") or {}).get("diaObjectId")
        return str(key) if key is not None else payload[:64].hex()
    except Exception:  # noqa: BLE001: undecodable here, the worker says why
        return payload[:64].hex()


class _QueueSource:
    """Batches handed over by the supervisor, until its None."""

    def __init__(self, queue: Any) -> None:
        self.queue = queue

    def batches(self) -> Iterator[list[RawMessage]]:
        while (batch := self.queue.get()) is not None:
            yield batch

    def commit(self, batch: Sequence[RawMessage]) -> None:
        """The archive is read again on a rerun; the store's upserts make that harmless."""

    def close(self) -> None:
        """Nothing to release."""


def _replay_child(queue: Any, results: Any, worker_args: dict[str, Any]) -> None:
    from classifier_service.classifiers.registry import load_classifiers
    from classifier_service.store import Store
    from classifier_service.surveys.registry import SchemaRegistry
    from classifier_service.worker import Worker

    store = Store(worker_args["db"])
    classifiers = [] if worker_args["names"] == [] else load_classifiers(worker_args["names"])
    registry = SchemaRegistry(worker_args["registry"]) if worker_args.get("registry") else None
    worker = Worker(_QueueSource(queue), store, classifiers, schema_registry=registry)
    try:
        results.put(worker.run())
    finally:
        worker.close()
        store.dispose()
