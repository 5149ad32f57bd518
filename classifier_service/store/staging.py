"""PostgreSQL bulk path: a batch's rows COPYed into a temporary staging table, for one upsert.

A multi-row INSERT costs the client a mogrify of every value and the server a parse of every
literal; COPY of a CSV built column by column in Arrow costs neither. The staging table has
the target's columns and types without its constraints: the upsert into the target checks
those, with the target's own messages.
"""
from __future__ import annotations

import io
import json
import operator
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.csv as pa_csv
from sqlalchemy import JSON, BigInteger, Boolean, Column, Float, Integer, MetaData, Select, String, Table, Text, select
from sqlalchemy.engine import Connection
from sqlalchemy.exc import DBAPIError

__all__ = ["stage", "copyable", "raise_as_sqlalchemy"]

_ARROW = {Float: pa.float64(), Integer: pa.int64(), BigInteger: pa.int64(), Boolean: pa.bool_(),
          String: pa.string(), Text: pa.string(), JSON: pa.string()}
_CSV = pa_csv.WriteOptions(include_header=False, quoting_style="all_valid")  # NULL: empty, unquoted
_staging_tables: dict[str, Table] = {}


def copyable(table: Table) -> bool:
    """Tables of numbers, text and JSON only: binary stamps and payloads take the INSERT path
    (staged, PostgreSQL would store and compress each stamp twice)."""
    return all(_arrow_type(column) is not None for column in table.columns)


def stage(conn: Connection, table: Table, rows: list[dict[str, Any]]) -> Select | None:
    """COPY ``rows`` (their first row's columns, one row a key) into the staging table of
    ``table`` and select them from it; None when a value is not of its column's type, for the
    INSERT path to send (or refuse) as before."""
    names = list(rows[0])
    csv = _csv(table, names, rows)
    if csv is None:
        return None
    staging = _staging_table(table)
    quote = conn.dialect.identifier_preparer.quote
    conn.exec_driver_sql(
        f"CREATE TEMPORARY TABLE IF NOT EXISTS {quote(staging.name)} ON COMMIT DELETE ROWS AS "
        f"SELECT * FROM {quote(table.name)} WITH NO DATA")
    columns = ", ".join(quote(name) for name in names)
    statement = f"COPY pg_temp.{quote(staging.name)} ({columns}) FROM STDIN WITH (FORMAT csv)"
    cursor = conn.connection.driver_connection.cursor()
    try:
        cursor.copy_expert(statement, io.BytesIO(csv))
    except conn.dialect.loaded_dbapi.Error as exc:
        raise_as_sqlalchemy(conn, statement, exc)
    finally:
        cursor.close()
    return select(*(staging.c[name] for name in names))


def raise_as_sqlalchemy(conn: Connection, statement: str, exc: Exception) -> None:
    """A driver error raised as SQLAlchemy raises it (DataError, IntegrityError, ...)."""
    raise DBAPIError.instance(statement, None, exc, conn.dialect.loaded_dbapi.Error) from exc


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


def _array(column: Column, values: Any) -> pa.Array | None:
    """One column as Arrow, or None when a value would be converted rather than sent as it is
    (a float in an integer column, a number in a boolean one)."""
    target = _arrow_type(column)
    if isinstance(column.type, JSON):
        values = [None if value is None else json.dumps(value) for value in values]
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

