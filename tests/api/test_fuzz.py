"""Acceptance 4: the API fuzzed from its own OpenAPI document never answers 5xx.

Schemathesis draws requests from the OpenAPI document, valid and invalid, for every route
and sends them to the live server, checking each answer against the document (status codes,
content types, response schemas). A few dozen examples per route keep it well under a minute.
"""
from __future__ import annotations

import schemathesis
from hypothesis import HealthCheck, settings
from schemathesis.checks import (
    content_type_conformance,
    not_a_server_error,
    response_schema_conformance,
    status_code_conformance,
)

from classifier_service.api import create_app

# The document does not depend on the store, so it is read from an app over none.
schema = schemathesis.openapi.from_dict(create_app("sqlite:///no-store.sqlite3").openapi())


@schema.parametrize()
@settings(max_examples=20, deadline=None, derandomize=True,
          suppress_health_check=list(HealthCheck))
def test_no_route_answers_a_server_error(case, live_url):
    case.call_and_validate(base_url=live_url, checks=[
        not_a_server_error, status_code_conformance, content_type_conformance,
        response_schema_conformance])
