"""The same API over a PostgreSQL store: filters, cone search, paging, products and stamps."""
from __future__ import annotations

import pytest
from sqlalchemy import text
from sqlalchemy.exc import DBAPIError

pytestmark = pytest.mark.postgres


def test_postgres_store_serves_the_same_pages_as_sqlite(pg_client, client):
    params = {"classifier": "stamp_classifier", "order_by": "probability", "order_mode": "DESC",
              "page_size": 5, "page": 2, "count": "true"}
    assert pg_client.get("/ztf/v1/objects", params=params).json() == client.get(
        "/ztf/v1/objects", params=params).json()


def test_postgres_cone_search_and_object_routes(pg_client, client):
    target = client.get("/ztf/v1/objects/ZTF18abfaepq").json()
    found = pg_client.get("/ztf/v1/objects", params={
        "ra": target["meanra"], "dec": target["meandec"], "radius": 3600 * 3}).json()["items"]
    assert "ZTF18abfaepq" in {i["oid"] for i in found}
    for route in ("", "/lightcurve", "/probabilities", "/magstats", "/features"):
        path = f"/ztf/v1/objects/ZTF18abfaepq{route}"
        assert pg_client.get(path).json() == client.get(path).json()


def test_postgres_stamps_and_read_only_sessions(pg_client, pg_url):
    detections = pg_client.get("/ztf/v1/objects/ZTF18abfaepq/detections").json()
    candid = min(int(d["candid"]) for d in detections if d["has_stamp"])
    response = pg_client.get("/get_stamp", params={"oid": "ZTF18abfaepq", "candid": candid,
                                                   "type": "difference", "format": "png"})
    assert response.status_code == 200 and response.content[:4] == b"\x89PNG"
    from classifier_service.api.db import read_only_engine

    engine = read_only_engine(pg_url)
    with engine.connect() as conn, pytest.raises(DBAPIError, match="read-only transaction"):
        conn.execute(text("DELETE FROM object"))
    engine.dispose()
