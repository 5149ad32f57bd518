"""The benchmark scenarios: archive replay into a store, and Kafka → store → Kafka through tansu.

Both run the real Worker on the same alert packets, each into a fresh SQLite store.
Replay latency is a batch's wall time from arrival to commit (every alert of a batch is
done when its batch is). Kafka latency is end to end: from the moment an alert is
produced to the raw topic until its classified record arrives on the output topic. By
default all alerts are produced at once, a burst like one Rubin visit, so throughput is
the workers' capacity and latency includes queueing; ``rate`` paces them instead. The
Kafka workers run in processes of their own, one or several in one consumer group, so
that the producer and the watcher in this one do not take their CPU or their GIL.
"""
from __future__ import annotations

import io
import multiprocessing
import queue
import statistics
import threading
import time
import traceback
import uuid
import zlib
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import fastavro
import numpy as np
from sqlalchemy import create_engine, text

from alerce_contract.classified import decode_classified
from classifier_service.bench.measure import (
    BenchResult,
    TimedClassifier,
    TimedSink,
    TimedSource,
    Timings,
    batch_latencies,
)
from classifier_service.classifiers.base import Classifier
from classifier_service.features import is_classifiable
from classifier_service.store import Store, database_url
from classifier_service.stream.base import RawMessage
from classifier_service.stream.consumer import KafkaSource, caught_up
from classifier_service.stream.kafka import KafkaSink, create_topics
from classifier_service.stream.tansu import FAST_CONSUMER_SETTINGS, TansuBroker
from classifier_service.surveys import parse_record
from classifier_service.surveys.avro import iter_records
from classifier_service.worker import RunReport, Worker


PARTITIONS = 4
REPLAY_STORE = "replay"  # the replay's SQLite file in its folder


class MemorySource:
    """Alert payloads held in memory, in batches: an archive replay without the disk."""

    def __init__(self, payloads: Sequence[bytes], batch_size: int) -> None:
        self.payloads = payloads
        self.batch_size = batch_size

    def batches(self) -> Iterator[list[RawMessage]]:
        for start in range(0, len(self.payloads), self.batch_size):
            chunk = self.payloads[start:start + self.batch_size]
            yield [RawMessage(payload, f"bench#{start + i}") for i, payload in enumerate(chunk)]

    def commit(self, batch: Sequence[RawMessage]) -> None:
        """Nothing to acknowledge in memory."""

    def close(self) -> None:
        """Nothing to release."""


def fresh_store(folder: Path, name: str, url: str | None = None) -> Store:
    """A new SQLite file in ``folder``, or the (empty) database at ``url``."""
    store = Store(url or f"sqlite:///{folder / name}.sqlite3")
    store.create_all()
    return store


@contextmanager
def postgres_database(server: str) -> Iterator[str]:
    """A throw-away database on the PostgreSQL ``server`` (postgresql://user@host:port), dropped after."""
    admin = create_engine(database_url(f"{server}/postgres"), isolation_level="AUTOCOMMIT")
    name = f"alerce_bench_{uuid.uuid4().hex[:8]}"
    try:
        with admin.connect() as conn:
            conn.execute(text(f'CREATE DATABASE "{name}"'))
        yield database_url(f"{server}/{name}")
    finally:
        with admin.connect() as conn:
            conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()


def decode_limit(payloads: Sequence[bytes]) -> dict[str, float]:
    """What fastavro alone does with the same packets: read every record, nothing else (best of 3)."""
    seconds = float("inf")
    for _ in range(3):
        start = time.perf_counter()
        n = sum(1 for payload in payloads for _ in fastavro.reader(io.BytesIO(payload)))
        seconds = min(seconds, time.perf_counter() - start)
    return {"n_alerts": n, "alerts_per_s": n / seconds, "s_per_alert": seconds / n}


def identity_of(payload: bytes) -> tuple[str, int]:
    """(oid, candid) of a packet's first alert."""
    alert = parse_record(next(iter(iter_records(payload))))
    return alert.oid, alert.candid


def parallel_replay_bench(payloads: Sequence[bytes], classifier_names: list[str] | None, *, processes: int,
                          batch_size: int, folder: Path, url: str | None = None) -> dict[str, Any]:
    """``processes`` workers side by side, each on the alerts of its share of objects (by a hash
    of the oid, so each object's alerts stay in order in one process), into one PostgreSQL
    database or one SQLite file each. Each loads its classifiers, then all start together."""
    shares: list[list[bytes]] = [[] for _ in range(processes)]
    for payload in payloads:
        shares[zlib.crc32(identity_of(payload)[0].encode()) % processes].append(payload)
    folder.mkdir(parents=True, exist_ok=True)
    context = multiprocessing.get_context("spawn")
    barrier, results = context.Barrier(processes), context.Queue()
    urls = [url or f"sqlite:///{folder / f'share{k}'}.sqlite3" for k in range(processes)]
    for store_url in set(urls):  # tables created here, not raced for by the workers
        fresh_store(folder, "", store_url).dispose()
    workers = [context.Process(target=_replay_share, args=(
        share, classifier_names, batch_size, store_url, barrier, results))
        for share, store_url in zip(shares, urls)]
    for worker in workers:
        worker.start()
    done = [results.get(timeout=1800) for _ in workers]
    for worker in workers:
        worker.join()
    n_alerts = sum(n for n, _, _ in done)
    seconds = max(end for _, _, end in done) - min(start for _, start, _ in done)
    return {"processes": processes, "n_alerts": n_alerts, "seconds": round(seconds, 4),
            "alerts_per_s": round(n_alerts / seconds, 2) if seconds > 0 else 0.0,
            "alerts_per_process": [len(share) for share in shares]}


def _replay_share(payloads: list[bytes], classifier_names: list[str] | None, batch_size: int, url: str,
                  barrier: Any, results: Any) -> None:
    from classifier_service.classifiers.registry import load_classifiers

    store = Store(url)
    worker = Worker(MemorySource(payloads, batch_size), store, load_classifiers(classifier_names))
    barrier.wait()
    start = time.time()
    report = worker.run()
    results.put((report.n_alerts, start, time.time()))
    store.dispose()


def features_bench(lightcurves: Sequence[Any], extractor: Any, n_objects: int = 100,
                   repeats: int = 3) -> dict[str, float] | None:
    """The light-curve features' CPU cost per object, in one batch and one object per call, on
    up to ``n_objects`` of the curves the classifier computes them for (``is_classifiable``):
    most of a simulated night's objects have one or two detections, whose features are NaN at
    almost no cost, and counting them made the figure a third of what a classified object costs.

    CPU time, not wall: the bench's Kafka scenarios run just before on the same cores. One
    warm-up call, then the median of ``repeats`` rounds with the two ways alternated. None
    where no curve is classifiable."""
    sample = [lightcurve for lightcurve in lightcurves if is_classifiable(lightcurve)][:n_objects]
    if not sample:
        return None
    extractor.compute(sample[:1])

    def cpu_s(run: Callable[[], object]) -> float:
        start = time.process_time()
        run()
        return time.process_time() - start

    def one_by_one() -> None:
        for lightcurve in sample:
            extractor.compute([lightcurve])

    batch, single = [], []
    for _ in range(repeats):
        batch.append(cpu_s(lambda: extractor.compute(sample)))
        single.append(cpu_s(one_by_one))
    return {"n_objects": len(sample), "median_points": statistics.median(len(lc) for lc in sample),
            "batch_s_per_object": statistics.median(batch) / len(sample),
            "single_s_per_object": statistics.median(single) / len(sample)}


def long_lightcurves(per_class: int = 5, seed: int = 0) -> list[Any]:
    """Light curves of years, as a star known for long reaches the classifier: ``per_class`` simulated
    stars of every periodic class over 300 to 1,500 days with at least 40 detections (the replay's
    night gives short ones: a period search's cost grows with the baseline's frequency grid and the
    points)."""
    from alerce_contract.taxonomy import PERIODIC
    from classifier_service.train.period_recovery import long_star

    rng = np.random.default_rng(seed)
    return [long_star(lc_class, rng)[1] for lc_class in PERIODIC for _ in range(per_class)]


def replay_bench(payloads: Sequence[bytes], classifiers: Sequence[Classifier], *, batch_size: int,
                 folder: Path, url: str | None = None, lightcurves: dict[str, Any] | None = None) -> BenchResult:
    """Alerts from memory through the worker into SQLite (or the empty database at ``url``);
    the light curves classified are added to ``lightcurves`` (oid -> latest)."""
    timings = Timings()
    store = fresh_store(folder, REPLAY_STORE, url)
    timed = [TimedClassifier(c, timings) for c in classifiers]
    worker = Worker(TimedSource(MemorySource(payloads, batch_size), timings), store, timed)
    if lightcurves is not None:
        for classifier in timed:
            classifier.lightcurves = lightcurves
    cpu_start = time.process_time()
    try:
        report = worker.run()
    finally:
        store.dispose()
    result = _result("replay", report, timings, batch_latencies(timings), report.seconds,
                     {c.name for c in classifiers})
    result.notes["cpu_s_per_alert"] = (time.process_time() - cpu_start) / max(report.n_alerts, 1)
    return result


def stored_replay_bench(payloads: Sequence[bytes], classifiers: Sequence[Classifier], *, batch_size: int,
                        folder: Path) -> BenchResult:
    """The same alerts again, into the store :func:`replay_bench` left in ``folder``: each alert
    finds its history stored, as a known object's next alert does in a running stream (the
    simulated night is mostly objects' first alerts). What skipping stored history is worth."""
    return replay_bench(payloads, classifiers, batch_size=batch_size, folder=folder,
                        url=f"sqlite:///{folder / REPLAY_STORE}.sqlite3")


class KafkaWorkers:
    """Up to ``processes`` worker processes for the Kafka scenarios, started once (classifiers
    loaded, warmed up on ``warm_up`` into a store of their own) and reused by each
    :meth:`measure`, which takes as many as it needs; a context manager that ends them."""

    def __init__(self, classifier_names: list[str] | None, *, processes: int, batch_size: int,
                 broker: TansuBroker, folder: Path, warm_up: Sequence[bytes]) -> None:
        self.broker, self.folder = broker, folder
        context = multiprocessing.get_context("spawn")
        self.go, self.stop, self.events = context.Event(), context.Event(), context.Queue()
        self.jobs = [context.Queue() for _ in range(processes)]
        self.workers = [context.Process(target=_kafka_worker, name=f"bench-kafka-{k}", args=(
            k, classifier_names, batch_size, broker.bootstrap_servers, folder / f"warm-up-{k}.sqlite3", warm_up,
            self.jobs[k], self.go, self.stop, self.events)) for k in range(processes)]
        for worker in self.workers:
            worker.start()

    def __enter__(self) -> "KafkaWorkers":
        return self

    def __exit__(self, *exc: Any) -> None:
        self.stop.set()
        for jobs in self.jobs:
            jobs.put(None)
        for worker in self.workers:
            worker.join(timeout=30)
            if worker.is_alive():
                worker.terminate()

    def measure(self, payloads: Sequence[bytes], rate: float | None = None, processes: int = 1) -> BenchResult:
        """The payloads produced (at ``rate`` alerts/s, or all at once) to a new 4-partition topic,
        classified onto another by ``processes`` of the workers in a new consumer group, each into
        a new SQLite file; production starts once each holds its share of the partitions."""
        workers = self.workers[:processes]
        identities = [identity_of(payload) for payload in payloads]
        candids = [candid for _, candid in identities]
        raw, out = f"bench-raw-{uuid.uuid4().hex[:6]}", f"bench-classified-{uuid.uuid4().hex[:6]}"
        servers = self.broker.bootstrap_servers
        create_topics(servers, {raw: PARTITIONS, out: PARTITIONS})
        self.go.clear()
        self.stop.clear()
        for k, jobs in enumerate(self.jobs[:processes]):
            jobs.put((raw, out, f"sqlite:///{self.folder / f'{raw}-{k}'}.sqlite3"))
        _wait_for_group(self.events, workers)
        watcher = OutputWatcher(servers, out, set(candids))
        produced: dict[int, float] = {}
        producer = threading.Thread(target=produce, args=(servers, raw, payloads, produced, identities, rate),
                                    daemon=True)
        self.go.set()
        watcher.start()
        producer.start()
        producer.join()
        watcher.finish(stall_s=10.0, settled=lambda: caught_up(servers, f"bench-{raw}", raw))
        self.stop.set()
        report, timings, names, cpu_seconds = RunReport(), Timings(), set(), 0.0
        per_process = [0] * processes
        for _ in workers:
            _, k, part, part_timings, part_names, part_cpu = _event(self.events, workers, "done")
            per_process[k] = part.n_alerts
            report.n_alerts += part.n_alerts
            report.n_dead_letters += part.n_dead_letters
            for stage, seconds in part.stage_seconds.items():
                report.stage_seconds[stage] += seconds
            timings.add(part_timings)
            names.update(part_names)
            cpu_seconds += part_cpu
        latencies = np.array([watcher.arrived[c] - produced[c] for c in produced if c in watcher.arrived])
        seconds = max(watcher.arrived.values(), default=0.0) - min(produced.values(), default=0.0)
        result = _result("kafka", report, timings, latencies, max(seconds, 0.0), names)
        result.notes["n_delivered"] = len(latencies)
        result.notes["cpu_s_per_alert"] = cpu_seconds / max(report.n_alerts, 1)  # the workers' own
        result.notes["rate"] = rate or "burst"
        result.notes["n_processes"] = processes
        result.notes["alerts_per_process"] = per_process  # how evenly the group shared the partitions
        return result


def _kafka_worker(k: int, classifier_names: list[str] | None, batch_size: int, bootstrap_servers: str,
                  warm_up_store: Path, warm_up: Sequence[bytes], jobs: Any, go: Any, stop: Any,
                  events: Any) -> None:
    """One worker process of :class:`KafkaWorkers`: for each job (topics and store) until None,
    says when it holds partitions, is timed from ``go``, stops at ``stop`` and sends back its
    run report, timings and CPU seconds."""
    from classifier_service.classifiers.registry import load_classifiers

    try:
        classifiers = load_classifiers(classifier_names)
        store = fresh_store(Path(), "", f"sqlite:///{warm_up_store}")
        Worker(MemorySource(warm_up, batch_size), store, classifiers).run()  # first calls, not timed
        store.dispose()
        while (job := jobs.get()) is not None:
            raw, out, url = job
            timings, store = Timings(), fresh_store(Path(), "", url)
            source = KafkaSource([raw], bootstrap_servers=bootstrap_servers, group_id=f"bench-{raw}",
                                 batch_size=batch_size, batch_timeout_s=0.2, settings=FAST_CONSUMER_SETTINGS)
            worker = Worker(TimedSource(source, timings), store,
                            [TimedClassifier(c, timings) for c in classifiers],
                            [TimedSink(KafkaSink(out, bootstrap_servers=bootstrap_servers), timings)])
            cpu_start: list[float] = []
            threading.Thread(target=_follow_bench, args=(k, source, timings, cpu_start, go, stop, events),
                             daemon=True).start()
            try:
                report = worker.run()
            finally:
                worker.close()
                store.dispose()
            cpu_seconds = time.process_time() - cpu_start[0] if cpu_start else 0.0
            events.put(("done", k, report, timings, [c.name for c in classifiers], cpu_seconds))
    except BaseException:
        events.put(("failed", k, traceback.format_exc()))
        raise


def _follow_bench(k: int, source: KafkaSource, timings: Timings, cpu_start: list[float], go: Any, stop: Any,
                  events: Any) -> None:
    """Report this worker's partitions until ``go`` (then start the clocks), stop at ``stop``."""
    held = None
    while not go.wait(0.05):
        if len(now := source.assignment()) != held:
            held = len(now)
            events.put(("assigned", k, held))
    timings.clear()
    cpu_start.append(time.process_time())
    stop.wait()
    source.stop()


def _wait_for_group(events: Any, workers: Sequence[Any], timeout_s: float = 600.0) -> None:
    """Until every worker holds partitions and together they hold them all."""
    held: dict[int, int] = {}
    deadline = time.monotonic() + timeout_s
    while not (len(held) == len(workers) and all(held.values()) and sum(held.values()) == PARTITIONS):
        _, k, n = _event(events, workers, "assigned", deadline - time.monotonic())
        held[k] = n


def _event(events: Any, workers: Sequence[Any], kind: str, timeout_s: float = 600.0) -> tuple:
    """The next event from the workers, which must be of ``kind``; a failed worker raises."""
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        try:
            event = events.get(timeout=1.0)
        except queue.Empty:
            if dead := [w.name for w in workers if w.exitcode not in (None, 0)]:
                raise RuntimeError(f"bench worker processes {dead} died") from None
            continue
        if event[0] == "failed":
            raise RuntimeError(f"bench worker {event[1]} failed:\n{event[2]}")
        if event[0] == kind:
            return event
    raise TimeoutError(f"bench workers sent no {kind!r} within {timeout_s:.0f} s")


def _result(scenario: str, report: RunReport, timings: Timings, latencies: np.ndarray, seconds: float,
            names: set[str]) -> BenchResult:
    components = timings.components()
    io_seconds = {k: v for k, v in timings.seconds.items() if k not in names and k not in components}
    return BenchResult(
        scenario=scenario, n_alerts=report.n_alerts, n_dead_letters=report.n_dead_letters,
        seconds=seconds, latencies_s=latencies, stage_seconds={**report.stage_seconds, **io_seconds},
        classifier_seconds={name: timings.seconds.get(name, 0.0) for name in sorted(names)},
        components=components,
    )


def produce(bootstrap_servers: str, topic: str, payloads: Sequence[bytes], produced: dict[int, float],
            identities: Sequence[tuple[str, int]], rate: float | None = None) -> None:
    """Produce payloads (paced at ``rate`` per second if given), noting when each candid left.

    Each is keyed by its oid, so an object's alerts stay in order in one partition and a burst
    is spread over the partitions by object. Unkeyed, librdkafka's sticky partitioner put a
    burst's batches on few partitions: one of two workers got 490 of 599 alerts.
    """
    from confluent_kafka import Producer

    producer = Producer({"bootstrap.servers": bootstrap_servers, "linger.ms": 5})
    start = time.monotonic()
    for i, ((oid, candid), payload) in enumerate(zip(identities, payloads)):
        if rate:
            time.sleep(max(0.0, start + i / rate - time.monotonic()))
        produced[candid] = time.time()
        producer.produce(topic, payload, key=oid.encode())
        producer.poll(0)
    producer.flush(30)


class OutputWatcher(threading.Thread):
    """Notes when each expected candid first arrives on the output topic."""

    def __init__(self, bootstrap_servers: str, topic: str, expected: set[int], timeout_s: float = 600.0) -> None:
        super().__init__(daemon=True)
        from confluent_kafka import OFFSET_BEGINNING, Consumer, TopicPartition

        self.consumer = Consumer({"bootstrap.servers": bootstrap_servers, "group.id": f"watch-{topic}",
                                  "fetch.wait.max.ms": 10})
        self.consumer.assign([TopicPartition(topic, p, OFFSET_BEGINNING) for p in range(PARTITIONS)])
        self.expected = expected
        self.deadline = time.monotonic() + timeout_s
        self.stall_s: float | None = None
        self.settled: Callable[[], bool] = lambda: True
        self.last_arrival = time.monotonic()
        self.arrived: dict[int, float] = {}

    def finish(self, stall_s: float, settled: Callable[[], bool]) -> None:
        """Wait until every expected alert has arrived, or none has for ``stall_s`` and
        ``settled()`` says the workers hold none (a dead letter never arrives), then stop. A
        loaded machine can take longer than ``stall_s`` over one batch: the watcher once gave
        up on a burst's first batch and the bench reported 0 of 153 delivered."""
        self.last_arrival = max(self.last_arrival, time.monotonic())
        self.settled = settled
        self.stall_s = stall_s
        self.join()

    def run(self) -> None:
        try:
            while not self.expected <= self.arrived.keys() and time.monotonic() < self.deadline:
                if self.stall_s is not None and time.monotonic() - self.last_arrival > self.stall_s:
                    if self.settled():
                        return
                    self.last_arrival = time.monotonic()  # asked again after another stall
                for message in self.consumer.consume(100, timeout=0.1):
                    if message.error() is None:
                        candid = decode_classified(message.value())["candid"]
                        self.arrived.setdefault(candid, time.time())
                        self.last_arrival = time.monotonic()
        finally:
            self.consumer.close()
