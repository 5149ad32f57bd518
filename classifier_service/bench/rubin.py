"""Rubin's figure beside ZTF's in ``bench``: simulated Rubin alerts replayed through the same worker."""
from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

from classifier_service.bench.scenarios import replay_bench, stored_replay_bench
from classifier_service.classifiers.base import Classifier
from classifier_service.simulate.rubin import simulate_rubin_alerts


def rubin_replays(n_alerts: int, seed: int, classifiers: Sequence[Classifier], *, batch_size: int,
                  folder: Path) -> tuple[dict[str, Any], dict[str, Any]]:
    """The replay scenario's figures on ``n_alerts`` simulated Rubin alerts (a year of history
    each, so heavier packets than ZTF's), in a store of their own under ``folder``; then the same
    alerts again into that store (``stored_replay_bench``)."""
    payloads = list(simulate_rubin_alerts(n_alerts, seed=seed))
    own = Path(folder) / "lsst"
    own.mkdir(parents=True, exist_ok=True)
    first = replay_bench(payloads, classifiers, batch_size=batch_size, folder=own).as_dict()
    return first, stored_replay_bench(payloads, classifiers, batch_size=batch_size, folder=own).as_dict()
