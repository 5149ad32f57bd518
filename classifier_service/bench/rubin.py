"""Rubin's figure beside ZTF's in ``bench``: simulated Rubin alerts replayed through the same worker."""
from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

from classifier_service.bench.scenarios import replay_bench
from classifier_service.classifiers.base import Classifier
from classifier_service.simulate.rubin import simulate_rubin_alerts


def rubin_replay(n_alerts: int, seed: int, classifiers: Sequence[Classifier], *, batch_size: int,
                 folder: Path) -> dict[str, Any]:
    """The replay scenario's figures on ``n_alerts`` simulated Rubin alerts (a year of history
    each, so heavier packets than ZTF's), in a store of their own under ``folder``."""
    payloads = list(simulate_rubin_alerts(n_alerts, seed=seed))
    own = Path(folder) / "lsst"
    own.mkdir(parents=True, exist_ok=True)
    return replay_bench(payloads, classifiers, batch_size=batch_size, folder=own).as_dict()
