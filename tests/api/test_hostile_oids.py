"""Any text as an object id, in every route, is a 4xx: never a 500 or a dropped connection.

U+202E once made the stamp route's latin-1 Content-Disposition raise, CR/LF broke the
response headers, and NUL made psycopg2 raise on PostgreSQL.
"""
from __future__ import annotations

from urllib.parse import quote

import pytest

from classifier_service.api.stamps import content_disposition

# Text no identifier holds: refused (400) wherever it appears.
UNSAFE_OIDS = [
    "ZTF18\u202eabfaepq",  # right-to-left override
    "ZTF18abfaepq\r\nX-Injected: yes",
    "ZTF18\x00abfaepq",
    "ZTF18abfaepq\x7f",
    "\u200bZTF18abfaepq",  # zero-width space
    "ZTF18abfaepq\ufffd",  # what undecodable bytes become
    "ZTF18abf\u00e9epq",
    "Z" * 10_000,
    " ",
]
# Printable text that names no object: not found, and an empty search.
ODD_OIDS = ["'OR'1'='1'--", "../../etc/passwd", "%00", "ZTF18abfaep_", "\\x00"]
LSST_OBJECT_ROUTES = ["object_api/object", "lightcurve_api/lightcurve",
                      "lightcurve_api/detections", "lightcurve_api/non_detections",
                      "lightcurve_api/forced-photometry", "probability_api/probability"]
OBJECT_ROUTES = ["", "/lightcurve", "/detections", "/non_detections", "/magstats",
                 "/probabilities", "/features", "/features/Amplitude"]


def object_requests(oid: str) -> list[tuple[str, dict]]:
    """Every route about one object, with ``oid`` in its path or query."""
    path_oid = quote(oid, safe="")
    return [
        *((f"/ztf/v1/objects/{path_oid}{route}", {}) for route in OBJECT_ROUTES),
        (f"/v2/lightcurve/forced-photometry/{path_oid}", {}),
        ("/get_stamp", {"oid": oid, "candid": 595250711715015021, "format": "fits"}),
        ("/get_stamp", {"oid": oid, "candid": 595250711715015021, "format": "png"}),
    ]


def lsst_requests(oid: str) -> list[tuple[str, dict]]:
    """The LSST (multisurvey) routes, which take the oid as a query parameter."""
    one = {"oid": oid, "survey_id": "lsst"}
    return [*((f"/{route}", one) for route in LSST_OBJECT_ROUTES),
            ("/object_api/list_objects", {"oid": oid, "survey": "lsst"}),
            ("/stamps_api/stamp", {**one, "measurement_id": 1, "stamp_type": "cutoutScience",
                                   "file_format": "fits"})]


def search_requests(oid: str) -> list[tuple[str, dict]]:
    return [("/ztf/v1/objects", {"oid": oid}),
            ("/ztf/v1/objects", {"oid": [oid, "ZTF18abfaepq"]})]


@pytest.fixture(params=["client", pytest.param("pg_client", marks=pytest.mark.postgres)])
def any_store_client(request):
    """The API over SQLite, then over PostgreSQL."""
    return request.getfixturevalue(request.param)


def _ascii_id(oid: str) -> str:
    return ascii(oid)[:24]


@pytest.mark.parametrize("oid", UNSAFE_OIDS, ids=_ascii_id)
def test_unsafe_text_as_an_oid_is_refused_on_every_route(any_store_client, oid):
    for path, params in object_requests(oid) + search_requests(oid) + lsst_requests(oid):
        response = any_store_client.get(path, params=params)
        assert response.status_code == 400, (path, response.status_code, response.text)
        assert response.json()["detail"]
        assert "x-injected" not in response.headers


@pytest.mark.parametrize("oid", ODD_OIDS, ids=_ascii_id)
def test_printable_text_that_names_no_object_is_not_found(any_store_client, oid):
    for path, params in object_requests(oid):
        response = any_store_client.get(path, params=params)
        assert response.status_code == 404, (path, response.status_code, response.text)
        assert response.json()["detail"]
    for path, params in search_requests(oid):
        items = any_store_client.get(path, params=params).json()["items"]
        assert {item["oid"] for item in items} <= {"ZTF18abfaepq"}


@pytest.mark.parametrize("path, params, said", [
    ("/ztf/v1/objects/ZTF18abf%C3%A9epq", {}, "oid: must be an object id: printable ASCII without spaces"),
    ("/lightcurve_api/detections", {"survey_id": "lsst", "oid": "ZTF18abfaepq"},
     "oid: must be a Rubin diaObjectId (digits), or ss and the digits of an ssObjectId"),
    ("/object_api/list_objects", {"survey": "ztf"}, 'survey: must be "lsst" (ZTF objects have their own routes)'),
    ("/ztf/v1/objects", {"classifier": "stamp_classifier", "probability": "nan"},
     "probability: Input should be a finite number"),
    ("/ztf/v1/objects", {"ra": "inf", "dec": "0", "radius": "5"}, "ra: Input should be a finite number"),
])
def test_a_refused_parameter_is_said_in_words_not_as_a_regex(client, path, params, said):
    response = client.get(path, params=params)
    assert response.status_code == 400
    assert response.json()["detail"] == said or response.json()["detail"].startswith(said), response.text
    assert "^" not in response.json()["detail"]


def test_the_stamp_file_name_header_is_ascii_with_the_exact_name_percent_encoded():
    header = content_disposition("ZTF\u202e\r\n\"x.png")
    assert header == ("inline; filename=\"ZTF____x.png\"; "
                      "filename*=UTF-8''ZTF%E2%80%AE%0D%0A%22x.png")
    header.encode("ascii")
