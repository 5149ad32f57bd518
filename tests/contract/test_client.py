"""The one ALeRCE client: where it looks, how long it waits, what it retries, what it raises.

A loopback server plays the broker's answers and failure modes: a 503 that passes on retry, a
500 that does not, a 404, a body that is not JSON, a reply that trickles past the deadline.
"""
from __future__ import annotations

import gzip
import json
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from types import SimpleNamespace
from urllib.parse import urlparse

import pytest

from alerce_contract.client import (
    PNG_MAGIC, PUBLIC_API_URL, PUBLIC_STAMP_URL, AlerceBadResponse, AlerceClient, AlerceConfig, AlerceNotFound,
    AlerceUnavailable, config_from_settings,
)
from tests.facilities.loopback import LoopbackServer, QuietJSONHandler

FITS = gzip.compress(b"SIMPLE  =                    T" + b" " * 50)


@dataclass
class Broker:
    """path -> answers served in turn (the last one repeats): (status, body) or "trickle"."""

    url: str
    answers: dict[str, list] = field(default_factory=dict)
    hits: list[str] = field(default_factory=list)


class _Handler(QuietJSONHandler):
    def do_GET(self) -> None:
        broker: Broker = self.server.broker
        path = urlparse(self.path).path
        broker.hits.append(path)
        queue = broker.answers.get(path, [(404, b'{"detail": "not found"}')])
        answer = queue.pop(0) if len(queue) > 1 else queue[0]
        if answer == "trickle":  # each byte in time, the whole answer far too late
            self.send_response(200)
            self.send_header("Content-Length", "40")
            self.end_headers()
            for _ in range(40):
                self.wfile.write(b" ")
                self.wfile.flush()
                time.sleep(0.05)
            return
        status, body = answer
        self.send_response(status)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)


@pytest.fixture
def broker() -> Iterator[Broker]:
    with LoopbackServer(_Handler) as loopback:
        loopback.server.broker = Broker(loopback.url)
        yield loopback.server.broker


def client_of(broker: Broker, **config) -> AlerceClient:
    return AlerceClient(AlerceConfig(api_url=broker.url, backoff=0.01, **config))


def test_without_settings_it_is_public_alerce_and_its_stamp_service():
    config = config_from_settings(SimpleNamespace())
    assert (config.api_url, config.stamp_url, config.is_public) == (PUBLIC_API_URL, PUBLIC_STAMP_URL, True)


def test_a_self_hosted_api_takes_its_stamps_from_itself_never_from_public_alerce():
    settings = SimpleNamespace(DATA_SERVICES={"ALeRCEBroker": {"api_url": "http://broker.lan:8001/"}})
    config = config_from_settings(settings)
    assert (config.api_url, config.stamp_url, config.is_public) == ("http://broker.lan:8001",
                                                                     "http://broker.lan:8001", False)


def test_a_misspelt_settings_key_is_an_error_not_a_silent_public_fallback():
    settings = SimpleNamespace(DATA_SERVICES={"ALeRCEBroker": {"base_url": "http://broker.lan:8001"}})
    with pytest.raises(ValueError, match=r"unknown keys \['base_url'\]"):
        config_from_settings(settings)


def test_a_503_is_retried_and_the_answer_that_follows_is_used(broker):
    broker.answers["/ztf/v1/classifiers"] = [(503, b"busy"), (200, b'[{"classifier_name": "stamp_classifier"}]')]
    assert client_of(broker).query_classifiers() == [{"classifier_name": "stamp_classifier"}]
    assert broker.hits.count("/ztf/v1/classifiers") == 2


def test_a_broker_that_keeps_failing_is_unavailable_after_its_retries(broker):
    broker.answers["/ztf/v1/classifiers"] = [(500, b"boom")]
    with pytest.raises(AlerceUnavailable, match=r"/ztf/v1/classifiers: HTTP 500") as error:
        client_of(broker, retries=2).query_classifiers()
    assert error.value.status == 500 and broker.hits.count("/ztf/v1/classifiers") == 3


def test_an_unknown_object_is_not_found_and_not_retried(broker):
    with pytest.raises(AlerceNotFound) as error:
        client_of(broker).query_object("ZTF20aaaaaaa")
    assert error.value.status == 404 and broker.hits == ["/ztf/v1/objects/ZTF20aaaaaaa"]


def test_a_missing_forced_photometry_route_means_no_forced_photometry(broker):
    assert client_of(broker).query_forced_photometry("ZTF20aaaaaaa") == []


@pytest.mark.parametrize("body, reason", [(b"<html>", "not JSON"), (b'{"items": 3}', "no 'items' list")])
def test_an_answer_of_the_wrong_shape_is_a_bad_response(broker, body, reason):
    broker.answers["/ztf/v1/objects"] = [(200, body)]
    with pytest.raises(AlerceBadResponse, match=reason):
        client_of(broker).query_objects({"classifier": "stamp_classifier"})


def test_an_answer_that_trickles_past_the_overall_timeout_is_unavailable(broker):
    broker.answers["/ztf/v1/classifiers"] = ["trickle"]
    with pytest.raises(AlerceUnavailable, match="within 0.5 s"):
        client_of(broker, timeout=0.5, retries=0).query_classifiers()


def test_nothing_listening_is_unavailable():
    client = AlerceClient(AlerceConfig(api_url="http://127.0.0.1:9", retries=1, backoff=0.01))
    with pytest.raises(AlerceUnavailable, match="127.0.0.1:9"):
        client.query_classifiers()


def test_stamps_come_as_png_or_as_fits_and_anything_else_is_refused(broker):
    client = client_of(broker)
    broker.answers["/get_stamp"] = [(200, PNG_MAGIC + b"rest"), (200, FITS), (200, b'{"oops": 1}')]
    assert client.get_stamp("ZTF20aaaaaaa", 1, "science").startswith(PNG_MAGIC)
    assert client.get_stamp("ZTF20aaaaaaa", 1, "template", fmt="fits") == FITS
    with pytest.raises(AlerceBadResponse, match="not a PNG"):
        client.get_stamp("ZTF20aaaaaaa", 1, "difference")
    with pytest.raises(ValueError):
        client.get_stamp("ZTF20aaaaaaa", 1, "noise")


def test_object_ids_are_quoted_into_the_path(broker):
    broker.answers["/ztf/v1/objects/a%2Fb/probabilities"] = [(200, json.dumps([]).encode())]
    assert client_of(broker).query_probabilities("a/b") == []
