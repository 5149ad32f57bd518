"""The API benchmark's store and queries, on a few hundred objects; and the store's indexes.

The benchmark (``alerce-classifier bench --api``) prints times; here only what it stands on
is checked: its synthetic store is one the API serves every benchmark query from, on
SQLite and PostgreSQL, it is reused rather than rebuilt, and a store that lacks an index
declared in store/tables.py (built before the index was added) gets it.
"""
from __future__ import annotations

import pytest
from sqlalchemy import create_engine, inspect, text

from classifier_service.bench.api import QUERIES, ensure_store, measure, report_text
from classifier_service.bench.scenarios import postgres_database
from classifier_service.store import Store, database_url, tables

N_OBJECTS = 300
POSTGRES = "postgresql://postgres@127.0.0.1:5432"


def index_names(url: str, table: str) -> set[str]:
    engine = create_engine(database_url(url))
    try:
        return {ix["name"] for ix in inspect(engine).get_indexes(table)}
    finally:
        engine.dispose()


def test_the_bench_store_answers_every_benchmark_query_and_is_reused(tmp_path):
    url = f"sqlite:///{tmp_path / 'bench.sqlite3'}"
    assert ensure_store(url, N_OBJECTS) is True
    assert ensure_store(url, N_OBJECTS) is False  # the second bench run measures the same store

    figures = measure(url, repeats=1)

    assert len(figures) == len(QUERIES)
    assert all(f["n_503"] == 0 and f["p95_ms"] >= f["p50_ms"] > 0 for f in figures.values())
    table = report_text({"n_objects": N_OBJECTS, "repeats": 1, "load_average": 0.0,
                         "sqlite": figures})
    assert "class=SNIa&probability>=0.3" in table and "LSST lightcurve" in table


@pytest.mark.postgres
def test_the_bench_store_is_written_with_copy_and_served_on_postgresql():
    with postgres_database(POSTGRES) as url:
        assert ensure_store(url, N_OBJECTS) is True
        figures = measure(url, repeats=1)
        assert all(f["n_503"] == 0 for f in figures.values())
        assert {ix.name for ix in tables.probability.indexes} <= index_names(url, "probability")


def test_a_store_built_before_an_index_was_declared_gets_it_and_loses_retired_ones(tmp_path):
    url = f"sqlite:///{tmp_path / 'old.sqlite3'}"
    store = Store(url)
    store.create_all()
    retired = tables.RETIRED_INDEXES[0]
    with store.engine.begin() as conn:
        conn.execute(text("DROP INDEX ix_probability_top_class_oid"))
        conn.execute(text(f"CREATE INDEX {retired} ON probability (classifier_name)"))

    with store.engine.begin() as conn:
        assert tables.create_missing_indexes(conn) == ["ix_probability_top_class_oid"]
    with store.engine.begin() as conn:
        assert tables.create_missing_indexes(conn) == []
    store.dispose()

    names = index_names(url, "probability")
    assert "ix_probability_top_class_oid" in names and retired not in names
