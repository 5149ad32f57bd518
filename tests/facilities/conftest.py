"""Fixtures of the facilities tests: a loopback TNS configured as the TOM's TNS."""
from __future__ import annotations

import pytest

from .tns_standin import API_KEY, TNSStandIn


@pytest.fixture
def tns(settings):
    """The stand-in, in DATA_SERVICES['TNS'] as a TOM configures TNS (short deadline, no grace waits)."""
    with TNSStandIn() as standin:
        settings.DATA_SERVICES = {**settings.DATA_SERVICES, "TNS": {
            "base_url": standin.url, "bot_id": "123", "bot_name": "test_bot", "api_key": API_KEY,
            "reporter": "Test reporter on behalf of the test TOM", "poll_interval_s": 0, "deadline_s": 3}}
        yield standin
