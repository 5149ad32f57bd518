"""Shared fixtures: where the real data lives, and a loopback Kafka broker."""
from __future__ import annotations

from pathlib import Path

import pytest

from tests.realstack import real_alerts_store  # noqa: F401 (session fixture: every real alert, replayed once)

REPO = Path(__file__).resolve().parents[1]
SHARED_DATA = REPO.parent / "shared" / "data"


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """Every test has its own node id: ``make test`` runs pytest-xdist, which schedules by node
    id and runs one test of any that share one, silently (schemathesis's ``parametrize`` did)."""
    seen: set[str] = set()
    shared = sorted({item.nodeid for item in items if item.nodeid in seen or seen.add(item.nodeid)})
    if shared:
        raise pytest.UsageError(f"tests share a node id, so pytest-xdist would run one of each: {shared}")


@pytest.fixture(scope="session")
def shared_data() -> Path:
    """``../shared/data``: real public alerts, read in place, never copied."""
    if not SHARED_DATA.is_dir():
        pytest.skip(f"{SHARED_DATA} is not present")
    return SHARED_DATA


@pytest.fixture(scope="session")
def tansu():
    """A memory-only tansu broker on loopback, shared by the session's Kafka tests."""
    from classifier_service.stream.tansu import TansuBroker

    with TansuBroker() as broker:
        yield broker
