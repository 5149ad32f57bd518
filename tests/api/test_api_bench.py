"""The API benchmark's store and queries, on a few hundred objects; and the store's indexes.

The benchmark (``alerce-classifier bench --api``) prints times; here only what it stands on
is checked: its synthetic store is one the API serves every benchmark query from, on
SQLite and PostgreSQL, it is reused rather than rebuilt, and a store that lacks an index
declared in store/tables.py (built before the index was added) gets it. On the same store
(both surveys), the counts that read the survey from the oid are the joined counts, and
a page looked up objects first, or among the objects that lead in its order, is the page
and count the join gives.
"""
from __future__ import annotations

import pytest
from sqlalchemy import create_engine, func, inspect, select, text

from classifier_service.api.objects import ObjectQuery, _classified, build_count, build_select, object_probe
from classifier_service.api.reads import objects_first, page_rows
from classifier_service.bench.api import QUERIES, ensure_store, measure, report_text
from classifier_service.bench.api_load import measure_under_load
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


@pytest.fixture(scope="module")
def bench_url(tmp_path_factory) -> str:
    url = f"sqlite:///{tmp_path_factory.mktemp('bench') / 'bench.sqlite3'}"
    assert ensure_store(url, N_OBJECTS) is True
    return url


def test_the_bench_store_answers_every_benchmark_query_and_is_reused(bench_url):
    assert ensure_store(bench_url, N_OBJECTS) is False  # the next bench run measures it again

    figures = measure(bench_url, repeats=1)

    assert len(figures) == len(QUERIES)
    assert all(f["n_503"] == 0 and f["p95_ms"] >= f["p50_ms"] > 0 for f in figures.values())
    table = report_text({"n_objects": N_OBJECTS, "repeats": 1, "load_average": 0.0,
                         "sqlite": figures})
    assert "class=SNIa&probability>=0.3" in table and "LSST lightcurve" in table


@pytest.mark.parametrize("query", [
    ObjectQuery(survey="ZTF", classifier="lc_classifier"),
    ObjectQuery(survey="ZTF", class_name="SN", probability=0.5),
    ObjectQuery(survey="LSST", classifier="stamp_classifier_lsst", class_name="SN"),
    ObjectQuery(survey="LSST", class_name="SN"),
], ids=repr)
def test_a_count_that_reads_the_survey_from_the_oid_counts_what_the_object_table_says(
        bench_url, query):
    joined, _, where = _classified(query)
    engine = create_engine(bench_url)
    with engine.connect() as conn:
        expected = conn.execute(select(func.count()).select_from(joined).where(*where)).scalar_one()
        assert conn.execute(build_count(query)).scalar_one() == expected > 0
    engine.dispose()


def test_many_clients_at_once_get_every_benchmark_query_answered_by_the_serve_command(bench_url):
    figures = measure_under_load(bench_url, clients=3, rounds=1)

    assert figures["requests"] == 3 * len(QUERIES) and figures["n_503"] == figures["n_dropped"] == 0
    assert figures["p95_ms"] >= figures["p50_ms"] > 0 and figures["requests_per_s"] > 0
    assert figures["worst_query"] in {label for label, _, _ in QUERIES}
    table = report_text({"n_objects": N_OBJECTS, "repeats": 1, "load_average": 0.0,
                         "sqlite": measure(bench_url, repeats=1), "under_load": {"sqlite": {"1": figures}}})
    assert "sqlite, 3 clients at once against `serve --workers 1`" in table


def plan(url: str, statement) -> str:
    engine = create_engine(url)
    sql = str(statement.compile(dialect=engine.dialect, compile_kwargs={"literal_binds": True}))
    with engine.connect() as conn:
        steps = conn.exec_driver_sql(f"EXPLAIN QUERY PLAN {sql}").all()
    engine.dispose()
    return "\n".join(step[-1] for step in steps)


@pytest.mark.parametrize("created_last", ["ix_object_ndet", "ix_object_lastmjd_survey_ndet_oid"])
def test_sqlite_walks_the_date_index_when_a_detection_cut_comes_with_a_date_range(bench_url, created_last):
    """Without statistics SQLite rates one-sided ranges alike and takes the index the schema
    lists first; the detection cut is marked as keeping most objects, whatever that order."""
    engine = create_engine(bench_url)
    with engine.begin() as conn:
        conn.execute(text(f"DROP INDEX {created_last}"))
        tables.create_missing_indexes(conn)
    engine.dispose()
    tom_form = ObjectQuery(survey="ZTF", classifier="stamp_classifier", class_name="SN", ndet=(2, None),
                           lastmjd=(60_000.0, None))
    detections_only = ObjectQuery(survey="ZTF", classifier="stamp_classifier", ndet=(20, 40))

    assert "INDEX ix_object_lastmjd_survey_ndet_oid" in plan(bench_url, object_probe(tom_form))
    assert "USING INDEX ix_object_ndet" in plan(bench_url, object_probe(detections_only))


@pytest.mark.parametrize("query", [
    ObjectQuery(survey="ZTF", classifier="stamp_classifier", class_name="SN", probability=0.2,
                firstmjd=(59_000.0, 60_000.0), order_by="probability", order_mode="DESC"),
    ObjectQuery(survey="ZTF", classifier="lc_classifier", ndet=(3, 40), order_by="ndet",
                order_mode="DESC", page=2, page_size=5),
    ObjectQuery(survey="ZTF", class_name="SN", lastmjd=(59_500.0, None)),
    ObjectQuery(survey="LSST", classifier="stamp_classifier_lsst", firstmjd=(58_000.0, 61_000.0),
                order_by="probability"),
], ids=repr)
def test_a_page_looked_up_objects_first_is_the_page_the_join_gives(bench_url, query):
    engine = create_engine(bench_url)
    with engine.connect() as conn:
        pages = [conn.execute(build_select(query, None, first)).all() for first in (False, True)]
        counts = [conn.execute(build_count(query, first)).scalar_one() for first in (False, True)]
        assert objects_first(conn, query, count=True) in (False, True)  # the probes run here
    engine.dispose()
    assert pages[0] == pages[1] and len(pages[0]) > 0
    assert counts[0] == counts[1] > 0


def test_sqlite_looks_up_objects_first_when_the_object_filters_select_fewer_objects(bench_url):
    narrow = ObjectQuery(survey="ZTF", classifier="stamp_classifier", firstmjd=(60_000.0, 60_030.0))
    wide = ObjectQuery(survey="ZTF", classifier="lc_classifier", class_name="SNIa", ndet=(1, None))
    unfiltered = ObjectQuery(survey="ZTF", classifier="stamp_classifier")
    by_probability = ObjectQuery(survey="ZTF", classifier="stamp_classifier",
                                 firstmjd=(60_000.0, 60_030.0), order_by="probability")
    engine = create_engine(bench_url)
    with engine.connect() as conn:
        assert [objects_first(conn, q, count=True) for q in (narrow, wide, unfiltered)] == [
            True, False, False]
        # A page in oid order stops early along the probability rows: no probes for it.
        assert objects_first(conn, narrow, count=False) is False
        assert objects_first(conn, by_probability, count=False) is True
    engine.dispose()


@pytest.mark.parametrize("query", [
    # Periodic stars are many among the objects of most detections: the leading ones hold the page.
    ObjectQuery(survey="ZTF", classifier="lc_classifier_top", class_name="Periodic",
                order_by="ndet", order_mode="DESC", page_size=5),
    ObjectQuery(survey="ZTF", classifier="lc_classifier_top", order_by="firstmjd", page=2,
                page_size=3),
    # The objects of fewest detections have no light-curve class: the whole query answers.
    ObjectQuery(survey="ZTF", classifier="lc_classifier", order_by="ndet", page_size=5),
    ObjectQuery(survey="LSST", classifier="stamp_classifier_lsst", class_name="SN",
                order_by="lastmjd", order_mode="DESC", page_size=4),
], ids=repr)
def test_a_page_ordered_by_an_object_column_is_the_page_the_whole_query_gives(bench_url, query):
    engine = create_engine(bench_url)
    with engine.connect() as conn:
        whole = conn.execute(build_select(query, None)).mappings().all()
        assert page_rows(conn, query, None, first=False) == whole
    engine.dispose()
    assert len(whole) > 0


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
