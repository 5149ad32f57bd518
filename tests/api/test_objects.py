"""``/ztf/v1/objects``: filters, cone search, ordering, paging and the errors bad input gets."""
from __future__ import annotations

import math
from contextlib import contextmanager

import httpx
import pytest
from api_live import serve_app
from sqlalchemy import create_engine, insert

from classifier_service.api import create_app
from classifier_service.store import tables

OBJECTS = "/ztf/v1/objects"


def get_items(client, **params) -> list[dict]:
    response = client.get(OBJECTS, params={"page_size": 1000, **params})
    assert response.status_code == 200, response.text
    return response.json()["items"]


def test_without_classification_filters_each_object_carries_the_default_top_class(client):
    items = get_items(client)
    assert len(items) == len({i["oid"] for i in items}) == 34
    assert {i["classifier"] for i in items} == {"lc_classifier"}
    assert all(i["class"] and 0 < i["probability"] <= 1 for i in items)


def test_classifier_and_class_select_objects_whose_top_class_it_is(client):
    items = get_items(client, classifier="stamp_classifier", **{"class": "SN"})
    assert items and {(i["classifier"], i["class"]) for i in items} == {("stamp_classifier", "SN")}
    for item in items:
        probabilities = client.get(f"{OBJECTS}/{item['oid']}/probabilities",
                                   params={"classifier": "stamp_classifier"}).json()
        assert probabilities[0]["class_name"] == "SN" and probabilities[0]["ranking"] == 1


def test_ranking_selects_the_nth_most_probable_class(client):
    items = get_items(client, classifier="lc_classifier_top", ranking=3)
    assert len(items) == 34
    assert all(i["probability"] <= 1 / 3 for i in items)  # the least of three sums to <= 1/3


def test_probability_is_a_minimum(client):
    items = get_items(client, classifier="lc_classifier", probability=0.4)
    assert items and all(i["probability"] >= 0.4 for i in items)
    assert len(items) < 34


def test_ndet_firstmjd_and_lastmjd_are_inclusive_ranges(client):
    everything = get_items(client)
    low, high = sorted(i["ndet"] for i in everything)[5], sorted(i["ndet"] for i in everything)[25]
    in_range = get_items(client, ndet=[low, high])
    assert {i["oid"] for i in in_range} == {
        i["oid"] for i in everything if low <= i["ndet"] <= high}
    at_least = get_items(client, ndet=[high])
    assert {i["oid"] for i in at_least} == {i["oid"] for i in everything if i["ndet"] >= high}
    first = sorted(i["firstmjd"] for i in everything)[10]
    assert {i["oid"] for i in get_items(client, firstmjd=[first, 99999])} == {
        i["oid"] for i in everything if i["firstmjd"] >= first}
    last = sorted(i["lastmjd"] for i in everything)[10]
    assert {i["oid"] for i in get_items(client, lastmjd=[0, last])} == {
        i["oid"] for i in everything if i["lastmjd"] <= last}


def test_oid_list_and_wildcard(client):
    assert {i["oid"] for i in get_items(client, oid=["ZTF17aaacxxf", "ZTF18abxhyqv", "nope"])} == {
        "ZTF17aaacxxf", "ZTF18abxhyqv"}
    wildcard = get_items(client, oid="ZTF18abf*")
    assert wildcard and all(i["oid"].startswith("ZTF18abf") for i in wildcard)


def angular_distance_arcsec(ra1, dec1, ra2, dec2) -> float:
    ra1, dec1, ra2, dec2 = map(math.radians, (ra1, dec1, ra2, dec2))
    hav = (math.sin((dec2 - dec1) / 2) ** 2
           + math.cos(dec1) * math.cos(dec2) * math.sin((ra2 - ra1) / 2) ** 2)
    return math.degrees(2 * math.asin(math.sqrt(hav))) * 3600


def test_cone_search_returns_exactly_the_objects_within_the_radius(client):
    everything = get_items(client)
    centre = min(everything, key=lambda i: angular_distance_arcsec(i["meanra"], i["meandec"],
                                                                  281.0, 3.0))
    sizes = []
    for radius in (1.0, 3600.0, 3600.0 * 3, 3600.0 * 10):
        found = {i["oid"] for i in get_items(client, ra=centre["meanra"], dec=centre["meandec"],
                                             radius=radius)}
        expected = {i["oid"] for i in everything if angular_distance_arcsec(
            centre["meanra"], centre["meandec"], i["meanra"], i["meandec"]) <= radius}
        assert found == expected and centre["oid"] in found
        sizes.append(len(found))
    assert sizes == sorted(sizes) and sizes[0] == 1 and sizes[-1] > 1


def test_cone_search_wraps_at_ra_zero_and_covers_the_pole(tmp_path):
    positions = {"ZTF00wrapeast": (359.999, 0.0), "ZTF00wrapwest": (0.001, 0.0),
                 "ZTF00farwest": (0.2, 0.0), "ZTF00pole": (123.0, 89.999),
                 "ZTF00poleother": (303.0, 89.999)}
    url = f"sqlite:///{tmp_path / 'synthetic.sqlite3'}"
    engine = create_engine(url)
    tables.metadata.create_all(engine)
    with engine.begin() as conn:
        conn.execute(insert(tables.object_table), [
            {"oid": oid, "ndet": 1, "meanra": ra, "meandec": dec, "firstmjd": 60000.0,
             "lastmjd": 60000.0} for oid, (ra, dec) in positions.items()])
    engine.dispose()

    with contextmanager(serve_app)(create_app(url)) as base_url:
        def cone(ra, dec, radius):
            response = httpx.get(f"{base_url}{OBJECTS}",
                                 params={"ra": ra, "dec": dec, "radius": radius})
            return {i["oid"] for i in response.json()["items"]}

        assert cone(0.0, 0.0, 10) == {"ZTF00wrapeast", "ZTF00wrapwest"}
        assert cone(359.99, 0.0, 60) == {"ZTF00wrapeast", "ZTF00wrapwest"}
        assert cone(0.01, 0.0, 900) == {"ZTF00wrapeast", "ZTF00wrapwest", "ZTF00farwest"}
        assert cone(0.0, 90.0, 10) == {"ZTF00pole", "ZTF00poleother"}


@pytest.mark.parametrize("order_by,mode", [("firstmjd", "ASC"), ("ndet", "DESC"),
                                           ("probability", "DESC"), ("meanra", "ASC")])
def test_order_by_and_order_mode(client, order_by, mode):
    key = "probability" if order_by == "probability" else order_by
    values = [i[key] for i in get_items(client, classifier="lc_classifier", order_by=order_by,
                                        order_mode=mode)]
    assert values == sorted(values, reverse=(mode == "DESC"))


def test_pages_partition_the_result_in_order(client):
    everything = [i["oid"] for i in get_items(client, order_by="firstmjd")]
    pages, page = [], 1
    while True:
        body = client.get(OBJECTS, params={"order_by": "firstmjd", "page": page,
                                           "page_size": 7}).json()
        pages.extend(i["oid"] for i in body["items"])
        assert body["page"] == page and body["has_prev"] == (page > 1)
        if not body["has_next"]:
            assert body["next"] is None
            break
        page = body["next"]
    assert pages == everything and page == 5


def test_total_is_counted_only_when_asked(client):
    assert client.get(OBJECTS).json()["total"] is None
    body = client.get(OBJECTS, params={"count": "true", "classifier": "stamp_classifier",
                                       "class": "SN"}).json()
    assert body["total"] == len(get_items(client, classifier="stamp_classifier", **{"class": "SN"}))


@pytest.mark.parametrize("params,message", [
    ({"classifier": "nope"}, "unknown classifier 'nope'; known: lc_classifier"),
    ({"classifier": "stamp_classifier", "class": "SNIa"}, "unknown class 'SNIa' for classifier"),
    ({"classifier_version": "9.9"}, "unknown classifier_version '9.9'"),
    ({"ndet": [1, 2, 3]}, "ndet takes one value"),
    ({"firstmjd": [60000, 59000]}, "firstmjd range is empty"),
    ({"ra": 10}, "needs both ra and dec"),
    ({"radius": 10}, "radius needs ra and dec"),
    ({"dec": 91, "ra": 0}, "dec"),
    ({"probability": 1.5}, "probability"),
    ({"page_size": 5000}, "page_size"),
    ({"page": 500, "page_size": 1000}, "page * page_size is at most 100000"),
    ({"page": 0}, "page"),
    ({"order_by": "drop table"}, "order_by"),
    ({"order_mode": "sideways"}, "order_mode"),
    ({"firstmjd": "nan"}, "firstmjd"),
    ({"count": "perhaps"}, "count"),
])
def test_bad_parameters_get_400_with_a_message(client, params, message):
    response = client.get(OBJECTS, params=params)
    assert response.status_code == 400
    assert message in response.json()["detail"]
