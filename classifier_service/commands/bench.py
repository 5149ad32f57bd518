"""``alerce-classifier bench``: throughput, latency and where the time goes, on simulated alerts.

One run reports, on the same simulated ZTF alerts: the rate at which fastavro alone decodes
them (the decode limit) and the pipeline's fraction of it; archive replay (``replay``) into
SQLite and into a throw-away PostgreSQL database (``replay_postgresql``); 1 and 2 worker
processes side by side on each (``processes``); Kafka → store → Kafka through a loopback
tansu broker in a burst (``kafka``) and at a steady rate (``kafka_steady``, 280 alerts/s,
Rubin's nightly mean); and the light-curve features per object in one batch and one
object per call (``features``). ``--json`` prints one object whose top-level figures are
the Kafka burst's when it ran, the replay's otherwise; every scenario is nested in full.
"""
from __future__ import annotations

import argparse
import json
import os
import tempfile
import time
from pathlib import Path
from typing import Any

from classifier_service.commands.arguments import SCENARIOS
from classifier_service.commands.run import classifier_names
from classifier_service.settings import CommandError, positive_int


def run(args: argparse.Namespace) -> int:
    from classifier_service.bench import scenarios as bench
    from classifier_service.bench.rubin import rubin_replays
    from classifier_service.classifiers.registry import load_classifiers
    from classifier_service.simulate import simulate_alert_packets
    from classifier_service.stream.tansu import TansuBroker

    if args.api:
        from classifier_service.bench.api import run_from_args
        return run_from_args(args)
    if args.n_alerts < 2:
        raise CommandError("bench needs --n-alerts of at least 2")
    try:
        counts = [] if args.processes == "none" else [positive_int(n) for n in args.processes.split(",")]
    except (ValueError, argparse.ArgumentTypeError) as exc:
        raise CommandError(f"--processes: {exc}") from exc
    names = classifier_names(args.classifiers)
    classifiers = load_classifiers(names)
    start = time.perf_counter()
    payloads = list(simulate_alert_packets(args.n_alerts, seed=args.seed))
    simulate_s = time.perf_counter() - start
    scenarios = SCENARIOS if args.scenario == "both" else (args.scenario,)
    results: dict[str, Any] = {}
    extras: dict[str, Any] = {"load_average_start": os.getloadavg(), "decode_limit": bench.decode_limit(payloads)}
    lightcurves: dict[str, Any] = {}
    with tempfile.TemporaryDirectory(prefix="alerce-bench-") as folder:
        if "replay" in scenarios:
            results["replay"] = bench.replay_bench(payloads, classifiers, batch_size=args.batch_size,
                                                   folder=Path(folder), lightcurves=lightcurves).as_dict()
            extras["pipeline_fraction_of_decode_limit"] = (
                results["replay"]["alerts_per_s"] / extras["decode_limit"]["alerts_per_s"])
            results["replay_stored"] = bench.stored_replay_bench(payloads, classifiers, batch_size=args.batch_size,
                                                                 folder=Path(folder)).as_dict()
            results["replay_lsst"], results["replay_lsst_stored"] = rubin_replays(  # Rubin beside ZTF
                args.n_alerts, args.seed, classifiers, batch_size=args.batch_size, folder=Path(folder))
            if args.postgres != "none":
                try:
                    with bench.postgres_database(args.postgres) as url:
                        results["replay_postgresql"] = bench.replay_bench(
                            payloads, classifiers, batch_size=args.batch_size, folder=Path(folder), url=url).as_dict()
                except Exception as exc:  # noqa: BLE001: no server is a note, not a failed bench
                    extras["postgresql_error"] = f"{type(exc).__name__}: {str(exc).splitlines()[0]}"
            extras["processes"] = _processes(bench, payloads, names, counts, args, Path(folder),
                                             args.postgres != "none" and "postgresql_error" not in extras)
        if "kafka" in scenarios:
            with TansuBroker() as broker:
                kafka_counts = list(dict.fromkeys([1, *counts]))  # one process always: the headline
                with bench.KafkaWorkers(names, processes=max(kafka_counts), batch_size=args.batch_size,
                                        broker=broker, folder=Path(folder), warm_up=payloads[:1]) as workers:
                    for n in kafka_counts:
                        suffix = "" if n == 1 else f"_{n}p"
                        results["kafka" + suffix] = workers.measure(payloads[1:], args.rate, n).as_dict()
                        if args.steady_rate > 0:
                            results["kafka_steady" + suffix] = workers.measure(
                                payloads[1:], args.steady_rate, n).as_dict()
    lc = next((c for c in classifiers if hasattr(c, "extractor")), None)
    if lc is not None:
        if features := bench.features_bench(list(lightcurves.values()), lc.extractor):
            extras["features"] = features
        extras["features_long"] = bench.features_bench(bench.long_lightcurves(seed=args.seed or 0), lc.extractor)
    headline = "kafka" if "kafka" in results else "replay"
    summary = {
        **results[headline],
        "headline": headline,
        "classifiers": [c.name for c in classifiers],
        "n_simulated": len(payloads),
        "batch_size": args.batch_size,
        "simulate_s_per_alert": simulate_s / len(payloads),
        "cpu_count": os.cpu_count(),
        "load_average": os.getloadavg(),
        **extras,
        **results,
    }
    print(json.dumps(summary, indent=2) if args.json else report_text(summary, tuple(results)))
    return 0


def _processes(bench: Any, payloads: list[bytes], names: list[str] | None, counts: list[int],
               args: argparse.Namespace, folder: Path, postgres: bool) -> dict[str, dict[str, Any]]:
    """alerts/s of 1, 2, ... worker processes side by side, on SQLite (a file each) and PostgreSQL."""
    out: dict[str, dict[str, Any]] = {"sqlite": {}, "postgresql": {}}
    for n in counts:
        out["sqlite"][str(n)] = bench.parallel_replay_bench(
            payloads, names, processes=n, batch_size=args.batch_size, folder=folder / f"p{n}")
        if postgres:
            with bench.postgres_database(args.postgres) as url:
                out["postgresql"][str(n)] = bench.parallel_replay_bench(
                    payloads, names, processes=n, batch_size=args.batch_size, folder=folder, url=url)
    return {db: figures for db, figures in out.items() if figures}


def report_text(summary: dict[str, Any], scenarios: tuple[str, ...]) -> str:
    """A table: throughput and latency per scenario, then milliseconds per alert per stage."""
    lines = [f"{summary['n_simulated']} simulated alerts, batches of {summary['batch_size']}, "
             f"classifiers: {', '.join(summary['classifiers']) or 'none'}, {summary['cpu_count']} CPUs",
             f"{'':36}" + "".join(f"{s:>19}" for s in scenarios)]

    def row(label: str, values: list[Any], fmt: str) -> None:
        cells = "".join(f"{'-' if v is None else format(v, fmt):>19}" for v in values)
        lines.append(f"{label:36}{cells}")

    row("alerts/s", [summary[s]["alerts_per_s"] for s in scenarios], ".1f")
    row("latency p50 (s)", [summary[s]["p50_latency_s"] for s in scenarios], ".3f")
    row("latency p95 (s)", [summary[s]["p95_latency_s"] for s in scenarios], ".3f")
    row("CPU ms per alert (the worker)", [_ms(summary[s]["cpu_s_per_alert"]) for s in scenarios], ".2f")
    limit = summary["decode_limit"]
    lines.insert(1, f"decode limit (fastavro alone): {limit['alerts_per_s']:.0f} alerts/s"
                 + (f"; replay is {100 * summary['pipeline_fraction_of_decode_limit']:.0f}% of it"
                    if "pipeline_fraction_of_decode_limit" in summary else "")
                 + f"; load average {summary['load_average'][0]:.1f}")
    for db, figures in summary.get("processes", {}).items():
        lines.insert(2, f"{db}, processes side by side: " + ", ".join(
            f"{n}: {f['alerts_per_s']:.0f} alerts/s" for n, f in figures.items()))
    if "postgresql_error" in summary:
        lines.insert(2, f"PostgreSQL skipped: {summary['postgresql_error']}")
    if "features_long" in summary:  # inserted first, so that it follows the night's figure
        lines.insert(2, "features on long curves " + _features_text(
            summary["features_long"], "simulated periodic stars of 300-1,500 days"))
    if "features" in summary:
        lines.insert(2, "features " + _features_text(summary["features"], "classifiable objects"))
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
    return "\n".join(lines + summary_lines(summary))


def _features_text(figures: dict[str, Any], what: str) -> str:
    return (f"({figures['n_objects']} {what}, median {figures['median_points']:.0f} points): "
            f"{_ms(figures['batch_s_per_object']):.2f} CPU ms/object in one batch, "
            f"{_ms(figures['single_s_per_object']):.2f} one by one")


def summary_lines(summary: dict[str, Any]) -> list[str]:
    """The issue's figures side by side in a few lines, each with its goal in brackets."""
    lines = ["", "summary [goal]:"]

    def line(label: str, text: str) -> None:
        lines.append(f"  {label:40}{text}")

    def kafka(key: str) -> str:
        result = summary.get(key)
        if result is None:
            return "-"
        p50, p95 = result["p50_latency_s"], result["p95_latency_s"]
        return (f"p50 {'-' if p50 is None else f'{p50:.2f}'} s, p95 {'-' if p95 is None else f'{p95:.2f}'} s, "
                f"{result['alerts_per_s']:.0f} alerts/s ({result['n_delivered']} of {result['n_alerts']} delivered)")

    line("decode limit (fastavro alone)", f"{summary['decode_limit']['alerts_per_s']:.0f} alerts/s")
    if "replay" in summary:
        line("replay, 1 process, SQLite", f"{summary['replay']['alerts_per_s']:.0f} alerts/s, "
             f"{100 * summary['pipeline_fraction_of_decode_limit']:.0f}% of the decode limit [>= 50%]")
    if "replay_stored" in summary:
        line("replay again, history stored, SQLite", f"ZTF {summary['replay_stored']['alerts_per_s']:.0f}, "
             f"Rubin {summary['replay_lsst_stored']['alerts_per_s']:.0f} alerts/s "
             f"(first pass: {summary['replay']['alerts_per_s']:.0f}, {summary['replay_lsst']['alerts_per_s']:.0f})")
    if "replay_postgresql" in summary and "replay" in summary:
        ratio = summary["replay"]["alerts_per_s"] / max(summary["replay_postgresql"]["alerts_per_s"], 1e-9)
        line("replay, 1 process, PostgreSQL", f"{summary['replay_postgresql']['alerts_per_s']:.0f} alerts/s, "
             f"SQLite does {ratio:.2f}x as many [<= 1.2x]")
    for db, figures in summary.get("processes", {}).items():
        line(f"processes {' / '.join(figures)}, {db}", " / ".join(
            f"{f['alerts_per_s']:.0f}" for f in figures.values()) + " alerts/s [2 processes >= 1000]")
    for key in sorted(k for k in summary if k.startswith("kafka") and isinstance(summary[k], dict)):
        result = summary[key]
        what = "burst" if result["rate"] == "burst" else f"steady {result['rate']:g}/s"
        goal = " [p95 < 1 s]" if what != "burst" else ""
        n = result["n_processes"]
        shares = f", {' + '.join(map(str, result['alerts_per_process']))} by process" if n > 1 else ""
        line(f"Kafka {what}, {n} process{'es' if n > 1 else ''}", kafka(key) + shares + goal)
    if "features" in summary:
        f = summary["features"]
        line("features CPU ms/obj: batch / one by one",
             f"{_ms(f['batch_s_per_object']):.2f} / {_ms(f['single_s_per_object']):.2f} [batch <= 2, one by one <= 3]")
    else:
        line("features", "not measured (no light-curve classifier loaded, or no classifiable light curve replayed)")
    if "features_long" in summary:
        f = summary["features_long"]
        line("features, long curves: batch / one",
             f"{_ms(f['batch_s_per_object']):.2f} / {_ms(f['single_s_per_object']):.2f} CPU ms/obj "
             f"(median {f['median_points']:.0f} points; the goals are read on the stream's curves above)")
    start, end = summary.get("load_average_start"), summary["load_average"]
    line("load average, start / end", f"{start[0]:.1f} / {end[0]:.1f} on {summary['cpu_count']} CPUs"
         if start else f"{end[0]:.1f} on {summary['cpu_count']} CPUs")
    return lines


def _ms(seconds: float | None) -> float | None:
    return None if seconds is None else 1e3 * seconds
