"""The store: SQLite by default, PostgreSQL by URL; the only code that writes SQL.

Reads are batched (one query per table for all the objects of a batch) and each batch is
written in ONE transaction of idempotent upserts, so a replayed alert changes no row and a
worker killed mid-batch leaves either all of a batch or none of it.
"""
from __future__ import annotations

import math
import operator
import re
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from sqlalchemy import (JSON, Float, Table, Text, and_, bindparam, case, cast, create_engine, event, or_, select,
                        tuple_, update)
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.engine import Connection, Engine
from sqlalchemy.exc import DataError, IntegrityError

from classifier_service.store import staging, tables
from classifier_service.store.json_columns import json_text
from classifier_service.store.tables import metadata

__all__ = ["Store", "BatchWrite", "RejectedRows", "CandidCollision", "DEFAULT_URL", "database_url", "tables"]

DEFAULT_URL = "sqlite:///var/alerce.sqlite3"
# Rows per statement: below SQLite's 32766 bound-parameter limit for the widest table.
_CHUNK = 500

# Object columns taken from the newest alert's candidate (ZTF's ndethist, ncovhist, ...).
FROM_LATEST_ALERT = ("ndethist", "ncovhist", "mjdstarthist", "mjdendhist", "stellar")
STORED_DETECTION_COLUMNS = (
    "candid", "mjd", "fid", "ra", "dec", "magpsf", "sigmapsf", "isdiffpos", "magpsf_corr",
    "sigmapsf_corr", "sigmapsf_corr_ext", "corrected", "dubious", "has_stamp",
)


# Statements run every batch, built once: building one (and its cache key) cost SQLAlchemy more
# client CPU than the database spent answering it (0.2 ms each, a batch of one object).
_OWNERS = select(tables.detection.c.candid, tables.detection.c.oid).where(
    tables.detection.c.candid.in_(bindparam("candids", expanding=True)))
_STELLAR = select(tables.object_table.c.stellar).where(
    tables.object_table.c.oid == tables.magstat.c.oid).scalar_subquery()
_SYNC_STELLAR = update(tables.magstat).where(
    tables.magstat.c.oid.in_(bindparam("oids", expanding=True)),
    tables.magstat.c.stellar.is_distinct_from(_STELLAR)).values(stellar=_STELLAR)
_STORED_OIDS = 'SELECT oid FROM "object" WHERE oid = ANY(%s)'  # PostgreSQL's driver, plain tuples


class RejectedRows(ValueError):
    """The database refused a batch for its data (NOT NULL, length, type); nothing was written."""


class CandidCollision(RejectedRows):
    """Rows that would give a candid already stored for one object to another: nothing written."""


@dataclass
class BatchWrite:
    """Every row one batch produces, by table; written together or not at all."""

    objects: list[dict[str, Any]] = field(default_factory=list)
    detections: list[dict[str, Any]] = field(default_factory=list)
    non_detections: list[dict[str, Any]] = field(default_factory=list)
    forced_photometry: list[dict[str, Any]] = field(default_factory=list)
    magstats: list[dict[str, Any]] = field(default_factory=list)
    probabilities: list[dict[str, Any]] = field(default_factory=list)
    features: list[dict[str, Any]] = field(default_factory=list)
    taxonomies: list[dict[str, Any]] = field(default_factory=list)
    cutouts: list[dict[str, Any]] = field(default_factory=list)
    dead_letters: list[dict[str, Any]] = field(default_factory=list)

    @classmethod
    def combine(cls, parts: Iterable[BatchWrite]) -> BatchWrite:
        combined = cls()
        for part in parts:
            for name, rows in vars(part).items():
                getattr(combined, name).extend(rows)
        return combined


class Store:
    """SQLAlchemy engine plus the batch reads and the batch write the worker needs."""

    def __init__(self, url: str = DEFAULT_URL, *, echo: bool = False, **engine_kwargs: Any) -> None:
        url = database_url(url)
        self.url = url
        if url.startswith("sqlite"):
            _ensure_sqlite_folder(url)
            engine_kwargs.setdefault("connect_args", {"timeout": 30})
        else:  # a server that restarted leaves dead pooled connections: test each before use
            engine_kwargs.setdefault("pool_pre_ping", True)
        engine_kwargs.setdefault("json_serializer", json_text)  # the JSON its statements bind too
        self.engine: Engine = create_engine(url, echo=echo, **engine_kwargs)
        self.dialect = self.engine.dialect.name
        self._compiled: dict[tuple[str, str, tuple[str, ...], bool], _Compiled] = {}
        if self.dialect == "sqlite":
            event.listen(self.engine, "connect", _sqlite_pragmas)

    def create_all(self) -> None:
        with self.engine.begin() as conn:  # a store made before an index was added gets it too
            tables.create_tables(conn)
            tables.create_missing_indexes(conn)
            if self.dialect == "postgresql":
                tables.store_uncompressed(conn)

    def dispose(self) -> None:
        self.engine.dispose()

    # --- reads -------------------------------------------------------------------------
    def detections_of(self, oids: Sequence[str]) -> dict[str, list[Mapping[str, Any]]]:
        """Stored detections of these objects, oldest first, in one query."""
        if not oids:
            return {}
        table = tables.detection
        columns = [table.c.oid, *(table.c[name] for name in STORED_DETECTION_COLUMNS)]
        return self._grouped(select(*columns).where(table.c.oid.in_(list(oids))).order_by(table.c.mjd))

    def non_detections_of(self, oids: Sequence[str]) -> dict[str, list[Mapping[str, Any]]]:
        if not oids:
            return {}
        table = tables.non_detection
        query = select(table.c.oid, table.c.mjd, table.c.fid, table.c.diffmaglim).where(
            table.c.oid.in_(list(oids))).order_by(table.c.mjd)
        return self._grouped(query)

    def forced_photometry_keys_of(self, oids: Sequence[str]) -> set[tuple[str, int]]:
        """(oid, pid) of the stored forced-photometry epochs of these objects."""
        if not oids:
            return set()
        table = tables.forced_photometry
        with self.engine.connect() as conn:
            query = select(table.c.oid, table.c.pid).where(table.c.oid.in_(list(oids)))
            return {(oid, pid) for oid, pid in conn.execute(query)}

    def classifier_names_of(self, oids: Sequence[str]) -> set[tuple[str, str]]:
        """(oid, classifier_name) pairs that already have stored probabilities."""
        if not oids:
            return set()
        table = tables.probability
        query = select(table.c.oid, table.c.classifier_name).distinct().where(table.c.oid.in_(list(oids)))
        with self.engine.connect() as conn:
            return {(oid, name) for oid, name in conn.execute(query)}

    def owners_of(self, candids: Sequence[int]) -> dict[int, str]:
        """The object each of these candids is stored for (those stored at all), in one query a chunk."""
        owners: dict[int, str] = {}
        with self.engine.connect() as conn:
            for chunk in _chunks(sorted(set(candids))):
                owners.update((candid, oid) for candid, oid in conn.execute(_OWNERS, {"candids": chunk}))
        return owners

    def existing_oids(self, oids: Sequence[str]) -> set[str]:
        table = tables.object_table
        with self.engine.connect() as conn:
            return set(conn.scalars(select(table.c.oid).where(table.c.oid.in_(list(oids)))))

    def _grouped(self, query) -> dict[str, list[Mapping[str, Any]]]:
        out: dict[str, list[Mapping[str, Any]]] = {}
        with self.engine.connect() as conn:
            for row in conn.execute(query).mappings():
                out.setdefault(row["oid"], []).append(row)
        return out

    # --- the batch write ------------------------------------------------------------
    def write(self, batch: BatchWrite) -> None:
        """All of a batch's rows in one transaction of idempotent upserts.

        Raises :class:`RejectedRows` when the data break a constraint, do not fit a column
        (also where the driver refuses a value before sending it: NUL in text, an integer out
        of range) or would move a candid to another object; connection and other database
        failures propagate as SQLAlchemy raises them.
        """
        try:
            try:
                self._write(batch, copy_unstored=self.dialect == "postgresql")
            except IntegrityError as exc:
                if _sqlstate(exc) != _UNIQUE_VIOLATION:
                    raise
                self._write(batch, copy_unstored=False)  # another writer stored a key after we looked
        except RejectedRows:
            raise
        except (DataError, IntegrityError) as exc:
            raise RejectedRows(f"{type(exc.orig).__name__}: {exc.orig}".strip()) from exc
        except (ValueError, OverflowError) as exc:  # psycopg2 and sqlite3 refuse these values unsent
            raise RejectedRows(f"{type(exc).__name__}: {exc}") from exc

    def _write(self, batch: BatchWrite, *, copy_unstored: bool) -> None:
        """``copy_unstored``: PostgreSQL COPYs the rows of the objects it does not hold straight
        into their tables (see _copy_unstored); a unique violation then means another writer
        stored one of those objects meanwhile, and the batch is written again by upserts alone."""
        with self.engine.begin() as conn:
            self._check_candid_owners(conn, batch.detections)
            unstored = self._unstored_objects(conn, batch) if copy_unstored else frozenset()
            self._upsert_objects(conn, batch.objects, unstored)
            self._upsert_detections(conn, batch.detections, unstored)
            self._upsert(conn, tables.non_detection, batch.non_detections, unstored=unstored)
            self._upsert(conn, tables.forced_photometry, batch.forced_photometry, unstored=unstored)
            self._upsert(conn, tables.magstat, batch.magstats, unstored=unstored)
            self._sync_magstat_stellar(conn, [row["oid"] for row in batch.magstats])
            self._upsert(conn, tables.probability, batch.probabilities, unstored=unstored)
            self._upsert(conn, tables.feature, batch.features, unstored=unstored)
            self._upsert_cutouts(conn, batch.cutouts, unstored)
            self._insert_new(conn, tables.dead_letter, batch.dead_letters, ["source", "stage"])
            # Last: every worker writes the same taxonomy rows, and another's upsert of them waits
            # for this transaction to end.
            self._upsert(conn, tables.taxonomy, batch.taxonomies)

    @staticmethod
    def _unstored_objects(conn: Connection, batch: BatchWrite) -> frozenset[str]:
        """The batch's objects the store does not hold, in one read (none where no table's rows
        could reach CSV_FROM_ROWS, the fewest COPYed): every row of theirs is new, unless another
        writer stores it meanwhile. One read by oid instead of one of each table's stored keys."""
        row_sets = (batch.objects, batch.detections, batch.non_detections, batch.forced_photometry,
                    batch.magstats, batch.probabilities, batch.features, batch.cutouts)
        if max(map(len, row_sets)) < staging.CSV_FROM_ROWS:
            return frozenset()
        oids = list({row["oid"] for rows in row_sets for row in rows})
        with staging.driver_cursor(conn, _STORED_OIDS) as cursor:
            cursor.execute(_STORED_OIDS, (oids,))
            return frozenset(oids).difference(oid for oid, in cursor.fetchall())

    def _insert(self, table: Table):
        return (postgresql if self.dialect == "postgresql" else sqlite).insert(table)

    def _upsert(self, conn: Connection, table: Table, rows: list[dict[str, Any]],
                set_: Callable[[Any], Mapping[str, Any]] | None = None, where: Callable[[Any], Any] | None = None,
                unstored: frozenset[str] = frozenset()) -> None:
        """INSERT ... ON CONFLICT (primary key) DO UPDATE SET every other column, or ``set_(stmt)``
        guarded by ``where(stmt)``, but for the rows of ``unstored`` objects (see _copy_unstored);
        each table's statement is built and compiled once per set of columns (``set_`` and
        ``where`` must not vary for one table)."""
        if not rows:
            return
        keys = [c.name for c in table.primary_key.columns]
        rows = _deduplicated(rows, keys)
        if unstored:
            rows = self._copy_unstored(conn, table, rows, unstored)
            if not rows:
                return
        names = tuple(rows[0])
        staged = (staging.stage(conn, table, rows)
                  if self.dialect == "postgresql" and staging.copyable(table, len(rows)) else None)
        key = ("upsert", table.name, names, staged is not None)
        compiled = self._compiled.get(key)
        if compiled is None:
            compiled = self._compiled[key] = _Compiled.of(
                self._upsert_statement(table, keys, names, staged, set_, where), table, names, conn)
        compiled.execute(conn, None if staged is not None else rows)

    @staticmethod
    def _copy_unstored(conn: Connection, table: Table, rows: list[dict[str, Any]],
                       unstored: frozenset[str]) -> list[dict[str, Any]]:
        """COPY the rows of the ``unstored`` objects straight into ``table`` where there are
        enough of them to stage (staging.copyable) and they carry every column with a default;
        the rows left to upsert. Most rows of a fresh replay are new, and as upserts each was a
        speculative insertion: the server CPU of the first batch's 6,624 new features went
        from 27 to 14 ms."""
        if any(column.default is not None and column.name not in rows[0] for column in table.columns):
            return rows
        new: list[dict[str, Any]] = []
        left: list[dict[str, Any]] = []
        for row in rows:
            (new if row["oid"] in unstored else left).append(row)
        if not new or not staging.copyable(table, len(new)) or not staging.copy_into(conn, table, new):
            return rows
        return left

    def _upsert_statement(self, table: Table, keys: list[str], names: tuple[str, ...], staged: Any,
                          set_: Callable[[Any], Mapping[str, Any]] | None, where: Callable[[Any], Any] | None):
        stmt = self._insert(table)
        if staged is not None:
            stmt = stmt.from_select(names, staged)
        values = set_(stmt) if set_ is not None else {
            c.name: stmt.excluded[c.name] for c in table.columns if c.name not in keys and c.name in names}
        guard = where(stmt) if where is not None else None
        if self.dialect == "postgresql" and values:  # where an update writes a new row version
            changed = _changes(table, values)
            guard = changed if guard is None else and_(guard, changed)
        return stmt.on_conflict_do_update(index_elements=keys, set_=values, where=guard)

    def _upsert_objects(self, conn: Connection, rows: list[dict[str, Any]], unstored: frozenset[str]) -> None:
        """Survey history counts (and the stellar flag, from the same alert's PS1 match) come
        from the most recent alert, so an old alert replayed late does not turn them back."""
        table = tables.object_table

        def update(stmt):
            excluded = stmt.excluded
            newer = or_(table.c.mjdendhist.is_(None), excluded.mjdendhist >= table.c.mjdendhist)
            values = {c.name: excluded[c.name] for c in table.columns if c.name != "oid"}
            for name in FROM_LATEST_ALERT:
                values[name] = case((newer, excluded[name]), else_=table.c[name])
            return values

        self._upsert(conn, table, rows, set_=update, unstored=unstored)

    @staticmethod
    def _sync_magstat_stellar(conn: Connection, oids: list[str]) -> None:
        for chunk in _chunks(sorted(set(oids))):  # rows already right are not rewritten
            conn.execute(_SYNC_STELLAR, {"oids": chunk})

    @staticmethod
    def _check_candid_owners(conn: Connection, rows: list[dict[str, Any]]) -> None:
        """A candid belongs to one object: refuse rows that give it to a second one, in the
        batch or against the store, before anything is written."""
        claims: dict[int, str] = {}
        for row in rows:
            owner = claims.setdefault(row["candid"], row["oid"])
            if owner != row["oid"]:
                raise CandidCollision(f"candid {row['candid']} is claimed by both {owner} and {row['oid']}")
        for chunk in _chunks(sorted(claims)):
            for candid, oid in conn.execute(_OWNERS, {"candids": chunk}):
                if oid != claims[candid]:
                    raise CandidCollision(f"candid {candid} belongs to {oid}, not to {claims[candid]}")

    def _upsert_detections(self, conn: Connection, rows: list[dict[str, Any]], unstored: frozenset[str]) -> None:
        """A detection first seen in a later alert's history keeps the stamp and parent of
        the alert that carried it as its candidate, whatever order they arrive in. A row of
        another object never overwrites one (the guard behind _check_candid_owners when two
        workers race)."""
        table = tables.detection

        def update(stmt):
            excluded = stmt.excluded
            values = {c.name: excluded[c.name] for c in table.columns
                      if c.name not in ("candid", "has_stamp", "parent_candid")}
            values["has_stamp"] = or_(table.c.has_stamp, excluded.has_stamp)
            values["parent_candid"] = case((excluded.has_stamp, excluded.parent_candid),
                                           else_=table.c.parent_candid)
            return values

        self._upsert(conn, table, rows, set_=update, where=lambda stmt: table.c.oid == stmt.excluded.oid,
                     unstored=unstored)

    def _upsert_cutouts(self, conn: Connection, rows: list[dict[str, Any]], unstored: frozenset[str]) -> None:
        """Keep the stamps of the object's first alert (the smallest candid; of copies of
        one alert, the first written), however the alerts were batched."""
        table = tables.cutout
        first = sorted(reversed(rows), key=lambda row: -row["candid"])  # the preferred row last
        self._upsert(conn, table, first, where=lambda stmt: stmt.excluded.candid < table.c.candid,
                     unstored=unstored)

    def _insert_new(self, conn: Connection, table: Table, rows: list[dict[str, Any]],
                    keys: list[str]) -> None:
        if not rows:
            return
        rows = _deduplicated(rows, keys)
        names = tuple(rows[0])
        key = ("insert_new", table.name, names, False)
        compiled = self._compiled.get(key)
        if compiled is None:
            compiled = self._compiled[key] = _Compiled.of(
                self._insert(table).on_conflict_do_nothing(index_elements=keys), table, names, conn)
        compiled.execute(conn, rows)

    # --- helpers for tests and the CLI ------------------------------------------------
    def row_counts(self) -> dict[str, int]:
        from sqlalchemy import func

        with self.engine.connect() as conn:
            return {name: conn.scalar(select(func.count()).select_from(table))
                    for name, table in metadata.tables.items()}


def database_url(url: str) -> str:
    """``postgresql://`` means whichever PostgreSQL driver is installed (SQLAlchemy 2.1 assumes
    psycopg 3; this project ships psycopg2-binary)."""
    if url.startswith("postgresql://"):
        import importlib.util

        if importlib.util.find_spec("psycopg") is None and importlib.util.find_spec("psycopg2"):
            return "postgresql+psycopg2://" + url[len("postgresql://"):]
    return url


@dataclass(frozen=True)
class _Compiled:
    """An INSERT compiled once for one table, dialect and set of columns: its SQL and where each
    value of a row goes. SQLAlchemy's per-row parameter processing costs more than SQLite's insert
    itself, and compiling the upserts anew cost about 6 ms a batch (most of a small batch's store
    stage); here both are done once and the rows go straight through the driver."""

    statement: Any
    table: Table
    sql: str | None  # None: the statement has literals of its own, SQLAlchemy binds it
    order: tuple[str, ...]
    positional: bool
    floats: tuple[int, ...]
    jsons: tuple[int, ...]
    values: re.Match | None  # psycopg2: the VALUES clause that execute_values pages

    @classmethod
    def of(cls, statement: Any, table: Table, names: tuple[str, ...], conn: Connection) -> _Compiled:
        compiled = statement.compile(dialect=conn.dialect, column_keys=list(names))
        if not set(compiled.params) <= set(names):
            return cls(statement, table, None, names, False, (), (), None)
        order = tuple(compiled.positiontup) if compiled.positional else names
        sql = str(compiled)
        return cls(statement, table, sql, order, compiled.positional,
                   tuple(i for i, name in enumerate(order) if isinstance(table.c[name].type, Float)),
                   tuple(i for i, name in enumerate(order) if isinstance(table.c[name].type, JSON)),
                   _PYFORMAT_VALUES.search(sql) if conn.dialect.driver == "psycopg2" else None)

    def execute(self, conn: Connection, rows: list[dict[str, Any]] | None) -> None:
        """Run it once (``rows`` None: an INSERT ... SELECT) or for many rows, with NaN and
        infinities as NULL (the same on SQLite and PostgreSQL) and JSON columns serialised."""
        if self.sql is None and rows is None:
            conn.execute(self.statement)
        elif self.sql is None:
            for chunk in _chunks(_clean_rows(self.table, rows)):
                conn.execute(self.statement, chunk)
        elif rows is None:
            conn.exec_driver_sql(self.sql)
        elif self.values is not None:
            _execute_values(conn, self.sql, self.values, self._parameters(rows))
        else:
            for chunk in _chunks(self._parameters(rows)):
                conn.exec_driver_sql(self.sql, chunk)

    def _parameters(self, rows: list[dict[str, Any]]) -> list:
        order, floats, jsons = self.order, self.floats, self.jsons
        take = operator.itemgetter(*order)
        params = []
        for row in rows:
            try:
                values = list(take(row)) if len(order) > 1 else [take(row)]
            except KeyError:  # a row with fewer columns than the first: the rest are NULL
                values = [row.get(name) for name in order]
            for i in floats:
                value = values[i]
                if value is not None and not math.isfinite(value):
                    values[i] = None
            for i in jsons:
                if values[i] is not None:
                    values[i] = json_text(values[i])
            params.append(tuple(values) if self.positional else dict(zip(order, values)))
        return params


_PYFORMAT_VALUES = re.compile(r"VALUES \((%\(\w+\)s(?:::\w+)?(?:, %\(\w+\)s(?:::\w+)?)*)\)")


def _execute_values(conn: Connection, sql: str, values: re.Match, params: list[dict[str, Any]]) -> None:
    """PostgreSQL: one multi-row INSERT per page instead of one statement per row (each
    statement costs the server a parse and a plan)."""
    from psycopg2.extras import execute_values

    template = f"({values.group(1)})"
    statement = f"{sql[:values.start()]}VALUES %s{sql[values.end():]}"
    with staging.driver_cursor(conn, statement) as cursor:
        execute_values(cursor, statement, params, template=template, page_size=_CHUNK)


_UNIQUE_VIOLATION = "23505"


def _sqlstate(exc: IntegrityError) -> str | None:
    """The SQLSTATE of a driver's error (psycopg2: pgcode, psycopg 3: sqlstate)."""
    return getattr(exc.orig, "pgcode", None) or getattr(exc.orig, "sqlstate", None)


def _changes(table: Table, values: Mapping[str, Any]):
    """True where an update would change the stored row: an unchanged one (a replayed alert's)
    is left alone instead of rewritten with its index entries. JSON compares as its text."""
    def comparable(column_name: str, value: Any):
        column = table.c[column_name]
        return (cast(column, Text), cast(value, Text)) if isinstance(column.type, JSON) else (column, value)

    stored, new = zip(*(comparable(name, value) for name, value in values.items()))
    return tuple_(*stored).is_distinct_from(tuple_(*new))


def _clean_rows(table: Table, rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Rows with NaN and infinities as None, for statements bound by SQLAlchemy."""
    return [{k: (None if isinstance(v, float) and not math.isfinite(v) else v) for k, v in row.items()}
            for row in rows]


def _deduplicated(rows: list[dict[str, Any]], keys: list[str]) -> list[dict[str, Any]]:
    """Last row per key: PostgreSQL refuses to update one row twice in a statement."""
    return list(dict(zip(map(operator.itemgetter(*keys), rows), rows)).values())


def _chunks(rows: list) -> Iterable[list]:
    for start in range(0, len(rows), _CHUNK):
        yield rows[start:start + _CHUNK]


def _sqlite_pragmas(dbapi_connection, _record) -> None:
    """WAL lets the API read while a worker writes; NORMAL sync is safe under WAL."""
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA synchronous=NORMAL")
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.close()


def _ensure_sqlite_folder(url: str) -> None:
    path = url.split(":///", 1)[1] if ":///" in url else ""
    if path and path != ":memory:" and not path.startswith("file:"):
        Path(path).parent.mkdir(parents=True, exist_ok=True)
