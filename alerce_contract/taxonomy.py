"""ALeRCE's classifier names and class taxonomies, declared once for inference, training,
the simulator, the API and the TOM pages.

The light-curve classifier is hierarchical: ``lc_classifier_top`` picks a group, then one
classifier per group picks the class within it; ``lc_classifier`` reports all 15 classes.
Class order is ALeRCE's and is part of the contract (model outputs are stored in it).
"""
from __future__ import annotations

import math

STAMP_CLASSIFIER = "stamp_classifier"
LC_CLASSIFIER = "lc_classifier"
LC_TOP = "lc_classifier_top"
# Rubin's own models: ZTF's never answer for Rubin alerts (different stamps, bands and depths).
STAMP_CLASSIFIER_LSST = "stamp_classifier_lsst"
LC_CLASSIFIER_LSST = "lc_classifier_lsst"
LC_TOP_LSST = "lc_classifier_lsst_top"
# Every early (first-alert stamp) classifier: the SN Hunter reads whichever answered.
STAMP_CLASSIFIERS: tuple[str, ...] = (STAMP_CLASSIFIER, STAMP_CLASSIFIER_LSST)
# Every late classifier that names one of the 15 light-curve classes, one per survey.
LC_CLASSIFIERS: tuple[str, ...] = (LC_CLASSIFIER, LC_CLASSIFIER_LSST)
# Rubin's classifiers; every other classifier an ALeRCE API lists answers for ZTF objects.
LSST_CLASSIFIERS: tuple[str, ...] = (STAMP_CLASSIFIER_LSST, LC_CLASSIFIER_LSST, LC_TOP_LSST)

TRANSIENT: tuple[str, ...] = ("SNIa", "SNIbc", "SNII", "SLSN")
STOCHASTIC: tuple[str, ...] = ("QSO", "AGN", "Blazar", "YSO", "CV/Nova")
PERIODIC: tuple[str, ...] = ("LPV", "E", "DSCT", "RRL", "CEP", "Periodic-Other")

# Top group -> its classes, in ALeRCE's order.
LC_TAXONOMY: dict[str, tuple[str, ...]] = {"Transient": TRANSIENT, "Stochastic": STOCHASTIC, "Periodic": PERIODIC}
LC_CLASSES: tuple[str, ...] = TRANSIENT + STOCHASTIC + PERIODIC
LC_GROUP: dict[str, str] = {c: group for group, classes in LC_TAXONOMY.items() for c in classes}
# The periods (days) a periodic class's stars have, from the General Catalogue of Variable
# Stars' type definitions (Samus et al. 2017, Astron. Rep. 61, 80; www.sai.msu.su/gcvs/gcvs/vartype.htm):
# a period outside its class's range is not that star's (an alias, a sampling or a wrong class)
# and is not worth folding on. Periodic-Other has no range.
PERIOD_RANGE_DAYS: dict[str, tuple[float, float]] = {
    "LPV": (20.0, math.inf),  # Mira (M) 80-1000 d, semiregular (SR) 20 to more than 2000 d
    "CEP": (0.8, 135.0),  # classical (DCEP) 1-135 d, type II (CW) 0.8-35 d
    "RRL": (0.2, 1.2),  # RRAB 0.3-1.2 d, RRC 0.2-0.5 d
    "DSCT": (0.01, 0.2),  # delta Scuti 0.01-0.2 d, SX Phe 0.04-0.08 d
    "E": (0.1, math.inf),  # contact (EW) from 0.22 d; a periodogram finds half the orbit of equal eclipses
}
# Top group -> the classifier that splits it into classes.
LC_GROUP_CLASSIFIERS: dict[str, str] = {group: f"lc_classifier_{group.lower()}" for group in LC_TAXONOMY}
HIERARCHY_PARTS: frozenset[str] = frozenset({LC_TOP, *LC_GROUP_CLASSIFIERS.values()})
# ALeRCE's rule for the ZTF light-curve classifier: it answers from this many detections in g
# or in r (the pages say why an object has no light-curve class yet by the same rule).
LC_MIN_DETECTIONS = 6
LC_BANDS: tuple[str, ...] = ("g", "r")
# Rubin's light-curve classifier answers from this many detections in its six bands together.
LC_MIN_DETECTIONS_LSST = 6
# Every classifier whose answer is a light-curve class, for either survey.
LC_CLASSIFIER_NAMES: frozenset[str] = HIERARCHY_PARTS | {*LC_CLASSIFIERS, LC_TOP_LSST}

STAMP_CLASSES: tuple[str, ...] = ("AGN", "SN", "VS", "asteroid", "bogus")
SN_CLASS = "SN"
BOGUS_CLASS = "bogus"
ASTEROID_CLASS = "asteroid"


def classifier_survey(classifier_name: str) -> str:
    """"LSST" for Rubin's classifiers, "ZTF" for any other (public ALeRCE lists many ZTF models)."""
    return "LSST" if classifier_name in LSST_CLASSIFIERS else "ZTF"
