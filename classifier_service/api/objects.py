"""The ``/objects`` search: ALeRCE's filters, cone search, ordering and bounded paging.

Builds one SQLAlchemy Core select from validated parameters; the route only runs it.
Probability filters join the ``probability`` table through its partial indexes over top
classes (``ranking = 1``, see store/tables.py); without them every object carries the top
class of a default classifier, as ALeRCE's list does with its light-curve classifier.
"""
from __future__ import annotations

import math
from dataclasses import dataclass, field

from sqlalchemy import Boolean, Float, Integer, Select, and_, func, literal, not_, or_, select
from sqlalchemy.ext.compiler import compiles
from sqlalchemy.sql.elements import ColumnElement
from sqlalchemy.sql.visitors import InternalTraversal

from alerce_contract.taxonomy import LC_CLASSIFIER, LC_CLASSIFIER_LSST, STAMP_CLASSIFIER, STAMP_CLASSIFIER_LSST
from classifier_service.api.schemas import OBJECT_EXCLUDE, columns
from classifier_service.store.tables import object_table, probability

# A lower bound on detections alone (ndet >= 2) is a quality cut that keeps most of a broker's
# objects, while a date range asks for the few of some nights: SQLite is told so (``Likely``)
# when a query has both, and walks the date's index.
QUALITY_CUT_SHARE = 0.5
MAX_PAGE_SIZE = 1000
MAX_OFFSET = 100_000  # page * page_size beyond this is refused: narrow the filters instead
DEFAULT_RADIUS_ARCSEC = 30.0
MAX_RADIUS_ARCSEC = 3600.0 * 10
# Objects-first (see object_probe) only for at most this many objects: a bounded cost, one
# probability lookup each, whatever the probability side holds.
OBJECTS_FIRST_LIMIT = 5000
# A page ordered by an object column is first looked for among this many leading objects per
# row it needs (see leading_objects), when that is at most MAX_LEADING_OBJECTS.
LEADING_OBJECTS_PER_ROW = 20
MAX_LEADING_OBJECTS = 5000
# The classifier whose top class labels list items when the query names none, in preference
# order, per survey: a Rubin object has no answer of ZTF's models.
DEFAULT_CLASSIFIERS: dict[str, tuple[str, ...]] = {"ZTF": (LC_CLASSIFIER, STAMP_CLASSIFIER),
                                                   "LSST": (LC_CLASSIFIER_LSST, STAMP_CLASSIFIER_LSST)}
OBJECT_ORDER_COLUMNS = tuple(columns(object_table, OBJECT_EXCLUDE))
PROBABILITY_ORDER_COLUMNS = ("classifier_name", "class_name", "probability", "ranking")
ORDER_COLUMNS = OBJECT_ORDER_COLUMNS + PROBABILITY_ORDER_COLUMNS


class QueryError(ValueError):
    """A parameter combination that cannot be served; the message goes back to the caller."""


@dataclass(slots=True)
class ConeSearch:
    ra: float
    dec: float
    radius_arcsec: float = DEFAULT_RADIUS_ARCSEC


@dataclass(slots=True)
class ObjectQuery:
    """Validated ``/objects`` parameters (ALeRCE's names; ``class_name`` is ``class`` there)."""

    oids: list[str] = field(default_factory=list)
    survey: str | None = None  # the store's survey name (ZTF, LSST)
    classifier: str | None = None
    classifier_version: str | None = None
    class_name: str | None = None
    ranking: int | None = None
    probability: float | None = None
    ndet: tuple[float | None, float | None] = (None, None)
    firstmjd: tuple[float | None, float | None] = (None, None)
    lastmjd: tuple[float | None, float | None] = (None, None)
    cone: ConeSearch | None = None
    order_by: str | None = None
    order_mode: str = "ASC"
    page: int = 1
    page_size: int = 10

    @property
    def filters_probabilities(self) -> bool:
        return any(v is not None for v in (
            self.classifier, self.classifier_version, self.class_name, self.ranking,
            self.probability))

    @property
    def offset(self) -> int:
        return (self.page - 1) * self.page_size


def value_range(name: str, values: list[float] | None) -> tuple[float | None, float | None]:
    """ALeRCE's ``name=min[&name=max]`` into (min, max), refusing anything else."""
    if not values:
        return (None, None)
    if len(values) > 2:
        raise QueryError(f"{name} takes one value (minimum) or two (minimum and maximum), "
                         f"got {len(values)}")
    low, high = values[0], values[1] if len(values) == 2 else None
    if high is not None and low > high:
        raise QueryError(f"{name} range is empty: minimum {low} is above maximum {high}")
    return (low, high)


def cone_search(ra: float | None, dec: float | None, radius: float | None) -> ConeSearch | None:
    """A cone from ra/dec (degrees) and radius (arcsec, default 30), or None when not asked."""
    if ra is None and dec is None:
        if radius is not None:
            raise QueryError("radius needs ra and dec")
        return None
    if ra is None or dec is None:
        raise QueryError("a cone search needs both ra and dec (degrees)")
    return ConeSearch(ra, dec, DEFAULT_RADIUS_ARCSEC if radius is None else radius)


def check_paging(page: int, page_size: int) -> None:
    """Bounded offsets: deep pages cost a scan of every row before them."""
    if page * page_size > MAX_OFFSET:
        raise QueryError(f"page * page_size is at most {MAX_OFFSET}: narrow the query with "
                         "filters (firstmjd, lastmjd, ndet, ...) instead of paging further")


def build_select(query: ObjectQuery, default_classifier: tuple[str, str] | None,
                 objects_first: bool = False, leading: int | None = None) -> Select:
    """The page's select (``page_size + 1`` rows, so the caller can tell whether more follow).

    Unless the query filters or orders by probabilities, the page is cut from the object
    table alone (its indexes, no join per skipped row) and only then labelled with the
    default classifier's top class. ``objects_first``: see ``object_probe``; ``leading``:
    only the first ``leading`` objects in the query's order (see ``leading_objects``).
    """
    obj = object_table
    if query.filters_probabilities:
        source, prob, where = _classified(query, objects_first, leading)
        return _paged(select(*_item_columns(obj, prob)).select_from(source).where(*where),
                      query, obj, prob, objects_first or leading is not None)
    prob = _top_classes(default_classifier)
    if query.order_by in PROBABILITY_ORDER_COLUMNS:
        if prob is None:
            raise QueryError(f"order_by={query.order_by} needs a classifier: none is stored")
        source = obj.outerjoin(prob, prob.c.oid == obj.c.oid)
        return _paged(select(*_item_columns(obj, prob)).select_from(source)
                      .where(*_object_filters(query)), query, obj, prob)
    page = _paged(select(*_object_columns(obj)).where(*_object_filters(query)), query, obj,
                  None).subquery("page")
    source = page if prob is None else page.outerjoin(prob, prob.c.oid == page.c.oid)
    return select(*_item_columns(page, prob)).select_from(source).order_by(
        *_order(query, page, None))


def build_count(query: ObjectQuery, objects_first: bool = False) -> Select:
    """``SELECT count(*)`` of the rows the query pages through.

    Filtered by probabilities and survey alone, the probability rows are counted without
    their objects: the survey is in the oid (``SURVEY_OIDS``), so the count reads one index
    instead of looking up the object of every row (all 41,719 top classes of a classifier
    on 100,000 objects: 98 -> 13 CPU ms on SQLite, 70 -> 3 on PostgreSQL; bench/api.py).
    """
    if query.filters_probabilities and _survey_only(query):
        prob = probability.alias("p")
        return select(func.count()).select_from(prob).where(
            SURVEY_OIDS[query.survey](prob.c.oid), *_probability_filters(query, prob))
    if query.filters_probabilities and objects_first:
        prob = probability.alias("p")
        return select(func.count()).select_from(prob).where(
            prob.c.oid.in_(_selected_oids(query)), *_probability_filters(query, prob))
    if query.filters_probabilities:
        source, _, where = _classified(query)
        return select(func.count()).select_from(source).where(*where)
    return select(func.count()).select_from(object_table).where(*_object_filters(query))


def object_probe(query: ObjectQuery) -> Select | None:
    """How many objects (up to OBJECTS_FIRST_LIMIT + 1) the object filters select, for a query
    that filters by probabilities and by ranges or a cone; None for any other.

    SQLite's planner, without column statistics, cannot tell which side of such a query
    is narrower and walks the probability rows (all 10,352 "stamp SN above 0.5" to find
    the SN Hunter's 38 objects of the last 24 hours: 26 ms). Counted, the narrower side is
    known: when the objects are fewer than the probability rows (``probability_probe``),
    ``objects_first`` looks up the probabilities of those objects instead (when it is
    asked: ``reads.objects_first``).
    """
    ranges = (*query.ndet, *query.firstmjd, *query.lastmjd)
    if not query.filters_probabilities or (query.cone is None and all(v is None for v in ranges)):
        return None
    return _bounded_count(select(literal(1)).where(*_object_filters(query)),
                          OBJECTS_FIRST_LIMIT + 1)


def probability_probe(query: ObjectQuery, limit: int) -> Select:
    """How many probability rows (up to ``limit``) pass the query's probability filters."""
    prob = probability.alias("p")
    rows = select(literal(1)).select_from(prob).where(*_probability_filters(query, prob))
    return _bounded_count(rows, limit)


def _bounded_count(statement: Select, limit: int) -> Select:
    return select(func.count()).select_from(statement.limit(limit).subquery())


def leading_objects(query: ObjectQuery) -> int | None:
    """How many objects, first in the requested order, may hold the page of a query that
    filters by probabilities and orders by an object column (None: not worth asking).

    Both planners join every probability row of the class and sort them (the periodic
    stars by ndet DESC: 13,891 rows, 26 ms on SQLite, 152 on PostgreSQL, which expects
    659); among the leading objects the page is found with a lookup each. When they hold
    ``offset + page_size + 1`` matching rows, those are the page, as every row of a later
    object sorts after them; otherwise the caller asks the whole query.
    """
    if (not query.filters_probabilities or query.order_by not in OBJECT_ORDER_COLUMNS
            or query.order_by == "oid"):  # in oid order the probability rows stop early anyway
        return None
    n = LEADING_OBJECTS_PER_ROW * (query.offset + query.page_size + 1)
    return n if n <= MAX_LEADING_OBJECTS else None


def _selected_oids(query: ObjectQuery, leading: int | None = None) -> Select:
    """The oids the object filters select, as a subquery of their own (not correlated);
    with ``leading``, the first that many in the query's order."""
    inner = object_table.alias("o")
    oids = select(inner.c.oid).where(*_object_filters(query, inner))
    if leading is None:
        return oids
    ordered = _ordered(inner.c[query.order_by], inner.c[query.order_by], query.order_mode)
    return oids.order_by(ordered, inner.c.oid).limit(leading)


def _ztf_oid(oid) -> ColumnElement[bool]:
    return and_(oid >= "ZTF", oid < "ZTG")


# A survey's objects by their oid (alerce_contract.names; the survey adapters refuse any
# other): ZTF's all begin "ZTF", Rubin's with a digit or "ss".
SURVEY_OIDS = {"ZTF": _ztf_oid, "LSST": lambda oid: not_(_ztf_oid(oid))}


def _survey_only(query: ObjectQuery) -> bool:
    """Whether the survey is the query's one filter on objects (besides probabilities)."""
    return (query.survey in SURVEY_OIDS and not query.oids and query.cone is None
            and all(v is None for v in (*query.ndet, *query.firstmjd, *query.lastmjd)))


def _classified(query: ObjectQuery, objects_first: bool = False, leading: int | None = None):
    """Objects joined to the probability rows that pass the query's probability filters;
    ``objects_first`` (or ``leading``): the probability rows of the oids the object filters
    select (the leading ones)."""
    prob = probability.alias("p")
    source = object_table.join(prob, prob.c.oid == object_table.c.oid)
    objects = _object_filters(query)
    if objects_first or leading is not None:
        objects = [prob.c.oid.in_(_selected_oids(query, leading))]
    return source, prob, [*objects, *_probability_filters(query, prob)]


def _top_classes(default_classifier: tuple[str, str] | None):
    """The default classifier's most probable class per object, or None without one."""
    if default_classifier is None:
        return None
    name, version = default_classifier
    return (select(probability)
            .where(probability.c.classifier_name == name,
                   probability.c.classifier_version == version,
                   probability.c.ranking == literal(1, literal_execute=True))
            .subquery("p"))


def _object_columns(objects) -> list:
    return [objects.c[name] for name in OBJECT_ORDER_COLUMNS]


def _item_columns(objects, prob) -> list:
    """An object list item: the object's columns, then ALeRCE's class, classifier, probability."""
    if prob is None:
        labels = [literal(None).label("class"), literal(None).label("classifier"),
                  literal(None).label("probability")]
    else:
        labels = [prob.c.class_name.label("class"), prob.c.classifier_name.label("classifier"),
                  prob.c.probability]
    return [*_object_columns(objects), *labels]


def _paged(statement: Select, query: ObjectQuery, objects, prob,
           objects_first: bool = False) -> Select:
    return (statement.order_by(*_order(query, objects, prob, objects_first))
            .offset(query.offset).limit(query.page_size + 1))


class Likely(ColumnElement[bool]):
    """A condition and the share of rows SQLite's planner should expect it to keep.

    SQLite keeps no column statistics here, so it rates every one-sided range alike and
    picks among their indexes by the schema's order (stores made before ``tables.create_tables``
    list them in any order): "SN, ndet >= 2, last 30 days" walked the ndet index over most
    objects, 430 ms against 20 ms along lastmjd (100,000 objects). On SQLite the condition is
    wrapped in likelihood(), a planner hint that leaves the index usable; other databases keep
    statistics and get it bare.
    """

    inherit_cache = True
    type = Boolean()
    _traverse_internals = [("condition", InternalTraversal.dp_clauseelement),
                           ("share", InternalTraversal.dp_plain_obj)]

    def __init__(self, condition: ColumnElement[bool], share: float) -> None:
        self.condition, self.share = condition, share


@compiles(Likely)
def _bare(element: Likely, compiler, **kw) -> str:
    return compiler.process(element.condition, **kw)


@compiles(Likely, "sqlite")
def _likelihood(element: Likely, compiler, **kw) -> str:
    return f"likelihood({compiler.process(element.condition, **kw)}, {element.share!r})"


def _object_filters(query: ObjectQuery, obj=object_table) -> list[ColumnElement[bool]]:
    where: list[ColumnElement[bool]] = []
    if query.survey is not None:
        where.append(obj.c.survey == query.survey)
    if len(query.oids) == 1 and "*" in query.oids[0]:
        where.append(obj.c.oid.like(query.oids[0].replace("*", "%")))
    elif query.oids:
        where.append(obj.c.oid.in_(query.oids))
    # Whole bounds for the integer ndet: PostgreSQL compares an integer column with a float
    # by casting the column, which no index serves (the same rows: n >= 20.5 is n >= 21).
    ndet_low, ndet_high = query.ndet
    ndet = (None if ndet_low is None else math.ceil(ndet_low),
            None if ndet_high is None else math.floor(ndet_high))
    dated = any(v is not None for v in (*query.firstmjd, *query.lastmjd))
    for column, (low, high) in ((obj.c.ndet, ndet), (obj.c.firstmjd, query.firstmjd),
                                (obj.c.lastmjd, query.lastmjd)):
        if low is not None:
            at_least = column >= low
            quality_cut = column is obj.c.ndet and high is None and dated
            where.append(Likely(at_least, QUALITY_CUT_SHARE) if quality_cut else at_least)
        if high is not None:
            where.append(column <= high)
    if query.cone is not None:
        where.extend(_cone_filters(query.cone, obj))
    return where


def _probability_filters(query: ObjectQuery, prob) -> list[ColumnElement[bool]]:
    # The ranking is written into the SQL: SQLite uses a partial index (``WHERE ranking = 1``)
    # only when the query's own condition is that literal, not a bound parameter.
    ranking = literal(query.ranking or 1, literal_execute=True)
    where: list[ColumnElement[bool]] = [prob.c.ranking == ranking]
    if query.classifier is not None:
        where.append(prob.c.classifier_name == query.classifier)
    if query.classifier_version is not None:
        where.append(prob.c.classifier_version == query.classifier_version)
    if query.class_name is not None:
        where.append(prob.c.class_name == query.class_name)
    if query.probability is not None:
        where.append(prob.c.probability >= query.probability)
    return where


def _cone_filters(cone: ConeSearch, obj) -> list[ColumnElement[bool]]:
    """A declination band and right-ascension window the indexes can use, then the exact cut."""
    radius = cone.radius_arcsec / 3600.0
    where: list[ColumnElement[bool]] = [obj.c.meandec.between(cone.dec - radius,
                                                              cone.dec + radius)]
    window = _ra_window(cone.ra, cone.dec, radius)
    if window is not None:
        low, high = window
        if low < 0:
            where.append(or_(obj.c.meanra >= low + 360.0, obj.c.meanra <= high))
        elif high > 360:
            where.append(or_(obj.c.meanra >= low, obj.c.meanra <= high - 360.0))
        else:
            where.append(obj.c.meanra.between(low, high))
    # Haversine: accurate at small separations, where the cosine formula is not.
    half_ddec = func.radians(obj.c.meandec - cone.dec) / 2
    half_dra = func.radians(obj.c.meanra - cone.ra) / 2
    hav = (func.sin(half_ddec) * func.sin(half_ddec)
           + math.cos(math.radians(cone.dec)) * func.cos(func.radians(obj.c.meandec))
           * func.sin(half_dra) * func.sin(half_dra))
    where.append(hav <= math.sin(math.radians(radius) / 2) ** 2)
    return where


def _ra_window(ra: float, dec: float, radius: float) -> tuple[float, float] | None:
    """The RA interval containing the cone, or None when the cone reaches a pole."""
    if abs(dec) + radius >= 89.9:
        return None
    ratio = math.sin(math.radians(radius)) / math.cos(math.radians(dec))
    if ratio >= 1.0:
        return None
    half_width = math.degrees(math.asin(ratio))
    return (ra - half_width, ra + half_width)


def _order(query: ObjectQuery, objects, prob, objects_first: bool = False) -> list:
    """The requested order, then oid (and classifier) so that pages never overlap.

    Filtered by probabilities, the oid is the probability row's (the same value): then
    SQLite walks an oid-ordered index of top classes and stops at the page's end instead
    of sorting every match (store/tables.py). ``objects_first``, a numeric order is by
    ``column + 0``, which no index serves: SQLite otherwise prefers walking an index in
    that order to sorting the few objects' rows (the SN Hunter's 38 objects by probability,
    on 100,000 objects: 91 ms walking every stamp top class above 0.5 in probability order
    for the 38 oids, 0.1 ms sorting the 3 matches).
    """
    tie_breakers = [objects.c.oid]
    if query.filters_probabilities:
        tie_breakers = [prob.c.oid, prob.c.classifier_name]
    if query.order_by is None:
        return tie_breakers
    column = (prob if query.order_by in PROBABILITY_ORDER_COLUMNS else objects).c[query.order_by]
    key = column + 0 if objects_first and isinstance(column.type, (Integer, Float)) else column
    return [_ordered(column, key, query.order_mode), *tie_breakers]


def _ordered(column, key, mode: str):
    """``key`` (``column`` or an expression of it) in ``mode`` order, NULLs last."""
    ordered = key.desc() if mode == "DESC" else key.asc()
    if column.nullable:  # NULLS LAST would keep the index from ordering a NOT NULL column
        ordered = ordered.nulls_last()
    return ordered
