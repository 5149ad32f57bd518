"""``alerce-classifier simulate``: synthetic ZTF 4.02 or Rubin (lsst v11) alerts to .avro files or a Kafka topic."""
from __future__ import annotations

import argparse
import logging
import math
import time
from collections.abc import Iterable, Iterator
from itertools import islice
from pathlib import Path

from classifier_service.alert import JD_TO_MJD
from classifier_service.commands.arguments import simulate_arguments as add_arguments  # noqa: F401 (tests)
from classifier_service.commands.preflight import check_kafka
from classifier_service.commands.progress import progress
from classifier_service.settings import CommandError
from classifier_service.simulate.alerts import ALERTS_PER_NIGHT, class_sampler, simulate_alert_packets
from classifier_service.simulate.objects import HISTORY_DAYS as ZTF_HISTORY_DAYS
from classifier_service.simulate.packets import merge_containers
from classifier_service.simulate.rubin import HISTORY_DAYS as RUBIN_HISTORY_DAYS
from classifier_service.simulate.rubin import simulate_rubin_alerts
from classifier_service.stream.consumer import client_settings, env_options, parse_options
from classifier_service.stream.kafka import PRODUCER_DEFAULTS, create_topics
from classifier_service.surveys.base import MJD_OF_UNIX_EPOCH
from classifier_service.surveys.lsst import FIRST_MJD as RUBIN_FIRST_MJD
from classifier_service.surveys.ztf import FIRST_JD as ZTF_FIRST_JD

SIMULATORS = {"ztf": simulate_alert_packets, "lsst": simulate_rubin_alerts}
# The broker refuses an alert with an epoch before its survey began (classifier_service.surveys),
# and each simulated alert carries its object's history: the first night whose alerts it reads.
FIRST_NIGHT = {"ztf": ZTF_FIRST_JD - JD_TO_MJD + ZTF_HISTORY_DAYS, "lsst": RUBIN_FIRST_MJD + RUBIN_HISTORY_DAYS}
EXAMPLE_MIX = "SN=0.3,VS=0.7"
log = logging.getLogger(__name__)


def parse_class_mix(text: str | None) -> dict[str, float] | None:
    """``"SN=0.3,VS=0.7"`` to ``{"SN": 0.3, "VS": 0.7}``, checked whole (form, weights, class
    names, their sum) so that a bad mix fails before anything is simulated; ValueError says how."""
    if not text:
        return None
    mix: dict[str, float] = {}
    for item in text.split(","):
        name, sep, weight = (part.strip() for part in item.partition("="))
        if not sep:
            raise ValueError(f"{item!r} is not NAME=WEIGHT, as in {EXAMPLE_MIX}")
        if name in mix:
            raise ValueError(f"{name} is given twice")
        try:
            value = float(weight)
        except ValueError:
            raise ValueError(f"the weight of {name}, {weight!r}, is not a number (NAME=WEIGHT, "
                             f"as in {EXAMPLE_MIX})") from None
        if not (math.isfinite(value) and value >= 0):
            raise ValueError(f"the weight of {name}, {weight!r}, must be a finite number, 0 or more")
        mix[name] = value
    class_sampler(mix)  # unknown class names, weights that sum to 0
    return mix


def check_arguments(args: argparse.Namespace) -> None:
    """What the parser cannot check alone (the options together, the disk), refused before
    anything is simulated or written."""
    if args.out is None and not args.bootstrap_servers:
        raise CommandError("simulate needs --out DIR or --bootstrap-servers HOST:PORT")
    if args.out is None and not args.topic:
        raise CommandError("--bootstrap-servers needs --topic")
    if args.out is not None and args.out.exists() and not args.out.is_dir():
        raise CommandError(f"argument --out: '{args.out}': a file, not a folder")
    if args.start_mjd is not None:
        check_start_mjd(args.start_mjd, args.survey, args.n_alerts)


def check_start_mjd(start_mjd: float, survey: str, n_alerts: int) -> None:
    """The run's nights must be ones whose alerts the broker reads: from the survey's
    :data:`FIRST_NIGHT` to today (it refuses epochs from the future)."""
    def refused(reason: str) -> CommandError:
        return CommandError(f"argument --start-mjd: '{start_mjd}': {reason}")

    if start_mjd < FIRST_NIGHT[survey]:
        raise refused(f"the first night of --survey {survey} is MJD {FIRST_NIGHT[survey]:g}: the survey's "
                      "first epoch plus the history each alert carries")
    today = math.floor(time.time() / 86400.0 + MJD_OF_UNIX_EPOCH)
    last_night = math.floor(start_mjd) + nights_of(survey, n_alerts) - 1
    if last_night > today:
        raise refused(f"the run's last night, MJD {last_night}, is after today (MJD {today}); "
                      "the broker refuses alerts from the future")


def nights_of(survey: str, n_alerts: int) -> int:
    """The nights a run spans: ZTF's hold ALERTS_PER_NIGHT alerts each, Rubin's is one night."""
    return math.ceil(n_alerts / ALERTS_PER_NIGHT) if survey == "ztf" else 1


def write_files(packets: Iterable[bytes], out: Path, per_file: int) -> int:
    """Packets into ``out/alerts_NNNNNN.avro``, ``per_file`` alerts to a file; returns the file count.

    Several one-record containers concatenated are not one Avro file, so a file with more
    than one alert is rewritten as a single container holding all its records.
    """
    out.mkdir(parents=True, exist_ok=True)
    iterator: Iterator[bytes] = iter(packets)
    n_files = 0
    while chunk := list(islice(iterator, per_file)):
        data = chunk[0] if len(chunk) == 1 else merge_containers(chunk)
        (out / f"alerts_{n_files:06d}.avro").write_bytes(data)
        n_files += 1
    return n_files


def produce(packets: Iterable[bytes], bootstrap_servers: str, topic: str, partitions: int,
            settings: dict[str, str]) -> int:
    """Each packet as one Kafka message (the ZTF convention); the topic is created when missing."""
    from confluent_kafka import Producer

    create_topics(bootstrap_servers, {topic: partitions}, settings)
    producer = Producer(client_settings(bootstrap_servers, PRODUCER_DEFAULTS, settings))
    failures: list[str] = []

    def delivered(error, message) -> None:
        if error is not None:
            failures.append(str(error))

    n = 0
    for payload in packets:
        while True:
            try:
                producer.produce(topic, payload, on_delivery=delivered)
                break
            except BufferError:
                producer.poll(0.1)
        producer.poll(0)
        n += 1
    remaining = producer.flush(60)
    if remaining or failures:
        raise RuntimeError(f"{remaining} undelivered, {len(failures)} failed: {failures[:1]}")
    return n


def run(args: argparse.Namespace) -> int:
    check_arguments(args)
    try:
        mix = parse_class_mix(args.class_mix)
    except ValueError as exc:
        raise CommandError(f"argument --class-mix: {args.class_mix!r}: {exc}") from exc
    try:
        settings = {**env_options(), **parse_options(args.kafka_option)}
    except ValueError as exc:
        raise CommandError(str(exc)) from exc
    if args.out is None:
        check_kafka(args.bootstrap_servers, settings)
    packets = SIMULATORS[args.survey](args.n_alerts, seed=args.seed, start_mjd=args.start_mjd, class_mix=mix)
    counted = _Counter(progress(packets, "simulate", "alerts", total=args.n_alerts))
    started = time.perf_counter()
    if args.out is not None:
        n_files = write_files(counted, args.out, args.per_file)
        where = f"{n_files} files in {args.out}"
    else:
        produce(counted, args.bootstrap_servers, args.topic, args.partitions, settings)
        where = f"topic {args.topic} at {args.bootstrap_servers}"
    seconds = time.perf_counter() - started
    print(f"simulated {counted.n} alerts ({counted.bytes / 1e6:.1f} MB) to {where} "
          f"in {seconds:.1f} s ({counted.n / max(seconds, 1e-9):.0f} alerts/s)")
    return 0


class _Counter:
    """Passes packets through, counting them and their bytes for the summary."""

    def __init__(self, packets: Iterable[bytes]):
        self.packets, self.n, self.bytes = packets, 0, 0

    def __iter__(self) -> Iterator[bytes]:
        for packet in self.packets:
            self.n += 1
            self.bytes += len(packet)
            yield packet
