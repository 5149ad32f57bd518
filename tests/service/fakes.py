"""Stand-in classifiers and sinks for the pipeline tests (the real ones need trained models)."""
from __future__ import annotations

from collections.abc import Sequence

from classifier_service.classifiers.base import Classification, ClassifierInput, ClassifierOutput


class CountingClassifier:
    """Says "long" for light curves of more than 5 detections; records what it was given."""

    name = "counting"
    version = "0.1"
    surveys = frozenset({"ZTF", "LSST"})

    def __init__(self, fail_on_oid: str | None = None) -> None:
        self.fail_on_oid = fail_on_oid
        self.seen: list[ClassifierInput] = []

    @classmethod
    def from_artifacts(cls, path=None) -> CountingClassifier:
        return cls()

    def taxonomy(self) -> dict[str, list[str]]:
        return {self.name: ["long", "short"]}

    def classify(self, batch: Sequence[ClassifierInput]) -> list[Classification]:
        if any(item.alert.oid == self.fail_on_oid for item in batch):
            raise RuntimeError(f"cannot classify {self.fail_on_oid}")
        self.seen.extend(batch)
        out = []
        for item in batch:
            p_long = 0.9 if len(item.lightcurve) > 5 else 0.2
            out.append(Classification(
                outputs=[ClassifierOutput(self.name, self.version, {"long": p_long, "short": 1 - p_long})],
                features={("n_points", 0): float(len(item.lightcurve))}, feature_version="f1"))
        return out


class MissingArtifactClassifier:
    name = "missing"

    @classmethod
    def from_artifacts(cls, path=None):
        raise FileNotFoundError("classifier_service/models/missing/model.onnx")


class RecordingSink:
    """Keeps what it is given and logs the order of calls."""

    def __init__(self, calls: list[str] | None = None) -> None:
        self.alerts = []
        self.dead_letters = []
        self.calls = calls if calls is not None else []

    def publish(self, alerts, dead_letters) -> None:
        self.alerts.extend(alerts)
        self.dead_letters.extend(dead_letters)
        self.calls.append("publish")

    def flush(self) -> None:
        self.calls.append("flush")

    def close(self) -> None:
        self.calls.append("close")
