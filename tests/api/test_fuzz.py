"""Acceptance 4: the API fuzzed from its own OpenAPI document never answers 5xx.

Schemathesis draws requests from the OpenAPI document, valid and invalid, for every route
and sends them to the live server, checking each answer against the document (status codes,
content types, response schemas): schemathesis's boundary values of every parameter (its
"coverage" phase: empty, shortest, longest, smallest, largest, wrong type, ...) and a few dozen
drawn examples per route, well under a minute in all.

Each route is its own test, named by its method and path: schemathesis's ``@schema.parametrize()``
gives all routes' tests one node id under pytest 9, and pytest-xdist (``make test`` runs two
workers), which schedules by node id, ran one route of the 21.
"""
from __future__ import annotations

import pytest
import schemathesis
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from schemathesis import GenerationMode
from schemathesis.checks import (
    content_type_conformance,
    not_a_server_error,
    response_schema_conformance,
    status_code_conformance,
)

from classifier_service.api import create_app

# The document does not depend on the store, so it is read from an app over none.
schema = schemathesis.openapi.from_dict(create_app("sqlite:///no-store.sqlite3").openapi())
ROUTES = {operation.label: operation for operation in (result.ok() for result in schema.get_all_operations())}
CHECKS = [not_a_server_error, status_code_conformance, content_type_conformance, response_schema_conformance]


@pytest.mark.parametrize("route", sorted(ROUTES))
def test_no_boundary_value_gets_a_server_error(route: str, live_url: str):
    operation = ROUTES[route]
    cases = schema.iter_coverage_cases(operation, generation_modes=list(GenerationMode),
                                       generation_config=schema.config.generation_for(operation=operation))
    sent = 0
    for case in cases:
        case.call_and_validate(base_url=live_url, checks=CHECKS)
        sent += 1
    assert sent, f"schemathesis drew no boundary values for {route}"


@pytest.mark.parametrize("route", sorted(ROUTES))
def test_no_drawn_request_gets_a_server_error(route: str, live_url: str):
    valid_or_not = st.one_of(ROUTES[route].as_strategy(GenerationMode.POSITIVE),
                             ROUTES[route].as_strategy(GenerationMode.NEGATIVE))

    @given(case=valid_or_not)
    @settings(max_examples=40, deadline=None, derandomize=True, suppress_health_check=list(HealthCheck))
    def every_drawn_request(case):
        case.call_and_validate(base_url=live_url, checks=CHECKS)

    every_drawn_request()
