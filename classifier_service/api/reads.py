"""Reads both APIs (ZTF and LSST) share: one object's rows, its existence, the taxonomy.

Plain functions over an open connection; the routes open it (see ``db.store``).
"""
from __future__ import annotations

import re
from collections.abc import Iterable

from fastapi import HTTPException
from sqlalchemy import Connection, RowMapping, Select, select

from classifier_service.api import schemas
from classifier_service.api.objects import (
    DEFAULT_CLASSIFIERS,
    OBJECTS_FIRST_LIMIT,
    ObjectQuery,
    QueryError,
    build_select,
    leading_objects,
    object_probe,
    probability_probe,
)
from classifier_service.store import tables


def select_for(table, exclude: Iterable[str], oid: str) -> Select:
    return select(*(table.c[c] for c in schemas.columns(table, exclude))).where(table.c.oid == oid)


def fetch_rows(conn: Connection, statement: Select, as_string: Iterable[str] = ()) -> list[dict]:
    return [schemas.clean_row(r, as_string) for r in conn.execute(statement).mappings()]


def require_object(conn: Connection, oid: str) -> None:
    table = tables.object_table
    if conn.execute(select(table.c.oid).where(table.c.oid == oid)).first() is None:
        raise HTTPException(404, f"Object {oid} not found")


def load_taxonomy(conn: Connection) -> dict[tuple[str, str], list[str]]:
    """(classifier_name, classifier_version) -> classes, in name then version order."""
    table = tables.taxonomy
    rows = conn.execute(select(table).order_by(table.c.classifier_name,
                                               table.c.classifier_version))
    return {(r.classifier_name, r.classifier_version): list(r.classes) for r in rows}


def check_classification_filters(query: ObjectQuery,
                                  taxonomy: dict[tuple[str, str], list[str]]) -> None:
    """Unknown classifiers, versions or classes are a caller's typo: say so, with the choices."""
    names = sorted({name for name, _ in taxonomy})
    if query.classifier is not None and query.classifier not in names:
        raise QueryError(f"unknown classifier {query.classifier!r}; known: {', '.join(names)}")
    known = {key: classes for key, classes in taxonomy.items()
             if query.classifier in (None, key[0])
             and query.classifier_version in (None, key[1])}
    if query.classifier_version is not None and not known:
        versions = sorted({v for n, v in taxonomy if query.classifier in (None, n)})
        raise QueryError(f"unknown classifier_version {query.classifier_version!r}; "
                         f"known: {', '.join(versions)}")
    classes = sorted({c for cs in known.values() for c in cs})
    if query.class_name is not None and query.class_name not in classes:
        raise QueryError(f"unknown class {query.class_name!r}"
                         + (f" for classifier {query.classifier!r}" if query.classifier else "")
                         + f"; known: {', '.join(classes)}")


def default_classifier(taxonomy: dict[tuple[str, str], list[str]], survey: str = "ZTF") -> tuple[str, str] | None:
    """The newest version of the survey's first default classifier the store has results for."""
    for name in DEFAULT_CLASSIFIERS[survey]:
        versions = [v for n, v in taxonomy if n == name]
        if versions:
            return name, max(versions, key=_version_key)
    return None


def _version_key(version: str) -> tuple:
    parts = re.split(r"[.\-_+]", version)
    return tuple((0, int(p), "") if p.isdigit() else (1, 0, p) for p in parts)


def objects_first(conn: Connection, query: ObjectQuery, count: bool) -> bool:
    """Whether the query's object filters select fewer objects (at most OBJECTS_FIRST_LIMIT)
    than its probability filters select rows: then its page and count look up those
    objects' probabilities (``objects.object_probe`` says why). Two bounded counts.

    Asked on SQLite only, and only for a count or an order other than the oid's: a page in
    oid order stops early along the probability rows anyway ("stamp SN above 0.5, last 30
    days": 5.5 -> 9.8 CPU ms with the probes), and PostgreSQL estimates object ranges from
    its histograms and hash-joined the same rows either way, so the probes only cost it
    (SN Hunter 6.5 -> 9.7 CPU ms; 3 interleaved pairs, bench/api.py, load 11-15).
    """
    probe = object_probe(query)
    if probe is None or conn.dialect.name != "sqlite" or not (count or query.order_by):
        return False
    n_objects = conn.execute(probe).scalar_one()
    return (n_objects <= OBJECTS_FIRST_LIMIT
            and conn.execute(probability_probe(query, n_objects + 1)).scalar_one() > n_objects)


def page_rows(conn: Connection, query: ObjectQuery, default: tuple[str, str] | None,
              first: bool) -> list[RowMapping]:
    """The page's rows (``page_size + 1`` at most, see ``build_select``): first looked for
    among the objects that lead in the requested order (``objects.leading_objects``), then,
    when they do not hold it, by the whole query."""
    leading = None if first else leading_objects(query)
    if leading is not None:
        rows = conn.execute(build_select(query, default, leading=leading)).mappings().all()
        if len(rows) > query.page_size:
            return rows
    return conn.execute(build_select(query, default, first)).mappings().all()
