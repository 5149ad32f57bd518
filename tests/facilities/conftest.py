"""Fixtures of the facilities tests: a loopback TNS configured as the TOM's TNS, and a policy
reporting to it automatically."""
from __future__ import annotations

import pytest

from facilities.models import TNSAutoReportPolicy
from .tns_standin import API_KEY, TNSStandIn


@pytest.fixture
def tns(settings):
    """The stand-in, in DATA_SERVICES['TNS'] as a TOM configures TNS (short deadline, no grace waits)."""
    with TNSStandIn() as standin:
        settings.DATA_SERVICES = {**settings.DATA_SERVICES, "TNS": {
            "base_url": standin.url, "bot_id": "123", "bot_name": "test_bot", "api_key": API_KEY,
            "reporter": "Test reporter on behalf of the test TOM", "poll_interval_s": 0, "deadline_s": 3}}
        yield standin


@pytest.fixture
def policy(tns) -> TNSAutoReportPolicy:
    """An active policy that reports the test candidates for real (not a dry run)."""
    return TNSAutoReportPolicy.objects.create(name="auto", dry_run=False, min_probability=0.7, min_detections=2,
                                              max_magnitude=24.0, daily_cap=20)
