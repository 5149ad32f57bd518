"""``alerce-classifier dead-letters [summary|list|export|retry] --db URL``: what went aside.

Every input a stage refused is a row of the store's ``dead_letter`` table: its bytes, the
stage and the reason. ``summary`` counts them by stage and shows the latest; ``list`` prints
one line each; ``export --out FOLDER`` writes each one's bytes to ``<id>.payload`` and every
row to ``dead_letters.jsonl``, to be read with any Avro tool or replayed; ``retry`` runs them
through the worker again once their cause is mended (a schema registry back, a release with
the fix) and deletes the rows of those that now go through
(:mod:`classifier_service.dead_letter_retry`). ``--stage`` and ``--id`` choose which.
"""
from __future__ import annotations

import argparse
import json
from pathlib import Path

from sqlalchemy import Engine, create_engine

from classifier_service.commands.arguments import dead_letters_arguments as add_arguments  # noqa: F401 (tests)
from classifier_service.commands.preflight import check_store, open_store, shown_url
from classifier_service.settings import CommandError
from classifier_service.store import database_url
from classifier_service.store import dead_letters as stored
from classifier_service.store.dead_letters import StoredDeadLetter

LATEST_SHOWN = 10
MANIFEST = "dead_letters.jsonl"


def run(args: argparse.Namespace) -> int:
    if args.action == "export" and args.out is None:
        raise CommandError("export needs --out FOLDER: where the payloads and the manifest go")
    if args.action == "retry":
        return _retry(args)
    engine = _existing_store(args.db)
    try:
        if args.action == "summary":
            print(_summary(engine, args))
        elif args.action == "list":
            letters = stored.read(engine, stages=args.stage, ids=args.ids, limit=args.limit, newest_first=True)
            print("\n".join(map(_line, letters)) if letters else _none(args))
        else:
            print(_export(stored.read(engine, stages=args.stage, ids=args.ids, with_payload=True), args.out))
    finally:
        engine.dispose()
    return 0


def _existing_store(url: str) -> Engine:
    """An engine on the store at ``url``; CommandError if there is none (a mistyped path is
    an error, not a new empty store)."""
    engine = create_engine(database_url(url))
    try:
        check_store(engine, url)
    except CommandError:
        engine.dispose()
        raise
    return engine


def _summary(engine: Engine, args: argparse.Namespace) -> str:
    counts = [count for count in stored.by_stage(engine) if not args.stage or count.stage in args.stage]
    if not counts:
        return _none(args)
    lines = [f"dead letters in {shown_url(args.db)}: {sum(c.letters for c in counts)}",
             f"  {'stage':<12} {'letters':>8}  {'first stored':<19}  {'last stored':<19}"]
    lines += [f"  {c.stage:<12} {c.letters:>8}  {c.first:%Y-%m-%d %H:%M:%S}  {c.last:%Y-%m-%d %H:%M:%S}"
              for c in counts]
    latest = stored.read(engine, stages=args.stage, ids=args.ids, limit=LATEST_SHOWN, newest_first=True)
    lines += [f"the latest {len(latest)}:", *("  " + _line(letter) for letter in latest)]
    return "\n".join(lines)


def _line(letter: StoredDeadLetter) -> str:
    """One dead letter on one line: id, when, stage, which alert, which input, why."""
    alert = f"{letter.oid or '-'}/{letter.candid if letter.candid is not None else '-'}"
    return f"{letter.id:>6}  {letter.created:%Y-%m-%d %H:%M:%S}  {letter.stage:<10} {alert}  {letter.source}: {letter.reason}"


def _none(args: argparse.Namespace) -> str:
    which = " ".join([*(f"--stage {s}" for s in args.stage), *(f"--id {i}" for i in args.ids)])
    return f"no dead letters in {shown_url(args.db)}" + (f" for {which}" if which else "")


def _export(letters: list[StoredDeadLetter], out: Path) -> str:
    """Each payload as ``<id>.payload`` (``<id>.partial`` where only its start was stored) and
    every row, file name included, as a line of the manifest."""
    out.mkdir(parents=True, exist_ok=True)
    with (out / MANIFEST).open("w", encoding="utf-8") as manifest:
        for letter in letters:
            name = None
            if letter.payload is not None:
                name = f"{letter.id}.payload" if letter.complete else f"{letter.id}.partial"
                (out / name).write_bytes(letter.payload)
            manifest.write(json.dumps({
                "id": letter.id, "created": letter.created.isoformat(), "stage": letter.stage,
                "source": letter.source, "reason": letter.reason, "oid": letter.oid, "candid": letter.candid,
                "payload_size": letter.payload_size, "payload_sha256": letter.payload_sha256,
                "file": name, "complete": letter.complete}) + "\n")
    whole = sum(letter.complete for letter in letters)
    return (f"exported {len(letters)} dead letters to {out}: {whole} whole payloads, "
            f"{len(letters) - whole} cut or missing; rows in {out / MANIFEST}")


def _retry(args: argparse.Namespace) -> int:
    from classifier_service.classifiers.registry import load_classifiers
    from classifier_service.dead_letter_retry import FAILING, NOT_RETRIED, RECOVERED, retry
    from classifier_service.surveys.registry import SchemaRegistry
    from classifier_service.worker import Worker

    _existing_store(args.db).dispose()
    store = open_store(args.db)
    try:
        letters = stored.read(store.engine, stages=args.stage, ids=args.ids, with_payload=True)
        if not letters:
            print(_none(args))
            return 0
        names = args.classifiers.split(",") if args.classifiers else None
        classifiers = [] if args.no_classify else load_classifiers(names)
        registry = SchemaRegistry(args.schema_registry) if args.schema_registry else None
        outcomes = retry(letters, store, lambda source: Worker(source, store, classifiers, schema_registry=registry),
                         batch_size=args.batch_size)
    finally:
        store.dispose()
    for outcome in outcomes:
        letter = outcome.letter
        said = "" if outcome.result == RECOVERED else f": {outcome.reason}"
        print(f"{letter.id:>6}  {outcome.result:<11} {letter.stage:<10} {letter.source}{said}")
    tally = {result: sum(o.result == result for o in outcomes) for result in (RECOVERED, FAILING, NOT_RETRIED)}
    print(f"retried {len(outcomes) - tally[NOT_RETRIED]} of {len(outcomes)} dead letters: "
          f"{tally[RECOVERED]} went through (their rows deleted), {tally[FAILING]} failed again at the same stage, "
          f"{tally[NOT_RETRIED]} not retried (their bytes were not stored whole)")
    return 0
