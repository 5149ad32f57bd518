"""Mistakes with ``classify``'s light-curve CSVs and ``simulate``'s options.

Each is ONE line on stderr and exit status 2 that says what is wrong, as the CLI's other
mistakes are (tests/service/test_cli_conventions.py); none reaches a traceback. Every case
runs as a real process, the cases of a command all at once.
"""
from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from classifier_service.commands.simulate import FIRST_NIGHT, SIMULATORS
from classifier_service.surveys import parse_record
from classifier_service.surveys.avro import iter_records

LC = "{data}/lightcurves/alerce-lc_classifier"
SNE_DETECTIONS = f"{LC}/30_sne_detections_corr.csv"
OBJECTS_TABLE = f"{LC}/100_objects.csv"  # ALeRCE's objects table: no photometry
AVRO_ALERT = "{data}/ztf_alerts/ztf-avro-alert/2019_01_10_739260766315010006.avro"
EMPTY = "{tmp}/empty.csv"

# id: (argv after `alerce-classifier classify`, what the one line says); {data} is the shared
# data folder, {tmp} a folder holding an empty file.
CLASSIFY_CASES = {
    "an objects table as --detections": (
        ["--detections", OBJECTS_TABLE],
        f"--detections {OBJECTS_TABLE} lacks the columns mjd, fid, magpsf, sigmapsf; classify reads ALeRCE's "
        "detections CSV, with objectId (or oid), mjd, fid, magpsf, sigmapsf at least"),
    "an Avro file as --detections": (["--detections", AVRO_ALERT],
                                     f"--detections {AVRO_ALERT}: not a CSV table (not UTF-8 text"),
    "an empty --detections file": (["--detections", EMPTY],
                                   f"--detections {EMPTY}: not a CSV table (the file is empty)"),
    "an objects table as --non-detections": (
        ["--detections", SNE_DETECTIONS, "--non-detections", OBJECTS_TABLE],
        f"--non-detections {OBJECTS_TABLE} lacks the columns mjd (or jd), fid, diffmaglim; classify reads "
        "ALeRCE's non-detections CSV, with objectId (or oid), mjd (or jd), fid, diffmaglim at least"),
    "an Avro file as --non-detections": (["--detections", SNE_DETECTIONS, "--non-detections", AVRO_ALERT],
                                         f"--non-detections {AVRO_ALERT}: not a CSV table (not UTF-8 text"),
    "an empty --non-detections file": (["--detections", SNE_DETECTIONS, "--non-detections", EMPTY],
                                       f"--non-detections {EMPTY}: not a CSV table (the file is empty)"),
    "--non-detections without --detections": (["--non-detections", f"{LC}/30_sne_non_detections.csv"],
                                               "--non-detections needs --detections"),
}

# id: (argv after `alerce-classifier simulate --n-alerts 1`, what the one line says); {tmp} is a
# folder holding a file named "a_file".
SIMULATE_CASES = {
    "--out naming a file": (["--out", "{tmp}/a_file"], "argument --out: '{tmp}/a_file': a file, not a folder"),
    "a NaN --start-mjd": (["--out", "{tmp}", "--start-mjd", "nan"], "argument --start-mjd: 'nan': not a finite number"),
    "an infinite --start-mjd": (["--out", "{tmp}", "--start-mjd", "inf"], "'inf': not a finite number"),
    "a --start-mjd before the survey's first night": (
        ["--out", "{tmp}", "--survey", "lsst", "--start-mjd", "60000"],
        "argument --start-mjd: '60000.0': the first night of --survey lsst is MJD 60365"),
    "a --start-mjd in the future": (["--out", "{tmp}", "--start-mjd", "99999"],
                                    "the run's last night, MJD 99999, is after today"),
    "no alerts to simulate": (["--out", "{tmp}", "--n-alerts", "0"], "argument --n-alerts: '0': must be 1 or more"),
    "a negative --seed": (["--out", "{tmp}", "--seed", "-1"], "argument --seed: '-1': must be 0 or more"),
    "a --class-mix weight that is not a number": (
        ["--out", "{tmp}", "--class-mix", "SN=abc"],
        "argument --class-mix: 'SN=abc': the weight of SN, 'abc', is not a number (NAME=WEIGHT, as in SN=0.3,VS=0.7)"),
    "a --class-mix item without a weight": (["--out", "{tmp}", "--class-mix", "SN"],
                                            "argument --class-mix: 'SN': 'SN' is not NAME=WEIGHT"),
    "an unknown --class-mix class": (["--out", "{tmp}", "--class-mix", "XX=1"],
                                     "argument --class-mix: 'XX=1': unknown class 'XX'"),
    "a negative --class-mix weight": (["--out", "{tmp}", "--class-mix", "SN=-1,VS=2"],
                                      "the weight of SN, '-1', must be a finite number, 0 or more"),
    "a NaN --class-mix weight": (["--out", "{tmp}", "--class-mix", "SN=nan"],
                                 "the weight of SN, 'nan', must be a finite number, 0 or more"),
    "--class-mix weights all 0": (["--out", "{tmp}", "--class-mix", "SN=0,VS=0"],
                                  "argument --class-mix: 'SN=0,VS=0': class_mix weights must sum to a positive number"),
    "a --class-mix class twice": (["--out", "{tmp}", "--class-mix", "SN=1,SN=2"], "SN is given twice"),
}


def _run_all(argvs: dict[str, list[str]], cwd: Path) -> dict[str, subprocess.CompletedProcess]:
    """``alerce-classifier ARGV`` of each case, all started at once."""
    running = {name: subprocess.Popen([sys.executable, "-m", "classifier_service.cli", *argv], cwd=cwd,
                                      env=os.environ, text=True, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
               for name, argv in argvs.items()}
    results = {}
    for name, process in running.items():
        out, err = process.communicate(timeout=120)
        results[name] = subprocess.CompletedProcess(process.args, process.returncode, out, err)
    return results


def _filled(texts: list[str], **places: Path) -> list[str]:
    return [text.format(**places) for text in texts]


@pytest.fixture(scope="module")
def classify_places(shared_data, tmp_path_factory) -> dict[str, Path]:
    """What ``{data}`` and ``{tmp}`` stand for in the classify cases."""
    tmp = tmp_path_factory.mktemp("classify")
    (tmp / "empty.csv").touch()
    return {"data": shared_data, "tmp": tmp}


@pytest.fixture(scope="module")
def classify_outcomes(classify_places) -> dict[str, subprocess.CompletedProcess]:
    return _run_all({name: ["classify", *_filled(argv, **classify_places)]
                     for name, (argv, _) in CLASSIFY_CASES.items()}, classify_places["tmp"])


@pytest.fixture(scope="module")
def simulate_folder(tmp_path_factory) -> Path:
    folder = tmp_path_factory.mktemp("simulate")
    (folder / "a_file").touch()
    return folder


@pytest.fixture(scope="module")
def simulate_outcomes(simulate_folder) -> dict[str, subprocess.CompletedProcess]:
    return _run_all({name: ["simulate", "--n-alerts", "1", *_filled(argv, tmp=simulate_folder)]
                     for name, (argv, _) in SIMULATE_CASES.items()}, simulate_folder)


def _assert_one_line(result: subprocess.CompletedProcess, command: str, saying: str) -> None:
    lines = result.stderr.splitlines()
    assert result.returncode == 2, result.stderr
    assert len(lines) == 1, result.stderr
    assert lines[0].startswith(f"alerce-classifier {command}: error: "), lines[0]
    assert saying in lines[0]


@pytest.mark.parametrize("case", list(CLASSIFY_CASES))
def test_a_csv_classify_cannot_use_is_one_line_saying_why(case, classify_outcomes, classify_places):
    _assert_one_line(classify_outcomes[case], "classify", CLASSIFY_CASES[case][1].format(**classify_places))


@pytest.mark.parametrize("case", list(SIMULATE_CASES))
def test_an_impossible_simulate_option_is_one_line_naming_it(case, simulate_outcomes, simulate_folder):
    _assert_one_line(simulate_outcomes[case], "simulate", SIMULATE_CASES[case][1].format(tmp=simulate_folder))


def test_a_refused_simulation_writes_nothing(simulate_outcomes, simulate_folder):
    assert [path.name for path in simulate_folder.iterdir()] == ["a_file"]


@pytest.mark.parametrize("survey", list(SIMULATORS))
def test_the_first_night_simulate_accepts_gives_alerts_the_broker_reads(survey):
    """Its alerts' histories reach back to the survey's first epoch, and no further."""
    packets = SIMULATORS[survey](60, seed=1, start_mjd=FIRST_NIGHT[survey])
    assert all(parse_record(record) for packet in packets for record in iter_records(packet))
