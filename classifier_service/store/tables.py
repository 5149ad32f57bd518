"""The store's tables, after ALeRCE's ZTF data model (same table and column names).

SQLAlchemy Core tables rather than ORM classes: the worker writes in bulk with upserts
and the API reads with plain selects, and neither needs identity-mapped objects.
"""
from __future__ import annotations

from sqlalchemy import (
    JSON,
    BigInteger,
    Boolean,
    Column,
    DateTime,
    Float,
    Index,
    Integer,
    LargeBinary,
    MetaData,
    String,
    Table,
    Text,
    func,
    inspect,
    text,
)
from sqlalchemy.schema import CreateIndex, CreateTable

metadata = MetaData()
# Indexes an older version declared, dropped where found: a changed index gets a new name so
# that existing stores build it (see create_missing_indexes).
RETIRED_INDEXES = ("ix_probability_top_class", "ix_object_lastmjd")
# Columns whose values come compressed (gzipped FITS stamps): PostgreSQL stores them as they are
# (STORAGE EXTERNAL) instead of running pglz over every stamp, which found nothing to gain and
# cost a third of the stamps' write (600 simulated alerts: 57 of 85 server CPU ms).
UNCOMPRESSED_STORAGE = {"cutout": ("science", "template", "difference")}

object_table = Table(
    "object", metadata,
    Column("oid", String(32), primary_key=True),
    Column("survey", String(16), nullable=False, default="ZTF"),
    Column("ndethist", Integer),
    Column("ncovhist", Integer),
    Column("mjdstarthist", Float),
    Column("mjdendhist", Float),
    Column("corrected", Boolean),
    Column("stellar", Boolean),
    Column("ndet", Integer, nullable=False),
    Column("g_r_max", Float),
    Column("g_r_max_corr", Float),
    Column("g_r_mean", Float),
    Column("g_r_mean_corr", Float),
    Column("meanra", Float, nullable=False),
    Column("meandec", Float, nullable=False),
    Column("sigmara", Float),
    Column("sigmadec", Float),
    Column("deltajd", Float),
    Column("firstmjd", Float, nullable=False),
    Column("lastmjd", Float, nullable=False),
    Column("diffpos", Boolean),
    Column("reference_change", Boolean),
    Column("step_id_corr", String(32)),
    # Every list is one survey's: the survey of the object a probability row names, read
    # from this index instead of the object's row (a count of 40,000 top classes: 640 -> 40
    # ms on SQLite), and a survey's objects in oid order, the lists' default.
    Index("ix_object_oid_survey", "oid", "survey"),
    Index("ix_object_firstmjd", "firstmjd"),
    # Objects seen since a date ("SN, ndet >= 2, last 30 days", the TOM's form) are walked along
    # this index without reading their rows: survey, ndet and oid are in it (1,886 of 100,000
    # objects on SQLite: 11 -> 1 ms a walk, and a page with its count walks three times).
    Index("ix_object_lastmjd_survey_ndet_oid", "lastmjd", "survey", "ndet", "oid"),
    Index("ix_object_ndet", "ndet"),
    Index("ix_object_meandec_meanra", "meandec", "meanra"),
)

detection = Table(
    "detection", metadata,
    Column("candid", BigInteger, primary_key=True),
    Column("oid", String(32), nullable=False),
    Column("mjd", Float, nullable=False),
    Column("fid", Integer, nullable=False),
    Column("pid", BigInteger),
    Column("diffmaglim", Float),
    Column("isdiffpos", Integer, nullable=False),
    Column("nid", Integer),
    Column("ra", Float, nullable=False),
    Column("dec", Float, nullable=False),
    Column("magpsf", Float, nullable=False),
    Column("sigmapsf", Float, nullable=False),
    Column("magap", Float),
    Column("sigmagap", Float),
    Column("distnr", Float),
    Column("rb", Float),
    Column("rbversion", String(16)),
    Column("drb", Float),
    Column("drbversion", String(16)),
    Column("magapbig", Float),
    Column("sigmagapbig", Float),
    Column("rfid", BigInteger),
    Column("magpsf_corr", Float),
    Column("sigmapsf_corr", Float),
    Column("sigmapsf_corr_ext", Float),
    Column("corrected", Boolean, nullable=False, default=False),
    Column("dubious", Boolean, nullable=False, default=False),
    Column("parent_candid", BigInteger),
    Column("has_stamp", Boolean, nullable=False, default=False),
    Column("step_id_corr", String(32)),
    Index("ix_detection_oid_mjd", "oid", "mjd"),
)

non_detection = Table(
    "non_detection", metadata,
    Column("oid", String(32), primary_key=True),
    Column("fid", Integer, primary_key=True),
    Column("mjd", Float, primary_key=True),
    Column("diffmaglim", Float, nullable=False),
)

forced_photometry = Table(
    "forced_photometry", metadata,
    Column("oid", String(32), primary_key=True),
    Column("pid", BigInteger, primary_key=True),
    Column("mjd", Float, nullable=False),
    Column("fid", Integer, nullable=False),
    Column("forcediffimflux", Float),
    Column("forcediffimfluxunc", Float),
    Column("magzpsci", Float),
    Column("diffmaglim", Float),
    Column("mag", Float),  # apparent magnitude of the difference flux, where it is positive
    Column("e_mag", Float),
    Column("extra", JSON),
    Index("ix_forced_photometry_oid_mjd", "oid", "mjd"),
)

magstat = Table(
    "magstat", metadata,
    Column("oid", String(32), primary_key=True),
    Column("fid", Integer, primary_key=True),
    Column("stellar", Boolean),
    Column("corrected", Boolean),
    Column("ndet", Integer, nullable=False),
    Column("ndubious", Integer),
    Column("dmdt_first", Float),
    Column("dm_first", Float),
    Column("sigmadm_first", Float),
    Column("dt_first", Float),
    Column("magmean", Float),
    Column("magmedian", Float),
    Column("magmax", Float),
    Column("magmin", Float),
    Column("magsigma", Float),
    Column("maglast", Float),
    Column("magfirst", Float),
    Column("magmean_corr", Float),
    Column("magmedian_corr", Float),
    Column("magmax_corr", Float),
    Column("magmin_corr", Float),
    Column("magsigma_corr", Float),
    Column("maglast_corr", Float),
    Column("magfirst_corr", Float),
    Column("firstmjd", Float),
    Column("lastmjd", Float),
    Column("step_id_corr", String(32)),
    Column("saturation_rate", Float),
)

probability = Table(
    "probability", metadata,
    Column("oid", String(32), primary_key=True),
    Column("classifier_name", String(64), primary_key=True),
    Column("classifier_version", String(32), primary_key=True),
    Column("class_name", String(32), primary_key=True),
    Column("probability", Float, nullable=False),
    Column("ranking", Integer, nullable=False),
    # The API's lists and the SN Hunter ask for top classes (ranking 1): "class X of classifier
    # Y above p" and "classifier Y, most probable first". Partial indexes over ranking-1 rows
    # serve both (chosen from EXPLAIN of the API's queries, bench/api.py) at a fraction of the
    # size and write cost of full ones; queries must say ``ranking = 1`` literally for SQLite
    # to use them.
    Index("ix_probability_top_class_probability", "classifier_name", "class_name", "probability",
          "oid", "ranking", sqlite_where=text("ranking = 1"), postgresql_where=text("ranking = 1")),
    Index("ix_probability_top", "classifier_name", "probability",
          sqlite_where=text("ranking = 1"), postgresql_where=text("ranking = 1")),
    # The same lists in oid order (the API's default), and their counts: the page is the
    # first rows of the index, "above p" is tested inside it, and a count reads the index
    # alone (SQLite counts a partial index as covering only when it holds ``ranking`` too).
    Index("ix_probability_top_class_oid", "classifier_name", "class_name", "oid", "probability",
          "ranking", sqlite_where=text("ranking = 1"), postgresql_where=text("ranking = 1")),
    Index("ix_probability_top_oid", "classifier_name", "oid", "probability", "ranking",
          sqlite_where=text("ranking = 1"), postgresql_where=text("ranking = 1")),
    # A class asked for without its classifier (``class=SNIa``), in oid order.
    Index("ix_probability_top_any_class_oid", "class_name", "oid", "classifier_name",
          "probability", "ranking",
          sqlite_where=text("ranking = 1"), postgresql_where=text("ranking = 1")),
    # Any other ranking (``ranking=2``): a classifier's rows of that rank in oid order, so its
    # pages stop at their end and its counts read this index alone, a class tested inside it.
    # Without it SQLite scanned the table: ``lc_classifier&ranking=2`` counted in 415 CPU ms
    # on 100,000 objects, 6.6 with it (bench/api.py).
    Index("ix_probability_rank_oid", "ranking", "classifier_name", "oid", "class_name", "probability"),
)

feature = Table(
    "feature", metadata,
    Column("oid", String(32), primary_key=True),
    Column("name", String(64), primary_key=True),
    Column("fid", Integer, primary_key=True),  # 0 for features of no single band
    Column("version", String(32), primary_key=True),
    Column("value", Float),
)

taxonomy = Table(
    "taxonomy", metadata,
    Column("classifier_name", String(64), primary_key=True),
    Column("classifier_version", String(32), primary_key=True),
    Column("classes", JSON, nullable=False),
)

cutout = Table(
    "cutout", metadata,
    Column("oid", String(32), primary_key=True),  # the stamps of the object's first alert
    Column("candid", BigInteger, nullable=False),
    Column("science", LargeBinary),
    Column("template", LargeBinary),
    Column("difference", LargeBinary),
)

dead_letter = Table(
    "dead_letter", metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("created", DateTime(timezone=True), nullable=False, server_default=func.now()),
    Column("source", Text, nullable=False),  # file path, or topic/partition/offset
    Column("stage", String(32), nullable=False),  # decode | parse | cutout | classify | ...
    Column("reason", Text, nullable=False),
    Column("oid", String(32)),
    Column("candid", BigInteger),
    Column("payload", LargeBinary),  # the first DEAD_LETTER_PAYLOAD_BYTES of it
    Column("payload_size", BigInteger),  # of the whole payload, and its digest, to find it again
    Column("payload_sha256", String(64)),
    # One row per bad input however often it is replayed.
    Index("ux_dead_letter_source_stage", "source", "stage", unique=True),
)


def create_tables(connection) -> None:
    """Create the tables the database lacks, without their indexes: ``create_missing_indexes``
    builds those, in name order.

    SQLite keeps no statistics here and, between two indexes it rates alike, takes the one its
    schema lists first; SQLAlchemy's ``create_all`` creates a table's indexes from a set, in an
    order that changes from process to process, so two stores planned one query differently
    (430 against 20 ms). In name order every store lists them alike.
    """
    for table in metadata.sorted_tables:
        connection.execute(CreateTable(table, if_not_exists=True))


def create_missing_indexes(connection) -> list[str]:
    """Create the indexes declared here that the database lacks, drop retired ones; the names
    of those created.

    There are no migrations: ``create_all`` skips tables that exist, indexes included, so
    a store created before an index was added gets it here (a one-off build, which on
    PostgreSQL holds writes to that table until it is done).
    """
    created = []
    for table in metadata.sorted_tables:
        before = _index_names(connection, table)
        for name in sorted(before.intersection(RETIRED_INDEXES)):
            connection.execute(text(f'DROP INDEX IF EXISTS "{name}"'))
        missing = sorted((index for index in table.indexes if index.name not in before), key=lambda ix: ix.name)
        for index in missing:  # IF NOT EXISTS: two workers may start on one store at once
            connection.execute(CreateIndex(index, if_not_exists=True))
        if missing:
            created += sorted(_index_names(connection, table) - before)
    return created


def store_uncompressed(connection) -> None:
    """PostgreSQL: give the UNCOMPRESSED_STORAGE columns that lack it their storage (rows
    written before keep theirs; both read back the same bytes)."""
    for table, names in UNCOMPRESSED_STORAGE.items():
        compressed = connection.execute(text(
            "SELECT attname FROM pg_attribute WHERE attrelid = CAST(:table AS regclass) "
            "AND attname = ANY(:names) AND attstorage <> 'e'"), {"table": table, "names": list(names)}).scalars()
        for name in compressed.all():
            connection.execute(text(f'ALTER TABLE "{table}" ALTER COLUMN "{name}" SET STORAGE EXTERNAL'))


def _index_names(connection, table: Table) -> set[str]:
    return {index["name"] for index in inspect(connection).get_indexes(table.name)}
