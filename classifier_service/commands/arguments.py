"""Every subcommand's one-line help and arguments, declared apart from its implementation.

``alerce-classifier --version`` and ``COMMAND --help`` build the whole parser; declared here,
it imports none of the broker (no numpy, SQLAlchemy, fastavro or Kafka client), and each
command's module is imported only when that command runs. A few defaults shown in ``--help``
belong to heavy modules (the store's URL, the consumer's linger, the simulator's class mix,
ZTF's topic name): they are repeated here, and ``tests/service/test_cli_conventions.py``
checks that they still agree.
"""
from __future__ import annotations

import argparse
from collections.abc import Callable
from pathlib import Path
from typing import NamedTuple

from classifier_service.commands.options import env_default
from classifier_service.settings import (
    database_url,
    existing_path,
    finite_float,
    flag,
    non_negative_float,
    non_negative_int,
    port,
    positive_float,
    positive_int,
    positive_ints,
)
from classifier_service.train import SHARED_DATA

DEFAULT_DB = "sqlite:///var/alerce.sqlite3"  # classifier_service.store.DEFAULT_URL
DEFAULT_LINGER_S = 0.05  # classifier_service.stream.consumer.DEFAULT_LINGER_S
ZTF_DAILY_TOPIC = "ztf_{date}_programid1"  # classifier_service.stream.kafka.ZTF_DAILY_TOPIC
SIMULATED_MIX = {"SN": 0.2, "VS": 0.35, "AGN": 0.15, "asteroid": 0.15, "bogus": 0.15}  # simulate.alerts.DEFAULT_MIX
SURVEYS = ("lsst", "ztf")  # the keys of commands.simulate.SIMULATORS
TRAINABLE = ("stamp", "lc", "lsst-lc", "lsst-stamp")  # the keys of commands.train.TRAINERS
DEFAULT_PORT = 8001  # where example_tom's ALERCE_API_URL looks
EVALUATED = ("stamp", "lc", "adversarial", "periods")
SCENARIOS = ("replay", "kafka")
POSTGRES = "postgresql://postgres@127.0.0.1:5432"
STEADY_RATE = 280.0  # Rubin: ~10 million alerts a night
# uvicorn closes a connection idle for 5 s; a client reusing it just then gets a reset instead of
# an answer, and under load (the server's loop late, a client slow to send) that happened to 5
# of 3,900 requests of 100 clients at once. 65 s outlasts the idle timeout of the usual proxies
# in front (60 s), so the proxy, not the API, closes an idle connection.
KEEP_ALIVE_S = 65.0


def run_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--bootstrap-servers", **env_default("ALERCE_BOOTSTRAP_SERVERS"),
                        help="Kafka brokers host:port[,...] (ALERCE_BOOTSTRAP_SERVERS)")
    topics = parser.add_mutually_exclusive_group()
    topics.add_argument("--topic", action="append", default=None,
                        help="topic to read, repeatable or comma-separated; '{date}' expands over "
                             f"--date, e.g. {ZTF_DAILY_TOPIC} (ALERCE_TOPIC)")
    topics.add_argument("--topic-pattern", **env_default("ALERCE_TOPIC_PATTERN"),
                        help="regex subscription that also follows topics created later, "
                             r"e.g. '^ztf_.*_programid1$' (ALERCE_TOPIC_PATTERN)")
    parser.add_argument("--date", **env_default("ALERCE_DATE", "today"),
                        help="'today', YYYYMMDD or YYYYMMDD:YYYYMMDD (UTC) for '{date}' topics "
                             "(ALERCE_DATE; default %(default)s)")
    parser.add_argument("--group-id", **env_default("ALERCE_GROUP_ID", "alerce-classifier"),
                        help="consumer group shared by the workers (ALERCE_GROUP_ID)")
    parser.add_argument("--output-topic", **env_default("ALERCE_OUTPUT_TOPIC"),
                        help="topic of the classified stream; none: store only (ALERCE_OUTPUT_TOPIC)")
    parser.add_argument("--dead-letter-topic", **env_default("ALERCE_DEAD_LETTER_TOPIC"),
                        help="topic for inputs that could not be processed (ALERCE_DEAD_LETTER_TOPIC)")
    parser.add_argument("--db", **env_default("ALERCE_DB", DEFAULT_DB, database_url),
                        help="store URL, sqlite:///... or postgresql+psycopg2://... (ALERCE_DB)")
    parser.add_argument("--batch-size", **env_default("ALERCE_BATCH_SIZE", 500, positive_int),
                        help="most messages per batch (ALERCE_BATCH_SIZE)")
    parser.add_argument("--batch-timeout", **env_default("ALERCE_BATCH_TIMEOUT_S", 1.0, positive_float),
                        help="seconds to wait for a batch's first message (ALERCE_BATCH_TIMEOUT_S)")
    parser.add_argument("--batch-linger", **env_default("ALERCE_BATCH_LINGER_S", DEFAULT_LINGER_S,
                                                        non_negative_float),
                        help="then seconds to wait for more to fill it (ALERCE_BATCH_LINGER_S; "
                             "default %(default)s)")
    parser.add_argument("--stop-after-idle", **env_default("ALERCE_STOP_AFTER_IDLE_S", None, non_negative_float),
                        help="exit after this many seconds without a message (ALERCE_STOP_AFTER_IDLE_S)")
    parser.add_argument("--max-batches", type=positive_int, default=None, help="exit after this many batches")
    parser.add_argument("--max-outage", **env_default("ALERCE_MAX_OUTAGE_S", 600.0, positive_float),
                        help="seconds to keep retrying while the database or Kafka is unreachable, "
                             "then exit with status 3 (ALERCE_MAX_OUTAGE_S)")
    parser.add_argument("--classifiers", **env_default("ALERCE_CLASSIFIERS"),
                        help="comma-separated classifier names, 'none', or all registered when unset "
                             "(ALERCE_CLASSIFIERS)")
    parser.add_argument("--schema-registry", metavar="URL", **env_default("ALERCE_SCHEMA_REGISTRY"),
                        help="Confluent schema-registry URL for wire-format messages, as Rubin's "
                             "stream sends (ALERCE_SCHEMA_REGISTRY)")
    parser.add_argument("--kafka-option", action="append", default=[], metavar="KEY=VALUE",
                        help="librdkafka setting for consumer and producer, repeatable; "
                             "also ALERCE_KAFKA_<KEY> with '_' for '.'")
    parser.add_argument("--processes", **env_default("ALERCE_PROCESSES", 1, positive_int),
                        help="worker processes in the consumer group, supervised by this one; about "
                             "one per core (ALERCE_PROCESSES; default %(default)s)")
    parser.add_argument("--fast-group", nargs=0, action=_SetTrue,
                        **env_default("ALERCE_FAST_GROUP", False, flag),
                        help="quick group joins and failover (6 s session timeout, 100 ms fetch "
                             "wait): right for loopback brokers and tests, chatty on a large "
                             "cluster (ALERCE_FAST_GROUP)")


class _SetTrue(argparse.Action):
    """A switch whose default may come from the environment (``store_true`` takes no type)."""

    def __call__(self, parser, namespace, values, option_string=None) -> None:
        setattr(namespace, self.dest, True)


def _replay_worker_arguments(parser: argparse.ArgumentParser, when: str = "") -> None:
    """The store and the worker of a replay (``when``: the action they are for, if not all)."""
    parser.add_argument("--db", **env_default("ALERCE_DB", DEFAULT_DB, database_url),
                        help="SQLAlchemy URL of the store (env ALERCE_DB; default %(default)s)")
    parser.add_argument("--batch-size", **env_default("ALERCE_BATCH_SIZE", 500, positive_int),
                        help=f"{when}alerts per batch (env ALERCE_BATCH_SIZE; default %(default)s)")
    parser.add_argument("--classifiers", **env_default("ALERCE_CLASSIFIERS"),
                        help=f"{when}comma-separated classifier names (default: every one with a model)")
    parser.add_argument("--no-classify", action="store_true", help=f"{when}store only; run no classifier")


def replay_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("paths", nargs="+", metavar="PATH", type=existing_path,
                        help=".avro file, folder or tarball")
    _replay_worker_arguments(parser)
    parser.add_argument("--processes", **env_default("ALERCE_PROCESSES", 1, positive_int),
                        help="worker processes, each object's alerts in order in one of them "
                             "(ALERCE_PROCESSES; default %(default)s)")
    parser.add_argument("--output", help="also write classified alerts as JSON lines to this file, and "
                                         'the dead letters as lines of their own ("dead_letter": true)')
    parser.add_argument("--schema-registry", metavar="URL", **env_default("ALERCE_SCHEMA_REGISTRY"),
                        help="Confluent schema-registry URL for files holding one wire-format "
                             "message each, e.g. saved from Rubin's stream (env ALERCE_SCHEMA_REGISTRY)")


def classify_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("paths", nargs="*", metavar="PATH", type=existing_path,
                        help=".avro file, folder or tarball")
    parser.add_argument("--detections", type=existing_path, help="ALeRCE-format detections CSV")
    parser.add_argument("--non-detections", type=existing_path,
                        help="ALeRCE-format non-detections CSV (mjd or jd, fid, diffmaglim)")
    parser.add_argument("--classifiers", **env_default("ALERCE_CLASSIFIERS"),
                        help="comma-separated classifier names (default: every one with a model)")
    parser.add_argument("--batch-size", **env_default("ALERCE_BATCH_SIZE", 500, positive_int),
                        help="alerts per batch (env ALERCE_BATCH_SIZE; default %(default)s)")


def serve_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--db", **env_default("ALERCE_DB", DEFAULT_DB, database_url),
                        help="store URL: sqlite:///path or postgresql://... (env ALERCE_DB)")
    parser.add_argument("--host", **env_default("ALERCE_API_HOST", "127.0.0.1"),
                        help="address to listen on (env ALERCE_API_HOST)")
    parser.add_argument("--port", **env_default("ALERCE_API_PORT", DEFAULT_PORT, port),
                        help="port to listen on (env ALERCE_API_PORT)")
    parser.add_argument("--keep-alive", **env_default("ALERCE_API_KEEP_ALIVE", KEEP_ALIVE_S, positive_float),
                        metavar="SECONDS",
                        help="how long an idle connection is kept open for the client's next request; "
                             "longer than the idle timeout of a proxy in front (env ALERCE_API_KEEP_ALIVE; "
                             "default %(default)s)")
    parser.add_argument("--workers", **env_default("ALERCE_API_WORKERS", 1, positive_int),
                        help="processes answering on the one port, each with its own connections "
                             "(env ALERCE_API_WORKERS; default %(default)s)")
    parser.add_argument("--client-config", type=Path, default=None, metavar="PATH",
                        help="also write an alerce client config pointing here; then "
                             "export ALERCE_CONFIG_PATH=PATH")


def simulate_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--n-alerts", type=positive_int, required=True, help="how many alerts to simulate")
    parser.add_argument("--survey", choices=SURVEYS, default="ztf",
                        help="whose alerts: ZTF's or Rubin's (default %(default)s)")
    parser.add_argument("--seed", type=non_negative_int, default=0, help="random seed (same seed, same alerts)")
    parser.add_argument("--start-mjd", type=finite_float, default=None, help="MJD of the simulated night")
    parser.add_argument("--class-mix", default=None,
                        help="weights of the objects' classes, e.g. SN=0.3,VS=0.3,AGN=0.2,asteroid=0.1,bogus=0.1 "
                             f"(default {','.join(f'{k}={v}' for k, v in SIMULATED_MIX.items())})")
    target = parser.add_mutually_exclusive_group()  # one is needed: checked in run(), env included
    target.add_argument("--out", type=Path, help="folder for .avro files")
    target.add_argument("--bootstrap-servers", **env_default("ALERCE_BOOTSTRAP_SERVERS"),
                        help="Kafka brokers host:port (env ALERCE_BOOTSTRAP_SERVERS)")
    parser.add_argument("--per-file", type=positive_int, default=1, help="alerts per .avro file (with --out)")
    parser.add_argument("--topic", default=None, help="Kafka topic (with --bootstrap-servers)")
    parser.add_argument("--partitions", type=positive_int, default=1, help="partitions of the topic if it is created")
    parser.add_argument("--kafka-option", action="append", default=[], metavar="KEY=VALUE",
                        help="librdkafka setting (repeatable; also ALERCE_KAFKA_* variables)")


def train_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--only", choices=TRAINABLE, default=None,
                        help="train one classifier (default: all; lsst-lc and lsst-stamp are Rubin's)")
    parser.add_argument("--quick", action="store_true",
                        help="small, fast models for tests and smoke runs (not for shipping)")
    parser.add_argument("--out", type=Path, default=Path("models"),
                        help="models folder; each classifier goes to OUT/<name>/<version>/ "
                             "(default ./%(default)s)")
    parser.add_argument("--seed", type=int, default=0, help="random seed of simulation and training")
    parser.add_argument("--labels", type=existing_path, default=None,
                        help="your labels CSV (oid or objectId, classALeRCE) for the light-curve classifier")
    parser.add_argument("--detections", type=existing_path, default=None,
                        help="your detections CSV in ALeRCE's format (objectId/oid, mjd, fid, magpsf, sigmapsf)")
    parser.add_argument("--non-detections", type=existing_path, default=None,
                        help="your non-detections CSV (objectId/oid, mjd or jd, fid, diffmaglim)")


def evaluate_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--only", choices=EVALUATED, default=None, help="one part (default: all four)")
    parser.add_argument("--data-dir", type=existing_path, default=SHARED_DATA,
                        help="the real data, read in place (default %(default)s)")
    parser.add_argument("--bts-limit", type=positive_int, default=None,
                        help="read only the first N BTS SN Ia light curves (default: all)")
    parser.add_argument("--resamples", type=positive_int, default=1000,
                        help="bootstrap resamples per interval (default %(default)s)")
    parser.add_argument("--steps", type=non_negative_int, default=6,
                        help="adversarial giveaways removed one by one after the full run (default %(default)s)")
    parser.add_argument("--seed", type=int, default=0, help="seed of the simulated alerts, folds and bootstrap")
    parser.add_argument("--period-seeds", type=positive_ints, default=[5, 6, 7, 8, 9, 10],
                        help="seeds of the simulated periodic stars whose periods are sought (default 5,6,7,8,9,10)")


def bench_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--n-alerts", **env_default("ALERCE_BENCH_N_ALERTS", 600, positive_int),
                        help="simulated alerts per scenario (ALERCE_BENCH_N_ALERTS; default %(default)s)")
    parser.add_argument("--batch-size", **env_default("ALERCE_BATCH_SIZE", 200, positive_int),
                        help="alerts per worker batch (ALERCE_BATCH_SIZE; default %(default)s)")
    parser.add_argument("--scenario", choices=(*SCENARIOS, "both"), default="both")
    parser.add_argument("--classifiers", **env_default("ALERCE_CLASSIFIERS"),
                        help="comma-separated names, 'none', or every registered one when unset")
    parser.add_argument("--rate", type=float, default=None,
                        help="produce the 'kafka' scenario at this many alerts/s (default: all at once, a burst)")
    parser.add_argument("--steady-rate", type=float, default=STEADY_RATE,
                        help="alerts/s of the 'kafka_steady' scenario; 0 skips it (default %(default)s)")
    parser.add_argument("--processes", default="1,2",
                        help="worker process counts to run side by side, comma-separated; 'none' skips "
                             "(default %(default)s)")
    parser.add_argument("--postgres", **env_default("ALERCE_BENCH_POSTGRES", POSTGRES),
                        help="PostgreSQL server (a database is created and dropped on it); 'none' skips "
                             "(ALERCE_BENCH_POSTGRES; default %(default)s)")
    parser.add_argument("--seed", type=int, default=0, help="simulator seed")
    parser.add_argument("--json", action="store_true", help="print one JSON object")
    parser.add_argument("--api", action="store_true",
                        help="measure the API instead: p50/p95 per query on a store of --api-objects objects, "
                             "SQLite and PostgreSQL side by side; each store is built once and kept for later "
                             "runs: API_STORE/api-N.sqlite3 and the database alerce_bench_api_N on --postgres "
                             "(remove them with rm and DROP DATABASE)")
    parser.add_argument("--api-objects", type=positive_int, default=100_000,
                        help="objects (N) in the API bench's stores (default %(default)s)")
    parser.add_argument("--api-store", default="var/bench",
                        help="folder of the API bench's SQLite store (default %(default)s)")
    parser.add_argument("--api-repeats", type=positive_int, default=40, help="requests per API query")
    parser.add_argument("--api-clients", type=non_negative_int, default=8,
                        help="then this many clients at once against `serve` over each store; 0 skips "
                             "(default %(default)s)")
    parser.add_argument("--api-workers", type=positive_ints, default=[1, 2],
                        help="`serve --workers` counts the clients are measured against, comma-separated "
                             "(default 1,2)")


DEAD_LETTER_ACTIONS = ("summary", "list", "export", "retry")


def dead_letters_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("action", nargs="?", choices=DEAD_LETTER_ACTIONS, default="summary",
                        help="summary: how many each stage holds and the latest; list: one line each; export: "
                             "their bytes as files, with a manifest; retry: run them through the worker "
                             "again and delete the rows of those that now go through (default %(default)s)")
    _replay_worker_arguments(parser, when="retry: ")
    parser.add_argument("--stage", action="append", default=[], metavar="STAGE",
                        help="only the dead letters of this stage (decode, parse, lightcurve, cutout, classify, "
                             "store); repeatable")
    parser.add_argument("--id", action="append", type=positive_int, default=[], dest="ids", metavar="ID",
                        help="only this dead letter (the id `list` shows); repeatable")
    parser.add_argument("--limit", type=positive_int, default=None,
                        help="list: at most this many, the newest (default: all)")
    parser.add_argument("--out", type=Path, metavar="FOLDER",
                        help="export: the folder to write <id>.payload files and dead_letters.jsonl into")
    parser.add_argument("--schema-registry", metavar="URL", **env_default("ALERCE_SCHEMA_REGISTRY"),
                        help="retry: Confluent schema-registry URL for wire-format inputs, as Rubin's stream "
                             "sends (env ALERCE_SCHEMA_REGISTRY)")


class Command(NamedTuple):
    """A subcommand as ``--help`` shows it; its module ``classifier_service.commands.<name>`` runs it."""

    help: str
    add_arguments: Callable[[argparse.ArgumentParser], None]


COMMANDS: dict[str, Command] = {
    "run": Command("consume alerts from Kafka, store and classify them, produce the classified stream",
                   run_arguments),
    "replay": Command("replay .avro files, folders and tarballs of alerts into a store (SQLite or PostgreSQL)",
                      replay_arguments),
    "classify": Command("classify alerts (PATH...) or ALeRCE-format light-curve CSVs; print one JSON line each",
                        classify_arguments),
    "serve": Command("serve ALeRCE's ZTF API routes and stamps over the store (read-only)", serve_arguments),
    "simulate": Command("write simulated ZTF (4.02, 30-day histories) or Rubin (lsst v11, a year's) alerts "
                        "to files or to Kafka", simulate_arguments),
    "train": Command("train the stamp and light-curve classifiers, ZTF's and Rubin's, from simulated and real "
                     "labelled data", train_arguments),
    "evaluate": Command("evaluate the shipped classifiers on real labelled data and the simulator against real "
                        "alerts (adversarial validation)", evaluate_arguments),
    "bench": Command("benchmark archive replay and Kafka → store → Kafka on simulated alerts", bench_arguments),
    "dead-letters": Command("what went aside as dead letters in a store: count, list, export their bytes, or "
                            "retry them once their cause is mended", dead_letters_arguments),
}
