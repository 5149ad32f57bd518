"""Issue 11, acceptance 1: hostile mutants of the real alerts, replayed on SQLite and PostgreSQL.

A seeded generator (tests/service/mutants.py) turns the real ZTF alerts of
``shared/data/ztf_alerts`` into COUNTS mutants of each kind, which between them take every
branch of every kind (asserted first, without a replay). ``alerce-classifier replay`` runs
over them in a subprocess whose peak RSS is measured, and then:

* it exits 0;
* every mutant is accounted for: stored (its candid under its objectId, as fastavro itself
  reads the mutant) or a dead letter whose source names its file, with the reason where the
  damage is known to be fatal;
* nothing invalid is stored as science (every stored value within the survey's bounds);
* a candid collision changes no stored row;
* peak RSS stays under PEAK_RSS_BOUND_MB.
"""
from __future__ import annotations

import io
import math
import subprocess
import sys
from collections import Counter
from pathlib import Path

import fastavro
import pytest
from sqlalchemy import select

from alerce_contract.names import ZTF_OID
from classifier_service.store import Store, tables
from classifier_service.stream.archive import ArchiveSource
from classifier_service.surveys import parse_record
from classifier_service.surveys.avro import iter_records
from tests.service.conftest import table_checksums
from tests.service.mutants import KINDS, VARIANTS, Mutant, MutantGenerator, real_alerts

pytestmark = pytest.mark.timeout(300)

SEED = 20261130
PER_KIND = 200
# A bomb costs the worker its cap to refuse (a deflate bomb about 0.1 s of CPU, 25 times a
# bit flip's): fewer of them, still every size (and stamp), as the coverage test asserts.
COUNTS = {**dict.fromkeys(KINDS, PER_KIND), "deflate_bomb": 12, "gzip_bomb": 60}
BATCH_SIZE = 100
# The stated bound on the worker's peak RSS over this input at --batch-size 100, interpreter
# and libraries included: a deflate bomb stops at MAX_BLOCK_BYTES (16 MiB), a gzip bomb at the
# stamp cap (2 MB), a record at MAX_RECORD_BYTES (4 MiB), before any of it is allocated
# (measured: about 590 MB, what a replay of the real alerts alone takes).
PEAK_RSS_BOUND_MB = 1024
# VmHWM is this process's own high-water mark; getrusage's ru_maxrss would also count the
# pytest process it was forked from (Linux carries the parent's mark across exec).
REPLAY = ("import re, sys\n"
          "from classifier_service.cli import main\n"
          "code = main(sys.argv[1:])\n"
          "status = open('/proc/self/status').read()\n"
          "print('peak_rss_kb', re.search(r'VmHWM:\\s+(\\d+)', status).group(1))\n"
          "sys.exit(code)\n")


def replay(folder: Path, url: str) -> tuple[int, int, str]:
    """``alerce-classifier replay`` in a subprocess: exit code, peak RSS in MB, its output."""
    done = subprocess.run([sys.executable, "-c", REPLAY, "--log-level", "ERROR", "replay", str(folder),
                           "--db", url, "--batch-size", str(BATCH_SIZE), "--no-classify"],
                          capture_output=True, text=True, timeout=240)
    peak = [int(line.split()[1]) for line in done.stdout.splitlines() if line.startswith("peak_rss_kb")]
    return done.returncode, (peak[0] // 1024 if peak else -1), done.stdout + done.stderr[-3000:]


@pytest.fixture(scope="module")
def alerts(shared_data):
    payloads = []
    for message in ArchiveSource([shared_data / "ztf_alerts"]).messages():
        try:
            records = list(iter_records(message.payload))
            parse_record(records[0])
        except ValueError:
            continue  # the damaged files' tails
        payloads.append(message.payload)
    return real_alerts(payloads)


@pytest.fixture(scope="module")
def mutant_set(alerts) -> list[Mutant]:
    """The seeded mutants, made once for both databases."""
    return list(MutantGenerator(alerts, SEED).mutants(COUNTS))


def write(folder: Path, mutants) -> dict[Path, object]:
    written = {}
    for i, mutant in enumerate(mutants):
        path = folder / mutant.kind / f"{i:05d}.avro"
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(mutant.payload)
        written[path] = mutant
    return written


def identity(payload: bytes) -> tuple[str, int] | None:
    """(objectId, candid) as fastavro itself reads the mutant; None where it cannot."""
    try:
        (record,) = fastavro.reader(io.BytesIO(payload))
        return record["objectId"], record["candidate"]["candid"]
    except Exception:  # noqa: BLE001: any damage
        return None


def test_the_mutants_take_every_branch_of_every_kind(mutant_set):
    made = Counter(mutant.kind for mutant in mutant_set)
    assert made == COUNTS
    for kind in KINDS:
        assert {m.variant for m in mutant_set if m.kind == kind} == VARIANTS[kind], kind


def test_every_mutant_is_stored_or_a_dead_letter_and_nothing_invalid_is_stored(mutant_set, store_url, tmp_path):
    mutants = write(tmp_path, mutant_set)
    code, peak_mb, output = replay(tmp_path, store_url)
    assert code == 0, output
    assert 0 < peak_mb < PEAK_RSS_BOUND_MB, output

    store = Store(store_url)
    with store.engine.connect() as conn:
        letters = conn.execute(select(tables.dead_letter.c.source, tables.dead_letter.c.stage,
                                      tables.dead_letter.c.reason)).all()
        stored = {(oid, candid) for oid, candid in conn.execute(
            select(tables.detection.c.oid, tables.detection.c.candid))}
        detections = conn.execute(select(tables.detection)).mappings().all()
        oids = list(conn.scalars(select(tables.object_table.c.oid)))
    store.dispose()

    reasons: dict[str, list[str]] = {}
    for source, _stage, reason in letters:
        reasons.setdefault(source.split("#")[0], []).append(reason)
    outcome = Counter()
    for path, mutant in mutants.items():
        found = reasons.get(str(path), [])
        if mutant.reason is not None:
            assert any(mutant.reason in reason for reason in found), (mutant.kind, path, found)
        is_stored = (not found or mutant.kind in ("bit_flip", "gzip_bomb")) and identity(mutant.payload) in stored
        assert found or is_stored, f"{mutant.kind} mutant {path} is lost"
        outcome[mutant.kind, "stored"] += is_stored  # a stamp may be a dead letter, the alert stored
        outcome[mutant.kind, "dead letter"] += bool(found)
    print("\n" + "\n".join(f"{kind:18} {COUNTS[kind]:3} mutants: stored {outcome[kind, 'stored']:4}, dead letters "
                           f"{outcome[kind, 'dead letter']:4}" for kind in KINDS), f"\npeak RSS {peak_mb} MB")

    assert all(ZTF_OID.fullmatch(oid) for oid in oids)
    for row in detections:  # nothing invalid stored as science
        assert ZTF_OID.fullmatch(row["oid"]) and row["fid"] in (1, 2, 3), row
        assert 0 <= row["ra"] <= 360 and -90 <= row["dec"] <= 90, row
        assert 0 < row["magpsf"] < 40 and 0 < row["sigmapsf"] and math.isfinite(row["sigmapsf"]), row
        assert 58000 < row["mjd"] < 70000, row
        assert all(len(row[name] or "") <= 16 for name in ("rbversion", "drbversion")), row


def test_a_candid_collision_is_a_dead_letter_and_changes_no_stored_row(alerts, shared_data, store_url, tmp_path):
    code, _, output = replay(shared_data / "ztf_alerts", store_url)
    assert code == 0, output
    store = Store(store_url)
    before = table_checksums(store)

    generator = MutantGenerator(alerts, SEED)
    mutants = write(tmp_path, (generator.candid_collision(generator.rng.choice(alerts)) for _ in range(PER_KIND)))
    code, peak_mb, output = replay(tmp_path, store_url)
    assert code == 0, output

    after = table_checksums(store)
    with store.engine.connect() as conn:
        letters = {source.split("#")[0]: reason for source, reason in conn.execute(
            select(tables.dead_letter.c.source, tables.dead_letter.c.reason))}
    store.dispose()
    assert {name: value for name, value in after.items() if name != "dead_letter"} == \
           {name: value for name, value in before.items() if name != "dead_letter"}
    assert all("candid collision" in letters[str(path)] for path in mutants), letters
    print(f"\ncandid_collision   {PER_KIND} mutants: stored 0, dead letters {len(mutants)}, peak RSS {peak_mb} MB")
