"""Checks a command makes before it starts work, so a wrong address fails at once, in one line."""
from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

from classifier_service.settings import CommandError

KAFKA_TIMEOUT_S = 10.0
# The first bytes of every SQLite database file (an empty file is an empty database too).
SQLITE_HEADER = b"SQLite format 3\x00"


def open_store(url: str):
    """The store at ``url`` with its tables created; CommandError when it cannot be opened."""
    from sqlalchemy.exc import DBAPIError

    from classifier_service.store import Store

    store = Store(url)
    try:
        store.create_all()
        _check_writable(store)
    except DBAPIError as exc:
        store.dispose()
        raise _database_error(url, exc) from exc
    return store


def _check_writable(store) -> None:
    """A DBAPIError if the store can be read but not written (a read-only file or database, a
    standby): a run would otherwise fail at its first batch, after loading every model. The
    probe deletes nothing and is rolled back."""
    from sqlalchemy import text

    with store.engine.connect() as conn:
        conn.execute(text("DELETE FROM dead_letter WHERE 1 = 0"))
        conn.rollback()


def check_store(engine, url: str) -> None:
    """CommandError unless the database at ``url`` answers and holds the store's tables.

    Creates nothing (give it an engine that cannot: serve's opens SQLite read-only), and a
    SQLite path is looked at before it is opened, since a missing file would be made and
    whatever is not a SQLite file would only fail at the first query.
    """
    from sqlalchemy import inspect
    from sqlalchemy.engine import make_url

    from classifier_service.store.tables import metadata

    parsed = make_url(url)
    if parsed.get_backend_name() == "sqlite" and (problem := _not_a_sqlite_database(Path(parsed.database))):
        raise _no_store(url, problem)
    reach_database(engine, url)
    missing = sorted(set(metadata.tables) - set(inspect(engine).get_table_names()))
    if len(missing) == len(metadata.tables):
        raise _no_store(url, "the database has none of the store's tables")
    if missing:
        raise _no_store(url, f"the database lacks the store's tables {', '.join(missing)}")


def _not_a_sqlite_database(path: Path) -> str | None:
    """Why ``path`` holds no SQLite database, or None if it may."""
    if not path.exists():
        return "no such file"
    if not path.is_file():
        return "not a file"
    with path.open("rb") as file:
        header = file.read(len(SQLITE_HEADER))
    return None if header in (b"", SQLITE_HEADER) else "not a SQLite database"


def _no_store(url: str, reason: str) -> CommandError:
    shown = shown_url(url)
    return CommandError(f"there is no store at {shown}: {reason}; "
                        f"`alerce-classifier replay PATH... --db {shown}` (or `run`) makes one")


def reach_database(engine, url: str) -> None:
    """CommandError unless ``engine`` can connect (read-only: creates nothing)."""
    from sqlalchemy.exc import DBAPIError

    try:
        with engine.connect():
            pass
    except DBAPIError as exc:
        raise _database_error(url, exc) from exc


def shown_url(url: str) -> str:
    """A database URL as a message may show it: without its password."""
    from sqlalchemy.engine import make_url

    return make_url(url).render_as_string(hide_password=True)


def _database_error(url: str, exc) -> CommandError:
    reason = (str(exc.orig).strip().splitlines() or [type(exc.orig).__name__])[0]
    return CommandError(f"cannot open the database {shown_url(url)}: {reason}")


def check_kafka(bootstrap_servers: str, settings: Mapping[str, Any], timeout_s: float = KAFKA_TIMEOUT_S) -> None:
    """CommandError unless the brokers answer a metadata request within ``timeout_s``."""
    from confluent_kafka import KafkaException
    from confluent_kafka.admin import AdminClient

    from classifier_service.stream.consumer import client_settings

    # log_level 0: librdkafka's own connection errors would print several lines on stderr.
    admin = AdminClient(client_settings(bootstrap_servers, settings, {"log_level": 0}))
    try:
        admin.list_topics(timeout=timeout_s)
    except KafkaException as exc:
        error = exc.args[0] if exc.args else exc
        reason = error.str() if hasattr(error, "str") else str(error)
        raise CommandError(f"cannot reach Kafka at {bootstrap_servers}: {reason}") from exc
