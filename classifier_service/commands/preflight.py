"""Checks a command makes before it starts work, so a wrong address fails at once, in one line."""
from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from classifier_service.settings import CommandError

KAFKA_TIMEOUT_S = 10.0


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
