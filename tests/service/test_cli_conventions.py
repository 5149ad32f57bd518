"""The CLI's conventions: what a user who gets something wrong sees.

Each mistake a user can fix (a path, a database URL, an unreachable database or Kafka, a bad
option or environment value, a missing extra) is ONE line on stderr and exit status 2;
``--debug`` shows the traceback instead. Every case runs as a real process, all at once.
"""
from __future__ import annotations

import io
import logging
import os
import subprocess
import sys
from pathlib import Path

import pytest

from classifier_service.cli import COMMANDS, main
from classifier_service.commands.progress import Progress

UNREACHABLE_PG = "postgresql://postgres@127.0.0.1:1/alerce"  # nothing listens on port 1
UNREACHABLE_KAFKA = "127.0.0.1:1"
SITE_PACKAGES = next(p for p in sys.path if p.endswith("site-packages"))
HIDING = ("import sys; sys.modules[sys.argv.pop(1)] = None; from classifier_service.cli import main; "
          "sys.exit(main(sys.argv[1:]))")  # as if a package were not installed
BROKER_MISSING = "is not installed; the broker's commands need the [broker] extra (pip install '.[broker]' in a checkout"

# id: (argv after `alerce-classifier`, extra environment, what the one line says)
CASES = {
    "missing path": (["replay", "no/such/folder"], {},
                     "argument PATH: 'no/such/folder': no such file or folder"),
    "not a database URL": (["replay", ".", "--db", "alerce.db"], {},
                           "argument --db: 'alerce.db': not a database URL"),
    "unsupported database": (["replay", ".", "--db", "mysql://u@h/db"], {},
                             "'mysql://u@h/db': mysql is not supported"),
    "unreachable database (replay)": (["replay", ".", "--db", UNREACHABLE_PG], {},
                                      f"cannot open the database {UNREACHABLE_PG}: connection to server"),
    "unreachable database (serve)": (["serve", "--db", UNREACHABLE_PG], {},
                                     f"cannot open the database {UNREACHABLE_PG}: connection to server"),
    "unreachable Kafka (run)": (["run", "--bootstrap-servers", UNREACHABLE_KAFKA, "--topic", "t"], {},
                                f"cannot reach Kafka at {UNREACHABLE_KAFKA}: "),
    "unreachable Kafka (simulate)": (
        ["simulate", "--n-alerts", "1", "--bootstrap-servers", UNREACHABLE_KAFKA, "--topic", "t"], {},
        f"cannot reach Kafka at {UNREACHABLE_KAFKA}: "),
    "bad number in the environment": (["replay", "."], {"ALERCE_BATCH_SIZE": "abc"},
                                      "argument --batch-size: ALERCE_BATCH_SIZE='abc': not a whole number"),
    "bad port in the environment": (["serve"], {"ALERCE_API_PORT": "99999"},
                                    "ALERCE_API_PORT='99999': a port is between 1 and 65535"),
    "bad switch in the environment": (["run"], {"ALERCE_FAST_GROUP": "maybe"},
                                      "ALERCE_FAST_GROUP='maybe': use 1/0"),
    "bad database URL in the environment": (["replay", "."], {"ALERCE_DB": "localhost"},
                                            "ALERCE_DB='localhost': not a database URL"),
    "bad log level": (["--log-level", "LOUD", "replay", "."], {},
                      "argument --log-level: invalid choice: 'LOUD'"),
    "zero batch size": (["replay", ".", "--batch-size", "0"], {}, "'0': must be 1 or more"),
    "replay without the broker": (["replay", "."], {"HIDE": "sqlalchemy"},
                                  f"alerce-classifier: error: sqlalchemy {BROKER_MISSING}"),
    "run without the broker": (["run"], {"HIDE": "numpy"}, f"alerce-classifier run: error: numpy {BROKER_MISSING}"),
    "train without torch": (["train", "--only", "stamp", "--quick"], {"HIDE": "torch"},
                            "training needs torch, which is not installed: pip install '.[train]'"),
    "train into site-packages": (["train", "--out", f"{SITE_PACKAGES}/models"], {},
                                 "is inside an installed package (site-packages)"),
    "classify with nothing to classify": (["classify"], {}, "give alert PATHs or --detections CSV"),
    "a folder without alert archives": (["replay", "../logs"], {},
                                        "no alert archives (.avro files or tarballs (.tar, .tar.gz, .tgz)) "
                                        "in ../logs; 1 other file(s), not .avro files or tarballs"),
    "an unknown classifier": (["replay", ".", "--db", "sqlite:///../store.sqlite3", "--classifiers", "stamp_clasifier"],
                              {}, "no classifier is called stamp_clasifier; the registered ones: lc_classifier, "),
    "a store that cannot be written": (["replay", ".", "--db", "sqlite:///file:../read-only.sqlite3?mode=ro&uri=true"],
                                       {}, "attempt to write a readonly database"),
}


# Runs that are not mistakes, started with the mistakes so that all wait for Kafka together.
DEBUG = ["--debug", "replay", ".", "--db", UNREACHABLE_PG]
DEBUG_AFTER = ["replay", ".", "--db", UNREACHABLE_PG, "--debug"]  # where a user adds it to a command line
VERSION = ["--version"]


def _command(argv: list[str], env: dict[str, str]) -> list[str]:
    if hidden := env.pop("HIDE", None):
        return [sys.executable, "-c", HIDING, hidden, *argv]
    return [sys.executable, "-m", "classifier_service.cli", *argv]


@pytest.fixture(scope="module")
def outcomes(tmp_path_factory) -> dict[str, subprocess.CompletedProcess]:
    """Every case, ``--debug`` and ``--version``, run at once (the Kafka cases wait for the
    connection time-out, the others start meanwhile)."""
    from classifier_service.store import Store

    beside = tmp_path_factory.mktemp("cli")
    cwd = beside / "night"
    cwd.mkdir()
    (cwd / "alert.avro").write_bytes(b"")  # "replay ." has something to replay: its mistake is elsewhere
    (beside / "logs").mkdir()
    (beside / "logs" / "night.txt").write_text("observing log")
    made = Store(f"sqlite:///{beside / 'read-only.sqlite3'}")
    made.create_all()
    made.dispose()
    runs = {name: (argv, extra) for name, (argv, extra, _) in CASES.items()}
    runs |= {"debug": (DEBUG, {}), "debug after the command": (DEBUG_AFTER, {}), "version": (VERSION, {})}
    running = {}
    for name, (argv, extra) in runs.items():
        env = {**os.environ, **extra}
        running[name] = subprocess.Popen(_command(argv, env), cwd=cwd, env=env, text=True,
                                         stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    results = {}
    for name, process in running.items():
        out, err = process.communicate(timeout=120)
        results[name] = subprocess.CompletedProcess(process.args, process.returncode, out, err)
    return results


@pytest.mark.parametrize("case", list(CASES))
def test_a_mistake_is_one_line_on_stderr_and_exit_status_2(case, outcomes):
    result = outcomes[case]
    lines = result.stderr.splitlines()
    assert result.returncode == 2, result.stderr
    assert len(lines) == 1, result.stderr
    assert lines[0].startswith("alerce-classifier"), lines[0]
    assert CASES[case][2] in lines[0]
    assert "Traceback" not in result.stderr


@pytest.mark.parametrize("run", ["debug", "debug after the command"])
def test_debug_shows_the_traceback_instead(outcomes, run):
    result = outcomes[run]
    assert result.returncode != 0
    assert "Traceback" in result.stderr and "CommandError" in result.stderr


@pytest.mark.parametrize("command", COMMANDS)
def test_help_works_whatever_the_environment_holds(command, monkeypatch, capsys):
    """``COMMAND --help`` with nonsense in every ALERCE_* variable (in this process: the
    mistakes above already start every kind of command as a process)."""
    for name, value in {"ALERCE_BATCH_SIZE": "abc", "ALERCE_DB": "nonsense", "ALERCE_API_PORT": "x",
                        "ALERCE_FAST_GROUP": "maybe", "ALERCE_BENCH_N_ALERTS": "-"}.items():
        monkeypatch.setenv(name, value)
    assert main([command, "--help"]) == 0
    assert capsys.readouterr().out.startswith(f"usage: alerce-classifier {command}")


def test_version(outcomes):
    result = outcomes["version"]
    assert result.returncode == 0
    assert result.stdout.startswith("alerce-classifier ")


LOADED_AFTER = ("import runpy, sys\n"
                "sys.argv = ['alerce-classifier', *sys.argv[1:]]\n"
                "try:\n"
                "    runpy.run_module('classifier_service.cli', run_name='__main__')\n"
                "except SystemExit:\n"
                "    pass\n"
                "print(' '.join(sorted({name.split('.')[0] for name in sys.modules})))")


@pytest.mark.parametrize("argv", [["--version"], ["replay", "--help"], ["bench", "--help"]])
def test_version_and_help_load_nothing_heavy(argv):
    """The parser is declared apart from the commands: printing the version or a command's help
    imports no numpy, SQLAlchemy, fastavro or Kafka client (they cost the user a second)."""
    done = subprocess.run([sys.executable, "-c", LOADED_AFTER, *argv], capture_output=True, text=True,
                          timeout=60, check=True)
    loaded = set(done.stdout.splitlines()[-1].split())
    assert loaded & {"numpy", "sqlalchemy", "fastavro", "confluent_kafka", "pandas"} == set()


def test_the_help_shows_the_defaults_the_commands_use():
    """A few defaults belong to heavy modules and are repeated where the parser is declared."""
    from classifier_service.commands import arguments, simulate, train
    from classifier_service.simulate.alerts import DEFAULT_MIX
    from classifier_service.store import DEFAULT_URL
    from classifier_service.stream.consumer import DEFAULT_LINGER_S
    from classifier_service.stream.kafka import ZTF_DAILY_TOPIC

    assert arguments.DEFAULT_DB == DEFAULT_URL
    assert arguments.DEFAULT_LINGER_S == DEFAULT_LINGER_S
    assert arguments.ZTF_DAILY_TOPIC == ZTF_DAILY_TOPIC
    assert arguments.SIMULATED_MIX == DEFAULT_MIX
    assert set(arguments.SURVEYS) == set(simulate.SIMULATORS)
    assert set(arguments.TRAINABLE) == set(train.TRAINERS) == set(train.NEEDS)


def test_progress_is_a_log_line_every_interval_when_not_on_a_terminal(caplog):
    caplog.set_level(logging.INFO, logger="classifier_service.commands.progress")
    with Progress("replay", "alerts", every_s=0.0, stream=io.StringIO()) as progress:
        progress.update(500)
        progress.update(500)
    assert [r.getMessage().split(" (")[0] for r in caplog.records] == [
        "replay: 500 alerts", "replay: 1000 alerts"]


def test_progress_is_a_bar_on_a_terminal(caplog):
    class Terminal(io.StringIO):
        def isatty(self) -> bool:
            return True

    screen = Terminal()
    with Progress("simulate", "alerts", total=10, every_s=0.0, stream=screen) as progress:
        progress.update(10)
    assert "10/10" in screen.getvalue()
    assert not caplog.records


def test_train_writes_under_the_current_folder_by_default(tmp_path):
    from classifier_service.cli import build_parser

    args = build_parser().parse_args(["train"])
    assert args.out == Path("models")
