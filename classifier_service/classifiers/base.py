"""The seam between the pipeline and its classifiers.

A classifier is anything with a ``name``, a ``version``, the ``surveys`` it answers for, its
``taxonomy`` and a batched ``classify``. The worker runs every registered classifier on the
batch's alerts of its surveys and stores what comes back; it knows nothing of CNNs or forests.
"""
from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Protocol

from classifier_service.alert import Alert
from classifier_service.lightcurve.model import LightCurve


@dataclass(slots=True)
class ClassifierInput:
    """One alert with its object's merged light curve."""

    alert: Alert
    lightcurve: LightCurve
    is_first_alert: bool  # the object's first alert: the stamp classifier's moment


@dataclass(slots=True)
class ClassifierOutput:
    """One classifier's probabilities for one object (ALeRCE's classifier_name/version)."""

    classifier_name: str
    classifier_version: str
    probabilities: dict[str, float]

    def ranked(self) -> list[tuple[str, float, int]]:
        """(class_name, probability, ranking) with ranking 1 for the most probable class."""
        order = sorted(self.probabilities.items(), key=lambda kv: -kv[1])
        return [(name, p, rank) for rank, (name, p) in enumerate(order, start=1)]


@dataclass(slots=True)
class Classification:
    """What a classifier returns for one input: zero or more outputs, and its features."""

    outputs: list[ClassifierOutput] = field(default_factory=list)
    # (feature name, fid) -> value; fid 0 for features of no single band.
    features: dict[tuple[str, int], float] = field(default_factory=dict)
    feature_version: str | None = None


class Classifier(Protocol):
    name: str
    version: str
    # The surveys (Alert.survey) whose alerts it was trained for and answers for: a model
    # trained on ZTF's g/r magnitudes and 63x63 stamps has nothing to say about a Rubin alert.
    surveys: frozenset[str]

    def taxonomy(self) -> dict[str, list[str]]:
        """classifier_name -> classes, for every output this classifier produces."""

    def classify(self, batch: Sequence[ClassifierInput]) -> list[Classification]:
        """One Classification per input, in order; empty outputs where it does not apply."""
