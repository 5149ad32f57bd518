"""PostgreSQL bulk path: a batch's rows COPYed into a temporary staging table, for one upsert,
or, those whose keys are not stored yet, straight into their table (copy_into).

A multi-row INSERT costs the client a mogrify of every value and the server a parse of every
literal; COPY of a CSV built column by column in Arrow costs neither. Tables with binary
columns (the stamps) are COPYed in PostgreSQL's binary format instead, the bytes as they are:
as hex literals the server's parser spent more CPU on them than on the rest of a batch. The
staging table has the target's columns, types and storage without its constraints: the
upsert into the target checks those, with the target's own messages.
"""
from __future__ import annotations

import io
import math
import numbers
import operator
import struct
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.csv as pa_csv
from sqlalchemy import (JSON, BigInteger, Boolean, Column, Float, Integer, LargeBinary, MetaData, Select, String, Table,
                        Text, select)
from sqlalchemy.engine import Connection
from sqlalchemy.exc import DBAPIError

from classifier_service.store.json_columns import json_text
from classifier_service.store.tables import UNCOMPRESSED_STORAGE

__all__ = ["stage", "copy_into", "copyable", "driver_cursor", "CSV_FROM_ROWS"]

_ARROW = {Float: pa.float64(), Integer: pa.int64(), BigInteger: pa.int64(), Boolean: pa.bool_(),
          String: pa.string(), Text: pa.string(), JSON: pa.string()}
_CSV = pa_csv.WriteOptions(include_header=False, quoting_style="all_valid")  # NULL: empty, unquoted
_staging_tables: dict[str, Table] = {}
# Fewer rows of a table go as one multi-row INSERT: staging has a fixed cost (a CSV built column
# by column, the staging check, a second statement) that a few rows do not earn back. Measured
# per table write, client + server CPU: the INSERT cost less up to 32 rows of detections, 64 of
# features, forced photometry or upper limits (2 features: 0.5 against 0.9 ms). Stamps are
# COPYed from one row: in binary they cost less from 3 rows on and little more below.
CSV_FROM_ROWS = 32


class _NotOfItsType(TypeError):
    """A value the binary format would have to convert: the row set takes the INSERT path."""


def copyable(table: Table, n_rows: int) -> bool:
    """Whether ``n_rows`` rows of ``table`` are worth staging: tables of numbers, text, JSON and
    bytes only (anything else, a timestamp, takes the INSERT path), see CSV_FROM_ROWS."""
    kinds = [isinstance(column.type, LargeBinary) or _arrow_type(column) is not None for column in table.columns]
    return all(kinds) and (n_rows >= CSV_FROM_ROWS or _binary_format(table))


def stage(conn: Connection, table: Table, rows: list[dict[str, Any]]) -> Select | None:
    """COPY ``rows`` (their first row's columns, one row a key) into the staging table of
    ``table`` and select them from it; None when a value is not of its column's type, for the
    INSERT path to send (or refuse) as before."""
    staging = _staging_table(table)
    names = _copy(conn, table, rows, f"pg_temp.{conn.dialect.identifier_preparer.quote(staging.name)}",
                  lambda cursor: _create_staging_table(conn, cursor, table, staging))
    return None if names is None else select(*(staging.c[name] for name in names))


def copy_into(conn: Connection, table: Table, rows: list[dict[str, Any]]) -> bool:
    """COPY ``rows``, none of whose keys is stored, straight into ``table``: PostgreSQL writes
    them a page at a time, without an upsert's speculative insertion of each row (half the
    server CPU of new features); False, nothing sent, when a value is not of its column's type."""
    return _copy(conn, table, rows, conn.dialect.identifier_preparer.quote(table.name), lambda cursor: None) is not None


def _copy(conn: Connection, table: Table, rows: list[dict[str, Any]], target: str,
          prepare: Callable[[Any], None]) -> list[str] | None:
    """COPY ``rows`` into ``target`` (after ``prepare`` on the cursor); the columns sent, or None
    when a value is not of its column's type (nothing sent)."""
    names = list(rows[0])
    binary = _binary_format(table)
    data = _binary(table, names, rows) if binary else _csv(table, names, rows)
    if data is None:
        return None
    quote = conn.dialect.identifier_preparer.quote
    columns = ", ".join(quote(name) for name in names)
    statement = f"COPY {target} ({columns}) FROM STDIN WITH (FORMAT {'binary' if binary else 'csv'})"
    with driver_cursor(conn, statement) as cursor:
        prepare(cursor)
        cursor.copy_expert(statement, io.BytesIO(data))
    return names


def _binary_format(table: Table) -> bool:
    return any(isinstance(column.type, LargeBinary) for column in table.columns)


def _create_staging_table(conn: Connection, cursor: Any, table: Table, staging: Table) -> None:
    """The session's staging table of ``table``, made where missing (once per connection, or
    again after a rolled-back batch made it), with the target's column storage: stamps stored
    uncompressed there too (see tables.UNCOMPRESSED_STORAGE). Asked on the driver's cursor:
    through SQLAlchemy the question cost ten times its answer (0.1 ms a table and batch)."""
    quote = conn.dialect.identifier_preparer.quote
    cursor.execute("SELECT to_regclass(%s)", (f"pg_temp.{quote(staging.name)}",))
    if cursor.fetchone()[0] is not None:
        return
    conn.exec_driver_sql(f"CREATE TEMPORARY TABLE {quote(staging.name)} ON COMMIT DELETE ROWS AS "
                         f"SELECT * FROM {quote(table.name)} WITH NO DATA")
    for name in UNCOMPRESSED_STORAGE.get(table.name, ()):
        conn.exec_driver_sql(f"ALTER TABLE pg_temp.{quote(staging.name)} ALTER COLUMN {quote(name)} SET STORAGE EXTERNAL")


@contextmanager
def driver_cursor(conn: Connection, statement: str) -> Iterator[Any]:
    """The driver's own cursor, for what SQLAlchemy would cost more client CPU on than the
    database spends (COPY, execute_values, a read of plain tuples), its errors raised as
    SQLAlchemy raises them (DataError, IntegrityError, ...) for ``statement``."""
    cursor = conn.connection.driver_connection.cursor()
    try:
        yield cursor
    except conn.dialect.loaded_dbapi.Error as exc:
        raise DBAPIError.instance(statement, None, exc, conn.dialect.loaded_dbapi.Error) from exc
    finally:
        cursor.close()


def _csv(table: Table, names: list[str], rows: list[dict[str, Any]]) -> bytes | None:
    try:
        values = list(map(operator.itemgetter(*names), rows)) if len(names) > 1 else None
    except KeyError:  # a row with fewer columns than the first: the rest are NULL
        values = None
    columns = (list(zip(*values)) if values is not None
               else [[row.get(name) for row in rows] for name in names])
    arrays = []
    for name, column in zip(names, columns):
        array = _array(table.c[name], column)
        if array is None:
            return None
        arrays.append(array)
    sink = io.BytesIO()
    pa_csv.write_csv(pa.Table.from_arrays(arrays, names=names), sink, _CSV)
    return sink.getvalue()


_BINARY_HEADER = b"PGCOPY\n\xff\r\n\x00" + struct.pack("!ii", 0, 0)
_BINARY_TRAILER = struct.pack("!h", -1)
_NULL = struct.pack("!i", -1)


def _binary(table: Table, names: list[str], rows: list[dict[str, Any]]) -> bytes | None:
    """``rows`` in COPY's binary format (a length and the bytes of each field), or None when a
    value is not of its column's type."""
    encoders = [_binary_encoder(table.c[name]) for name in names]
    fields = struct.pack("!h", len(names))
    out = [_BINARY_HEADER]
    try:
        for row in rows:
            out.append(fields)
            for name, encode in zip(names, encoders):
                value = row.get(name)
                out.append(_NULL if value is None else encode(value))
    except (_NotOfItsType, struct.error, OverflowError):  # an integer out of its column's range
        return None
    out.append(_BINARY_TRAILER)
    return b"".join(out)


def _binary_encoder(column: Column) -> Callable[[Any], bytes]:
    """A column's encoder: a value (not None) to its field, length first, or _NotOfItsType."""
    kind = column.type
    if isinstance(kind, LargeBinary):
        return lambda value: _sized(_of(value, bytes))
    if isinstance(kind, JSON):
        return lambda value: _sized(json_text(value).encode())
    if isinstance(kind, (String, Text)):
        return lambda value: _sized(_of(value, str).encode())
    if isinstance(kind, Boolean):
        return lambda value: struct.pack("!i?", 1, _of(value, bool, np.bool_))
    if isinstance(kind, BigInteger):
        return lambda value: struct.pack("!iq", 8, _of(value, numbers.Integral))
    if isinstance(kind, Integer):
        return lambda value: struct.pack("!ii", 4, _of(value, numbers.Integral))
    if isinstance(kind, Float):  # NaN and infinities are stored as NULL, as on SQLite
        return lambda value: struct.pack("!id", 8, value) if math.isfinite(_of(value, numbers.Real)) else _NULL
    raise TypeError(f"no binary COPY encoder for {column}")


def _sized(data: bytes) -> bytes:
    return struct.pack("!i", len(data)) + data


def _of(value: Any, *types: type) -> Any:
    """``value`` when it is of one of ``types`` (a bool is no number here), else _NotOfItsType."""
    if not isinstance(value, types) or isinstance(value, bool) and bool not in types:
        raise _NotOfItsType(type(value).__name__)
    return value


def _array(column: Column, values: Any) -> pa.Array | None:
    """One column as Arrow, or None when a value would be converted rather than sent as it is
    (a float in an integer column, a number in a boolean one)."""
    target = _arrow_type(column)
    if isinstance(column.type, JSON):
        values = [None if value is None else json_text(value) for value in values]
    try:
        array = pa.array(values)
    except (pa.ArrowException, OverflowError):
        return None
    if array.type != target:
        kind = array.type
        widened = pa.types.is_null(kind) or (pa.types.is_integer(kind) and target != pa.string()) or (
            pa.types.is_floating(kind) and target == pa.float64())
        if not widened or target == pa.bool_() and not pa.types.is_null(kind):
            return None
        try:
            array = array.cast(target)  # safe: an integer too big for int64 or float64 is refused
        except pa.ArrowException:
            return None
    if target == pa.float64():  # NaN and infinities are stored as NULL, as on SQLite
        numbers = array.to_numpy(zero_copy_only=False)  # NULL as NaN
        array = pa.array(numbers, mask=~np.isfinite(numbers))
    return array


def _arrow_type(column: Column) -> pa.DataType | None:
    return next((arrow for kind, arrow in _ARROW.items() if isinstance(column.type, kind)), None)


def _staging_table(table: Table) -> Table:
    staging = _staging_tables.get(table.name)
    if staging is None:
        staging = Table(f"_stage_{table.name}", MetaData(), *(Column(c.name, c.type) for c in table.columns),
                        schema="pg_temp")
        _staging_tables[table.name] = staging
    return staging

