"""``alerce-classifier bench``: throughput, latency and where the time goes, on simulated alerts.

Two scenarios on the same simulated ZTF alerts, each into a fresh SQLite store: archive
replay (``replay``) and Kafka → store → Kafka through a loopback tansu broker (``kafka``).
``--json`` prints one object whose top-level figures are the Kafka scenario's (the
production path) when it ran, the replay's otherwise; both scenarios are nested in full.
"""
from __future__ import annotations

import argparse
import json
import os
import tempfile
import time
from pathlib import Path
from typing import Any

from classifier_service.commands.options import CommandError, env_default, positive_int
from classifier_service.commands.run import classifier_names

HELP = "benchmark archive replay and Kafka → store → Kafka on simulated alerts"
SCENARIOS = ("replay", "kafka")


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--n-alerts", **env_default("ALERCE_BENCH_N_ALERTS", 600, positive_int),
                        help="simulated alerts per scenario (ALERCE_BENCH_N_ALERTS; default %(default)s)")
    parser.add_argument("--batch-size", **env_default("ALERCE_BATCH_SIZE", 200, positive_int),
                        help="alerts per worker batch (ALERCE_BATCH_SIZE; default %(default)s)")
    parser.add_argument("--scenario", choices=(*SCENARIOS, "both"), default="both")
    parser.add_argument("--classifiers", **env_default("ALERCE_CLASSIFIERS"),
                        help="comma-separated names, 'none', or every registered one when unset")
    parser.add_argument("--rate", type=float, default=None,
                        help="produce to Kafka at this many alerts/s (default: all at once, a burst)")
    parser.add_argument("--seed", type=int, default=0, help="simulator seed")
    parser.add_argument("--json", action="store_true", help="print one JSON object")


def run(args: argparse.Namespace) -> int:
    from classifier_service.bench.scenarios import kafka_bench, replay_bench
    from classifier_service.bench.rubin import rubin_replay
    from classifier_service.classifiers.registry import load_classifiers
    from classifier_service.simulate import simulate_alert_packets

    if args.n_alerts < 2:
        raise CommandError("bench needs --n-alerts of at least 2")
    classifiers = load_classifiers(classifier_names(args.classifiers))
    start = time.perf_counter()
    payloads = list(simulate_alert_packets(args.n_alerts, seed=args.seed))
    simulate_s = time.perf_counter() - start
    scenarios = SCENARIOS if args.scenario == "both" else (args.scenario,)
    results = {}
    with tempfile.TemporaryDirectory(prefix="alerce-bench-") as folder:
        for scenario in scenarios:
            if scenario == "replay":
                result = replay_bench(payloads, classifiers, batch_size=args.batch_size, folder=Path(folder))
            else:
                result = kafka_bench(payloads, classifiers, batch_size=args.batch_size, folder=Path(folder),
                                     rate=args.rate)
            results[scenario] = result.as_dict()
            if scenario == "replay":  # Rubin's alerts beside ZTF's, through the same worker
                results["replay_lsst"] = rubin_replay(args.n_alerts, args.seed, classifiers,
                                                      batch_size=args.batch_size, folder=Path(folder))
    summary = {
        **results[scenarios[-1]],
        "headline": scenarios[-1],
        "classifiers": [c.name for c in classifiers],
        "n_simulated": len(payloads),
        "batch_size": args.batch_size,
        "simulate_s_per_alert": simulate_s / len(payloads),
        "cpu_count": os.cpu_count(),
        **results,
    }
    print(json.dumps(summary, indent=2) if args.json else report_text(summary, tuple(results)))
    return 0


def report_text(summary: dict[str, Any], scenarios: tuple[str, ...]) -> str:
    """A table: throughput and latency per scenario, then milliseconds per alert per stage."""
    lines = [f"{summary['n_simulated']} simulated alerts, batches of {summary['batch_size']}, "
             f"classifiers: {', '.join(summary['classifiers']) or 'none'}, {summary['cpu_count']} CPUs",
             f"{'':36}" + "".join(f"{s:>14}" for s in scenarios)]

    def row(label: str, values: list[Any], fmt: str) -> None:
        cells = "".join(f"{'-' if v is None else format(v, fmt):>14}" for v in values)
        lines.append(f"{label:36}{cells}")

    row("alerts/s", [summary[s]["alerts_per_s"] for s in scenarios], ".1f")
    row("latency p50 (s)", [summary[s]["p50_latency_s"] for s in scenarios], ".3f")
    row("latency p95 (s)", [summary[s]["p95_latency_s"] for s in scenarios], ".3f")
    row("CPU ms per alert (this process)", [_ms(summary[s]["cpu_s_per_alert"]) for s in scenarios], ".2f")
    lines.append("ms per alert:")
    for key in ("stage_s_per_alert", "classifier_s_per_alert"):
        names = dict.fromkeys(name for s in scenarios for name in summary[s][key])
        for name in names:
            row(f"  {name}", [_ms(summary[s][key].get(name)) for s in scenarios], ".3f")
    components = dict.fromkeys(name for s in scenarios for name in summary[s]["classifier_components"])
    if components:
        lines.append("ms per item (stamp, object, row) / per batch call:")
    for name in components:
        parts = [summary[s]["classifier_components"].get(name, {}) for s in scenarios]
        row(f"  {name} per item", [_ms(p.get("s_per_item")) for p in parts], ".3f")
        row(f"  {name} per call", [_ms(p.get("s_per_call")) for p in parts], ".1f")
    return "\n".join(lines)


def _ms(seconds: float | None) -> float | None:
    return None if seconds is None else 1e3 * seconds
