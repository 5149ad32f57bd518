"""API latency on a store of >= 100,000 objects: p50/p95 per query, SQLite and PostgreSQL side by side.

The store is synthetic and written straight into the tables: replaying 100,000 alerts
through the worker would take longer than the measurement, and the API only serves what
the tables hold. Objects (nine in ten ZTF, one in ten Rubin), their detections,
non-detections, forced photometry, magnitude statistics, a few features, and every
classifier's probabilities (Dirichlet draws, ranked) as the pipeline stores them; the
light-curve classifiers only for objects with 3 detections or more, as a light curve needs
some. Stamps (gzipped FITS for ZTF, Rubin's plain multi-extension FITS) for one object in
STAMP_EVERY of each survey: a stamp is read by its key, so the table's length hardly
matters, while 100,000 objects' stamps would take gigabytes.

A store is built once per size and reused (a SQLite file, a PostgreSQL database named
after the size); on reuse its missing indexes are created, so a store built before an
index was added is measured with it. Requests go through the whole app in process
(routing, validation, the gate, JSON), not over a socket, one at a time; bench/api_load.py
then serves the same store to several clients at once.
"""
from __future__ import annotations

import asyncio
import csv
import io
import json
import logging
import os
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import numpy as np
from sqlalchemy import Engine, create_engine, literal, select, text

from alerce_contract.taxonomy import (
    LC_CLASSES,
    LC_CLASSIFIER,
    LC_TAXONOMY,
    LC_TOP,
    STAMP_CLASSES,
    STAMP_CLASSIFIER,
    STAMP_CLASSIFIER_LSST,
)
from classifier_service.bench.measure import percentile
from classifier_service.simulate.fits import gzipped_fits, multi_extension_fits
from classifier_service.store import database_url, tables

DEFAULT_N_OBJECTS = 100_000
CHUNK = 10_000  # objects generated and written at a time
VERSION = "1.0.0"
FEATURE_VERSION = "bench-1"
ZTF_CLASSIFIERS = ((STAMP_CLASSIFIER, STAMP_CLASSES), (LC_CLASSIFIER, LC_CLASSES),
                   (LC_TOP, tuple(LC_TAXONOMY)))
LSST_CLASSIFIERS = ((STAMP_CLASSIFIER_LSST, STAMP_CLASSES),)
LC_MIN_NDET = 3
FEATURES = ("Amplitude", "Mean", "Std")
N_FORCED = 3  # forced-photometry epochs per object
STAMP_EVERY = 100
LOADED_TABLES = (tables.object_table, tables.detection, tables.non_detection,
                 tables.forced_photometry, tables.magstat, tables.feature, tables.probability,
                 tables.cutout)


# --- the store --------------------------------------------------------------------------
def ztf_oid(index: int, year: int) -> str:
    """``ZTF`` + two-digit year + seven letters: the index in base 26, so every index is unique."""
    letters = []
    for _ in range(7):
        index, digit = divmod(index, 26)
        letters.append(chr(97 + digit))
    return f"ZTF{year:02d}{''.join(reversed(letters))}"


def lsst_oid(index: int) -> str:
    return str(170_000_000_000_000_000 + index)


def chunk_rows(start: int, stop: int, seed: int) -> dict[str, dict[str, list]]:
    """Every row of objects ``start`` .. ``stop - 1``, by table, as column -> values; each
    tenth object is a Rubin one."""
    rng = np.random.default_rng([seed, start])
    index = np.arange(start, stop)
    n = len(index)
    lsst = index % 10 == 9
    years = rng.integers(18, 25, n)
    oids = [lsst_oid(int(i)) if r else ztf_oid(int(i), int(y))
            for i, r, y in zip(index, lsst, years)]
    ndet = np.minimum(1 + np.floor(rng.pareto(1.5, n) * 3), 500).astype(int)
    firstmjd = rng.uniform(58_200.0, 60_600.0, n)
    deltajd = np.where(ndet > 1, rng.exponential(20.0 * np.sqrt(ndet)), 0.0)
    lastmjd = firstmjd + deltajd
    meanra = rng.uniform(0.0, 360.0, n)
    low, high = np.where(lsst, -1.0, np.sin(np.radians(-31))), np.where(lsst, np.sin(np.radians(5)), 1.0)
    meandec = np.degrees(np.arcsin(rng.uniform(low, high)))
    objects = {
        "oid": oids, "survey": ["LSST" if r else "ZTF" for r in lsst],
        "ndethist": (ndet + rng.integers(0, 5, n)).tolist(), "ncovhist": (3 * ndet + 10).tolist(),
        "mjdstarthist": firstmjd.tolist(), "mjdendhist": lastmjd.tolist(),
        "corrected": (rng.random(n) < 0.3).tolist(), "stellar": (rng.random(n) < 0.2).tolist(),
        "ndet": ndet.tolist(), "g_r_max": rng.normal(0.3, 0.3, n).tolist(),
        "g_r_mean": rng.normal(0.3, 0.3, n).tolist(), "meanra": meanra.tolist(),
        "meandec": meandec.tolist(), "sigmara": rng.uniform(0.05, 0.5, n).tolist(),
        "sigmadec": rng.uniform(0.05, 0.5, n).tolist(), "deltajd": deltajd.tolist(),
        "firstmjd": firstmjd.tolist(), "lastmjd": lastmjd.tolist(), "diffpos": [True] * n,
        "reference_change": [False] * n, "step_id_corr": ["bench"] * n,
    }
    return {
        "object": objects,
        "detection": _detections(rng, index, oids, lsst, ndet, firstmjd, deltajd, meanra, meandec),
        "non_detection": _non_detections(rng, oids, lsst, firstmjd),
        "forced_photometry": _forced_photometry(rng, index, oids, lsst, firstmjd),
        "magstat": _magstats(rng, oids, ndet, firstmjd, lastmjd),
        "feature": _features(rng, oids),
        "probability": _probabilities(rng, oids, lsst, ndet),
        "cutout": _cutouts(rng, index, oids, lsst),
    }


def first_candid(index: int) -> int:
    """The candid of object ``index``'s first detection (the one its stamps are of)."""
    return index * 1000 + 1_000_000_000


def _detections(rng, index, oids, lsst, ndet, firstmjd, deltajd, meanra, meandec) -> dict:
    owner = np.repeat(np.arange(len(oids)), ndet)
    nth = np.arange(len(owner)) - np.repeat(np.cumsum(ndet) - ndet, ndet)
    fraction = np.where(nth == 0, 0.0, rng.random(len(owner)))
    fid = np.where(lsst[owner], rng.integers(1, 7, len(owner)), rng.integers(1, 3, len(owner)))
    m = len(owner)
    return {
        "candid": (first_candid(index[owner]) + nth).tolist(),
        "oid": [oids[i] for i in owner], "mjd": (firstmjd[owner] + fraction * deltajd[owner]).tolist(),
        "fid": fid.tolist(), "pid": (index[owner] * 1000 + nth).tolist(),
        "diffmaglim": rng.normal(20.5, 0.3, m).tolist(), "isdiffpos": [1] * m,
        "ra": (meanra[owner] + rng.normal(0, 1e-5, m)).tolist(),
        "dec": (meandec[owner] + rng.normal(0, 1e-5, m)).tolist(),
        "magpsf": rng.normal(19.0, 1.0, m).tolist(), "sigmapsf": rng.uniform(0.02, 0.2, m).tolist(),
        "rb": rng.uniform(0.5, 1.0, m).tolist(), "drb": rng.uniform(0.5, 1.0, m).tolist(),
        "corrected": [False] * m, "dubious": [False] * m, "has_stamp": (nth == 0).tolist(),
        "step_id_corr": ["bench"] * m,
    }


def _non_detections(rng, oids, lsst, firstmjd) -> dict:
    """Two upper limits before each ZTF object's first detection (Rubin alerts carry none)."""
    ztf = np.flatnonzero(~lsst)
    owner = np.repeat(ztf, 2)
    return {"oid": [oids[i] for i in owner], "fid": rng.integers(1, 3, len(owner)).tolist(),
            "mjd": (firstmjd[owner] - np.tile([3.0, 6.0], len(ztf))).tolist(),
            "diffmaglim": rng.normal(20.5, 0.3, len(owner)).tolist()}


def _forced_photometry(rng, index, oids, lsst, firstmjd) -> dict:
    """N_FORCED epochs a few days apart up to each object's first detection; Rubin's carry
    the extra fields the LSST route reads."""
    owner = np.repeat(np.arange(len(oids)), N_FORCED)
    m = len(owner)
    nth = np.tile(np.arange(N_FORCED), len(oids))
    flux = rng.normal(100.0, 50.0, m)
    extra = [json.dumps({"diaForcedSourceId": int(pid), "ra": 0.0, "dec": 0.0, "detector": 42,
                         "scienceFlux": float(f) + 1000.0, "scienceFluxErr": 10.0}) if lsst[o] else "{}"
             for o, pid, f in zip(owner, first_candid(index[owner]) + 500 + nth, flux)]
    return {"oid": [oids[i] for i in owner], "pid": (first_candid(index[owner]) + 500 + nth).tolist(),
            "mjd": (firstmjd[owner] - 3.0 * nth).tolist(), "fid": rng.integers(1, 3, m).tolist(),
            "forcediffimflux": flux.tolist(), "forcediffimfluxunc": np.full(m, 10.0).tolist(),
            "magzpsci": np.full(m, 26.0).tolist(), "diffmaglim": rng.normal(20.5, 0.3, m).tolist(),
            "extra": extra}


def _cutouts(rng, index, oids, lsst) -> dict:
    """The first alert's three stamps of one object in STAMP_EVERY per survey (noise and a
    point source: a PNG costs the same whatever the sky)."""
    chosen = np.flatnonzero(np.isin(index % STAMP_EVERY, (0, 9)))
    columns: dict[str, list] = {c: [] for c in ("oid", "candid", "science", "template", "difference")}
    for i in chosen:
        columns["oid"].append(oids[i])
        columns["candid"].append(first_candid(int(index[i])))
        for kind in ("science", "template", "difference"):
            columns[kind].append(_stamp_bytes(rng, bool(lsst[i])))
    return columns


def _stamp_bytes(rng, rubin: bool) -> bytes:
    size = 30 if rubin else 63
    y, x = np.mgrid[:size, :size] - size // 2
    source = 200.0 * np.exp(-(x**2 + y**2) / 8.0)
    image = (rng.normal(0.0, 5.0, (size, size)) + source).astype(np.float32)
    if rubin:
        variance = np.full((size, size), 25.0, np.float32)
        return multi_extension_fits(image, (("UNCERT", variance), ("PSFIMAGE", variance)),
                                    {"BUNIT": "nJy"})
    return gzipped_fits(image)


def _magstats(rng, oids, ndet, firstmjd, lastmjd) -> dict:
    owner = np.repeat(np.arange(len(oids)), 2)
    m = len(owner)
    return {"oid": [oids[i] for i in owner], "fid": np.tile([1, 2], len(oids)).tolist(),
            "ndet": np.maximum(ndet[owner] // 2, 1).tolist(),
            "magmean": rng.normal(19.0, 1.0, m).tolist(), "magmin": rng.normal(18.5, 1.0, m).tolist(),
            "magmax": rng.normal(19.5, 1.0, m).tolist(), "firstmjd": firstmjd[owner].tolist(),
            "lastmjd": lastmjd[owner].tolist(), "step_id_corr": ["bench"] * m}


def _features(rng, oids) -> dict:
    keys = [(oid, name, fid) for oid in oids for name in FEATURES for fid in (1, 2)]
    return {"oid": [k[0] for k in keys], "name": [k[1] for k in keys], "fid": [k[2] for k in keys],
            "version": [FEATURE_VERSION] * len(keys), "value": rng.normal(0, 1, len(keys)).tolist()}


def _probabilities(rng, oids, lsst, ndet) -> dict:
    columns: dict[str, list] = {c: [] for c in ("oid", "classifier_name", "classifier_version",
                                               "class_name", "probability", "ranking")}
    plans = [(np.flatnonzero(~lsst), ZTF_CLASSIFIERS[:1]),
             (np.flatnonzero(~lsst & (ndet >= LC_MIN_NDET)), ZTF_CLASSIFIERS[1:]),
             (np.flatnonzero(lsst), LSST_CLASSIFIERS)]
    for owners, classifiers in plans:
        for name, classes in classifiers:
            p = rng.dirichlet(np.full(len(classes), 0.5), len(owners))
            ranking = np.argsort(np.argsort(-p, axis=1), axis=1) + 1
            k = len(classes)
            columns["oid"] += [oids[i] for i in np.repeat(owners, k)]
            columns["classifier_name"] += [name] * (k * len(owners))
            columns["classifier_version"] += [VERSION] * (k * len(owners))
            columns["class_name"] += list(classes) * len(owners)
            columns["probability"] += p.ravel().tolist()
            columns["ranking"] += ranking.ravel().tolist()
    return columns


def build_store(engine: Engine, n_objects: int, seed: int = 0) -> None:
    """Write ``n_objects`` objects and their rows into the empty store, indexes built last."""
    with engine.begin() as conn:
        tables.create_tables(conn)  # their indexes are built once at the end: faster than row by row
        taxonomy = [(name, VERSION, list(classes))
                    for name, classes in ZTF_CLASSIFIERS + LSST_CLASSIFIERS]
        if engine.dialect.name == "postgresql":
            tables.store_uncompressed(conn)  # stamps stored as the worker's store keeps them
        conn.execute(tables.taxonomy.insert(), [
            {"classifier_name": n, "classifier_version": v, "classes": c} for n, v, c in taxonomy])
    for start in range(0, n_objects, CHUNK):
        chunk = chunk_rows(start, min(start + CHUNK, n_objects), seed)
        raw = engine.raw_connection()
        try:
            for name, columns in chunk.items():
                _load(raw, engine.dialect.name, name, columns)
            raw.commit()
        finally:
            raw.close()
    with engine.begin() as conn:
        tables.create_missing_indexes(conn)
    _analyze(engine)


def _load(raw, dialect: str, table: str, columns: dict[str, list]) -> None:
    """One table's rows through the driver: executemany on SQLite, COPY on PostgreSQL."""
    names = list(columns)
    rows = zip(*columns.values())
    cursor = raw.cursor()
    if dialect == "sqlite":
        cursor.executemany(f'INSERT INTO "{table}" ({", ".join(names)}) '
                           f"VALUES ({', '.join('?' * len(names))})", rows)
        return
    buffer = io.StringIO()
    csv.writer(buffer).writerows(  # bytes in bytea's hex input format
        [f"\\x{v.hex()}" if isinstance(v, bytes) else v for v in row] for row in rows)
    buffer.seek(0)
    cursor.copy_expert(f'COPY "{table}" ({", ".join(names)}) FROM STDIN WITH (FORMAT csv)', buffer)


def _analyze(engine: Engine) -> None:
    """PostgreSQL's planner statistics and visibility map, as autovacuum leaves a settled store."""
    if engine.dialect.name == "postgresql":
        with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
            conn.execute(text("VACUUM ANALYZE"))


def stored_objects(engine: Engine) -> int:
    """How many objects the store holds; 0 when it has no tables yet."""
    with engine.connect() as conn:
        if not engine.dialect.has_table(conn, "object"):
            return 0
        return conn.execute(text("SELECT count(*) FROM object")).scalar_one()


def every_table_loaded(engine: Engine) -> bool:
    """Whether each of LOADED_TABLES holds rows (a store an older bench built may lack some)."""
    with engine.connect() as conn:
        return all(conn.execute(select(literal(1)).select_from(table).limit(1)).first()
                   for table in LOADED_TABLES)


def ensure_store(url: str, n_objects: int, seed: int = 0) -> bool:
    """The store at ``url`` with ``n_objects`` objects: built when it holds another number
    or lacks a table's rows (an existing one must be empty or a bench store), otherwise
    given its missing indexes. True when it was built now."""
    engine = create_engine(database_url(url))
    try:
        stored = stored_objects(engine)
        if stored == n_objects and every_table_loaded(engine):
            with engine.begin() as conn:
                created = tables.create_missing_indexes(conn)
            if created:
                _analyze(engine)
            return False
        if stored:
            tables.metadata.drop_all(engine)
        build_store(engine, n_objects, seed)
        return True
    finally:
        engine.dispose()


def postgres_store(server: str, n_objects: int) -> str:
    """The URL of the bench database for this size on ``server``, created when missing and kept."""
    name = f"alerce_bench_api_{n_objects}"
    admin = create_engine(database_url(f"{server}/postgres"), isolation_level="AUTOCOMMIT")
    try:
        with admin.connect() as conn:
            exists = conn.execute(text("SELECT 1 FROM pg_database WHERE datname = :n"), {"n": name}).first()
            if exists is None:
                conn.execute(text(f'CREATE DATABASE "{name}"'))
    finally:
        admin.dispose()
    return f"{server}/{name}"


# --- the queries ------------------------------------------------------------------------
@dataclass(frozen=True, slots=True)
class Sample:
    """Stored objects the per-object queries and the cone searches ask about."""

    ztf: list[tuple[str, float, float]]  # oid, ra, dec
    lsst: list[str]
    mjd: float  # the latest first-detection date: "now" for the SN Hunter's last 24 hours
    stamps: dict[str, list[tuple[str, int]]]  # survey -> (oid, candid) of stored stamps


def sample(engine: Engine, n: int = 50) -> Sample:
    """Spread-out objects: every k-th by oid, so each request asks about another one."""
    with engine.connect() as conn:
        count = conn.execute(text("SELECT count(*) FROM object")).scalar_one()
        step = max(count // n, 1)
        rows = conn.execute(text(
            "SELECT oid, meanra, meandec, survey FROM "
            "(SELECT oid, meanra, meandec, survey, row_number() OVER (ORDER BY oid) AS k FROM object) o "
            f"WHERE k % {step} = 0")).all()
        mjd = conn.execute(text("SELECT max(firstmjd) FROM object")).scalar_one()
        stamps = {survey: [tuple(r) for r in conn.execute(text(
            "SELECT c.oid, c.candid FROM cutout c JOIN object o ON o.oid = c.oid "
            f"WHERE o.survey = :survey ORDER BY c.oid LIMIT {n}"), {"survey": survey})]
            for survey in ("ZTF", "LSST")}
    return Sample(ztf=[(r.oid, r.meanra, r.meandec) for r in rows if r.survey == "ZTF"],
                  lsst=[r.oid for r in rows if r.survey == "LSST"], mjd=mjd, stamps=stamps)


def _ztf(s: Sample, i: int) -> tuple[str, float, float]:
    return s.ztf[i % len(s.ztf)]


def _lsst(s: Sample, i: int) -> str:
    return s.lsst[i % len(s.lsst)]


def _stamp(s: Sample, i: int, survey: str) -> tuple[str, int]:
    return s.stamps[survey][i % len(s.stamps[survey])]


def _sn_hunter(s: Sample, classifier: str) -> dict[str, Any]:
    """tom_alerce.sn_hunter.api_candidates' query with its default filters (24 h, p >= 0.5, 30)."""
    return {"classifier": classifier, "ranking": 1, "probability": 0.5,
            "firstmjd": [s.mjd - 1, s.mjd + 1], "order_by": "probability", "order_mode": "DESC",
            "page_size": 30}


SNIA = {"class": "SNIa", "probability": 0.3}
LC = {"classifier": LC_CLASSIFIER}
# The benchmark: ALeRCE's client and explorer queries (the heaviest among them),
# each as (label, path, params of the i-th request).
QUERIES: tuple[tuple[str, str, Callable[[Sample, int], dict[str, Any]]], ...] = (
    ("objects, first page", "/ztf/v1/objects", lambda s, i: {}),
    ("objects, lastmjd DESC", "/ztf/v1/objects", lambda s, i: {"order_by": "lastmjd", "order_mode": "DESC"}),
    ("class=SNIa&probability>=0.3", "/ztf/v1/objects", lambda s, i: SNIA),
    ("same + count", "/ztf/v1/objects", lambda s, i: {**SNIA, "count": "true"}),
    ("lc_classifier, SNIa, p>=0.3", "/ztf/v1/objects", lambda s, i: {**LC, **SNIA}),
    ("same + count", "/ztf/v1/objects", lambda s, i: {**LC, **SNIA, "count": "true"}),
    ("lc_classifier by probability DESC, count, 100", "/ztf/v1/objects",
     lambda s, i: {**LC, "order_by": "probability", "order_mode": "DESC", "count": "true",
                   "page_size": 100}),
    ("lc_classifier, SNIa, ranking 2 + count", "/ztf/v1/objects",
     lambda s, i: {**LC, "class": "SNIa", "ranking": 2, "count": "true"}),
    ("stamp SN p>=0.5, last 30 days", "/ztf/v1/objects",
     lambda s, i: {"classifier": STAMP_CLASSIFIER, "class": "SN", "probability": 0.5,
                   "firstmjd": s.mjd - 30}),
    ("ndet 20..40", "/ztf/v1/objects", lambda s, i: {"ndet": [20, 40]}),
    ("ndet 20..40 + count", "/ztf/v1/objects", lambda s, i: {"ndet": [20, 40], "count": "true"}),
    ("ndet >= 2, ndet DESC", "/ztf/v1/objects",
     lambda s, i: {"ndet": [2], "order_by": "ndet", "order_mode": "DESC"}),
    ("firstmjd 30 days + count", "/ztf/v1/objects",
     lambda s, i: {"firstmjd": [s.mjd - 400, s.mjd - 370], "count": "true"}),
    ("cone 30 arcsec", "/ztf/v1/objects",
     lambda s, i: {"ra": _ztf(s, i)[1], "dec": _ztf(s, i)[2], "radius": 30}),
    ("cone 1 degree", "/ztf/v1/objects",
     lambda s, i: {"ra": _ztf(s, i)[1], "dec": _ztf(s, i)[2], "radius": 3600}),
    ("object", "/ztf/v1/objects/{oid}", lambda s, i: {}),
    ("lightcurve", "/ztf/v1/objects/{oid}/lightcurve", lambda s, i: {}),
    ("probabilities", "/ztf/v1/objects/{oid}/probabilities", lambda s, i: {}),
    ("features", "/ztf/v1/objects/{oid}/features", lambda s, i: {}),
    ("magstats", "/ztf/v1/objects/{oid}/magstats", lambda s, i: {}),
    ("classifiers", "/ztf/v1/classifiers", lambda s, i: {}),
    ("detections", "/ztf/v1/objects/{oid}/detections", lambda s, i: {}),
    ("forced photometry (v2)", "/v2/lightcurve/forced-photometry/{oid}", lambda s, i: {}),
    ("get_stamp FITS", "/get_stamp",
     lambda s, i: {"oid": _stamp(s, i, "ZTF")[0], "candid": _stamp(s, i, "ZTF")[1],
                   "type": "science", "format": "fits"}),
    ("get_stamp PNG", "/get_stamp",
     lambda s, i: {"oid": _stamp(s, i, "ZTF")[0], "candid": _stamp(s, i, "ZTF")[1],
                   "type": "difference", "format": "png"}),
    # What the TOM asks (tom_alerce, alerce_broker_plugin, example_tom/demo.py).
    ("SN Hunter: stamp SN p>=0.5, 24 h, by p, 30", "/ztf/v1/objects",
     lambda s, i: {**_sn_hunter(s, STAMP_CLASSIFIER), "class": "SN"}),
    ("periodic stars by ndet DESC, 50", "/ztf/v1/objects",
     lambda s, i: {"classifier": LC_TOP, "class": "Periodic", "ranking": 1, "order_by": "ndet",
                   "order_mode": "DESC", "page_size": 50}),
    ("best SNIa by probability DESC, 1", "/ztf/v1/objects",
     lambda s, i: {**LC, "class": "SNIa", "ranking": 1, "order_by": "probability",
                   "order_mode": "DESC", "page_size": 1}),
    ("query_targets: top class of 50 oids", "/ztf/v1/objects",
     lambda s, i: {"oid": [oid for oid, _, _ in s.ztf[:50]], **LC, "ranking": 1,
                   "page_size": 50}),
    ("TOM form: stamp SN, ndet>=2, 30 days, 50 + count", "/ztf/v1/objects",
     lambda s, i: {"classifier": STAMP_CLASSIFIER, "class": "SN", "ndet": [2],
                   "lastmjd": [s.mjd - 30], "page_size": 50, "count": "true"}),
    ("LSST list_objects", "/object_api/list_objects", lambda s, i: {"survey": "lsst"}),
    ("LSST list, stamp SN p>=0.5 + count", "/object_api/list_objects",
     lambda s, i: {"survey": "lsst", "classifier": STAMP_CLASSIFIER_LSST, "class_name": "SN",
                   "probability": 0.5, "count": "true"}),
    ("LSST SN Hunter: stamp SN p>=0.5, 24 h, by p", "/object_api/list_objects",
     lambda s, i: {**_sn_hunter(s, STAMP_CLASSIFIER_LSST), "class_name": "SN", "survey": "lsst"}),
    ("LSST object", "/object_api/object", lambda s, i: {"survey_id": "lsst", "oid": _lsst(s, i)}),
    ("LSST lightcurve", "/lightcurve_api/lightcurve",
     lambda s, i: {"survey_id": "lsst", "oid": _lsst(s, i)}),
    ("LSST detections", "/lightcurve_api/detections",
     lambda s, i: {"survey_id": "lsst", "oid": _lsst(s, i)}),
    ("LSST forced photometry", "/lightcurve_api/forced-photometry",
     lambda s, i: {"survey_id": "lsst", "oid": _lsst(s, i)}),
    ("LSST probability", "/probability_api/probability",
     lambda s, i: {"survey_id": "lsst", "oid": _lsst(s, i)}),
    ("LSST stamp PNG", "/stamps_api/stamp",
     lambda s, i: {"oid": _stamp(s, i, "LSST")[0], "measurement_id": _stamp(s, i, "LSST")[1],
                   "stamp_type": "cutoutScience", "file_format": "png", "survey_id": "lsst"}),
)


def request(picked: Sample, n: int, round_: int) -> tuple[str, dict[str, Any]]:
    """The path and parameters of query ``n`` in round ``round_`` (each round asks about other objects)."""
    _, path, params = QUERIES[n]
    return path.format(oid=_ztf(picked, round_)[0]), params(picked, round_)


class Backends:
    """CPU seconds PostgreSQL's server processes spent for the API's connections, read from
    /proc (the server runs on this machine): a figure the machine's load does not inflate.
    ``/proc`` counts in clock ticks (10 ms), so only sums over many requests mean anything."""

    def __init__(self, url: str) -> None:
        self.engine = create_engine(database_url(url))
        self.ticks = os.sysconf("SC_CLK_TCK")

    def cpu_s(self) -> float:
        with self.engine.connect() as conn:
            pids = conn.execute(text(
                "SELECT pid FROM pg_stat_activity WHERE datname = current_database() "
                "AND pid <> pg_backend_pid()")).scalars().all()
        total = 0
        for pid in pids:
            try:
                fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
            except OSError:  # ended, or another machine's server
                continue
            total += int(fields[11]) + int(fields[12])  # utime, stime
        return total / self.ticks

    def close(self) -> None:
        self.engine.dispose()


def measure(url: str, repeats: int) -> dict[str, dict[str, float]]:
    """Per query, p50/p95 wall milliseconds and mean CPU milliseconds per request (this
    process, plus PostgreSQL's server processes): ``repeats`` rounds through every query,
    interleaved, after one warm-up round. A query past the API's statement limit counts its
    503s (``n_503``); any other answer than 200 stops the bench.

    Requests go through the app on one event loop, as uvicorn serves it (the routes run in
    its thread pool), without a socket: what is timed is the API, not an HTTP client.
    """
    from classifier_service.api.app import create_app

    engine = create_engine(database_url(url))
    try:
        picked = sample(engine)
    finally:
        engine.dispose()
    backends = Backends(url) if url.startswith("postgresql") else None
    wall: dict[str, list[float]] = {}
    cpu: dict[str, float] = {}
    refused: dict[str, int] = {}
    app = create_app(url)

    async def rounds() -> None:
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://api") as client:
            for round_ in range(repeats + 1):
                for n, (label, _, _) in enumerate(QUERIES):
                    path, params = request(picked, n, round_)
                    server_before = backends.cpu_s() if backends else 0.0
                    cpu_before, started = time.process_time(), time.perf_counter()
                    response = await client.get(path, params=params)
                    elapsed = time.perf_counter() - started
                    used = time.process_time() - cpu_before
                    used += (backends.cpu_s() - server_before) if backends else 0.0
                    if response.status_code not in (200, 503):  # 503: past the statement limit
                        raise RuntimeError(f"{label}: {response.status_code} {response.text[:200]}")
                    if round_:
                        key = f"{n:02d} {label}"
                        wall.setdefault(key, []).append(elapsed)
                        cpu[key] = cpu.get(key, 0.0) + used
                        refused[key] = refused.get(key, 0) + (response.status_code == 503)

    # A 503 is counted, not logged with its SQL; nor is every request (httpx logs at INFO).
    quiet = {name: logging.getLogger(name) for name in ("classifier_service.api.app", "httpx")}
    levels = {name: logger.level for name, logger in quiet.items()}
    for logger in quiet.values():
        logger.setLevel(logging.CRITICAL)
    try:
        asyncio.run(rounds())
    finally:
        for name, logger in quiet.items():
            logger.setLevel(levels[name])
        app.state.engine.dispose()
        if backends:
            backends.close()
    return {key: {"p50_ms": 1e3 * percentile(np.array(v), 50),
                  "p95_ms": 1e3 * percentile(np.array(v), 95),
                  "cpu_ms": 1e3 * cpu[key] / len(v), "n_503": refused[key]}
            for key, v in wall.items()}


def api_bench(n_objects: int, folder: Path, postgres: str | None, repeats: int = 40,
              seed: int = 0, clients: int = 8, rounds: int = 5,
              workers: Sequence[int] = (1, 2)) -> dict[str, Any]:
    """Both databases' figures, one client at a time and then ``clients`` at once against the
    store served by each of ``workers`` processes (``rounds`` times through the queries each;
    0 clients skips it). A PostgreSQL failure is a note, not a failed bench."""
    from classifier_service.bench.api_load import measure_under_load

    folder.mkdir(parents=True, exist_ok=True)
    sqlite_url = f"sqlite:///{folder / f'api-{n_objects}.sqlite3'}"
    result: dict[str, Any] = {"n_objects": n_objects, "repeats": repeats, "built": {}, "under_load": {}}
    started = time.perf_counter()

    def both(database: str, url: str) -> None:
        result["built"][database] = ensure_store(url, n_objects, seed)
        result[database] = measure(url, repeats)
        if clients:
            result["under_load"][database] = {
                str(n): measure_under_load(url, clients, rounds, seed, workers=n) for n in workers}

    both("sqlite", sqlite_url)
    if postgres:
        try:
            both("postgresql", postgres_store(postgres, n_objects))
        except Exception as exc:  # noqa: BLE001: no server is a note, not a failed bench
            result["postgresql_error"] = f"{type(exc).__name__}: {str(exc).splitlines()[0]}"
    result["seconds"] = time.perf_counter() - started
    result["load_average"] = os.getloadavg()[0]
    return result


def report_text(result: dict[str, Any]) -> str:
    """Per query: wall p50/p95 and mean CPU ms on SQLite and on PostgreSQL, side by side."""
    databases = [db for db in ("sqlite", "postgresql") if db in result]
    lines = [f"API on {result['n_objects']:,} objects, {result['repeats']} requests per query, "
             f"load average {result['load_average']:.1f}: wall p50/p95 ms, mean CPU ms",
             f"{'':50}" + "".join(f"{db:>24}" for db in databases)]
    for key in result["sqlite"]:
        cells = "".join(f"{r['p50_ms']:>10.1f}/{r['p95_ms']:<7.1f}{r['cpu_ms']:>7.1f}"
                        + (f" ({r['n_503']} x 503)" if r["n_503"] else "")
                        for r in (result[db][key] for db in databases))
        lines.append(f"{key[3:]:50}{cells}")
    for database, by_workers in result.get("under_load", {}).items():
        for f in by_workers.values():
            lines.append(f"{database}, {f['clients']} clients at once against `serve --workers {f['workers']}`: "
                         f"{f['requests_per_s']:.0f} requests/s, p50/p95 {f['p50_ms']:.1f}/{f['p95_ms']:.1f} ms, "
                         f"worst query p95 {f['worst_p95_ms']:.1f} ms ({f['worst_query']}), {f['n_503']} x 503, "
                         f"{f['n_dropped']} connections dropped")
    if "postgresql_error" in result:
        lines.append(f"PostgreSQL skipped: {result['postgresql_error']}")
    return "\n".join(lines)


def run_from_args(args: Any) -> int:
    """``alerce-classifier bench --api``: the table, or one JSON object with ``--json``."""
    result = api_bench(args.api_objects, Path(args.api_store),
                       None if args.postgres == "none" else args.postgres,
                       repeats=args.api_repeats, seed=args.seed, clients=args.api_clients,
                       workers=args.api_workers)
    print(json.dumps(result, indent=2) if args.json else report_text(result))
    return 0
