"""``alerce-classifier bench --json``: every scenario runs end to end and reports the agreed keys."""
from __future__ import annotations

import json

import pytest

from classifier_service.cli import main

pytestmark = pytest.mark.kafka


def test_bench_json_reports_throughput_latency_and_time_per_stage(capsys):
    assert main(["--log-level", "WARNING", "bench", "--json", "--n-alerts", "12", "--batch-size", "4",
                 "--processes", "2", "--postgres", "none"]) == 0
    summary = json.loads(capsys.readouterr().out)

    for key in ("alerts_per_s", "p50_latency_s", "p95_latency_s", "stage_s_per_alert"):
        assert key in summary
    assert summary["headline"] == "kafka"
    for scenario in ("replay", "replay_stored", "replay_lsst", "replay_lsst_stored", "kafka"):
        result = summary[scenario]
        assert result["n_alerts"] > 0 and result["alerts_per_s"] > 0
        assert result["p95_latency_s"] >= result["p50_latency_s"] > 0
        assert {"decode", "parse", "store", "publish"} <= set(result["stage_s_per_alert"])
        assert set(result["classifier_s_per_alert"]) == set(summary["classifiers"])
    assert {"consume", "flush", "commit"} <= set(summary["kafka"]["stage_s_per_alert"])
    assert summary["kafka"]["n_delivered"] == summary["kafka"]["n_alerts"]
    assert summary["decode_limit"]["alerts_per_s"] > 0 < summary["pipeline_fraction_of_decode_limit"]
    assert summary["processes"]["sqlite"]["2"]["n_alerts"] == summary["replay"]["n_alerts"]
    assert summary["kafka_steady"]["rate"] == 280 and summary["kafka_steady"]["n_delivered"] > 0
    # beside the night's curves, curves of years simulated for the figure
    assert summary["features_long"]["n_objects"] > 0 and summary["features_long"]["median_points"] >= 40
    # --processes 2 also runs both Kafka scenarios with two workers in one consumer group
    assert summary["kafka_2p"]["n_processes"] == summary["kafka_steady_2p"]["n_processes"] == 2
    assert summary["kafka_2p"]["n_delivered"] == summary["kafka_2p"]["n_alerts"] == summary["kafka"]["n_alerts"]
