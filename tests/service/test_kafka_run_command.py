"""``alerce-classifier run``: what it subscribes to and how flags and ALERCE_* variables combine."""
from __future__ import annotations

import argparse
from datetime import datetime, timezone

import pytest

from classifier_service.commands import run


def parse(argv: list[str]) -> argparse.Namespace:
    parser = argparse.ArgumentParser()
    run.add_arguments(parser)
    return parser.parse_args(argv)


def test_daily_topic_template_expands_over_the_date_range():
    args = parse(["--topic", "ztf_{date}_programid1", "--date", "20240101:20240102"])
    assert run.topics_of(args) == ["ztf_20240101_programid1", "ztf_20240102_programid1"]


def test_today_names_tonights_ztf_topic_in_utc():
    today = datetime.now(timezone.utc).strftime("%Y%m%d")
    assert run.topics_of(parse(["--topic", "ztf_{date}_programid1"])) == [f"ztf_{today}_programid1"]


def test_topics_repeat_or_split_on_commas():
    assert run.topics_of(parse(["--topic", "a,b", "--topic", "c"])) == ["a", "b", "c"]


def test_a_topic_pattern_is_a_regex_subscription():
    assert run.topics_of(parse(["--topic-pattern", "ztf_.*_programid1$"])) == ["^ztf_.*_programid1$"]


def test_flags_fall_back_to_alerce_environment_variables(monkeypatch):
    monkeypatch.setenv("ALERCE_TOPIC", "raw1,raw2")
    monkeypatch.setenv("ALERCE_GROUP_ID", "night-shift")
    monkeypatch.setenv("ALERCE_BATCH_SIZE", "50")
    monkeypatch.setenv("ALERCE_FAST_GROUP", "true")
    args = parse([])
    assert run.topics_of(args) == ["raw1", "raw2"]
    assert (args.group_id, args.batch_size, args.fast_group) == ("night-shift", 50, True)


def test_without_any_topic_the_error_says_what_to_give(monkeypatch):
    monkeypatch.delenv("ALERCE_TOPIC", raising=False)
    with pytest.raises(ValueError, match="--topic"):
        run.topics_of(parse([]))


def test_classifiers_none_means_no_classifier_and_unset_means_all():
    assert run.classifier_names("none") == []
    assert run.classifier_names(None) is None
    assert run.classifier_names("stamp_classifier, lc_classifier") == ["stamp_classifier", "lc_classifier"]


def test_a_malformed_kafka_option_is_refused_before_connecting(capsys):
    from classifier_service.cli import main

    assert main(["run", "--bootstrap-servers", "127.0.0.1:9", "--topic", "t", "--kafka-option", "oops"]) == 2
    assert "key=value" in capsys.readouterr().err



@pytest.mark.kafka
def test_sigterms_arriving_after_the_worker_finished_do_not_kill_its_clean_exit(tansu, tmp_path):
    """A supervisor's SIGTERM can race the worker's own idle exit and land after the work is
    committed, even while Python exits (when it gives handled signals their default action back)."""
    import signal
    import subprocess
    import sys
    import time

    from classifier_service.stream.kafka import create_topics

    topic = f"late-signal-{tmp_path.name}"
    create_topics(tansu.bootstrap_servers, {topic: 1})
    script = (
        "import sys, time\n"
        "from classifier_service.cli import main\n"
        f"status = main(['run', '--bootstrap-servers', {tansu.bootstrap_servers!r}, '--topic', {topic!r},"
        f" '--db', {'sqlite:///' + str(tmp_path / 'store.sqlite3')!r}, '--classifiers', 'none', '--fast-group',"
        " '--stop-after-idle', '0.5'])\n"
        "print('finished', flush=True)\n"
        "time.sleep(0.5)\n"
        "sys.exit(status)\n")
    worker = subprocess.Popen([sys.executable, "-c", script], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        assert worker.stdout.readline().strip() == "finished", worker.stderr.read()[-2000:]
        while worker.poll() is None:
            worker.send_signal(signal.SIGTERM)
            time.sleep(0.01)
        assert worker.returncode == 0, worker.stderr.read()[-2000:]
    finally:
        if worker.poll() is None:
            worker.kill()
