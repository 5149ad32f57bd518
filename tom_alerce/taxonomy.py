"""ALeRCE's classifier names and its light-curve hierarchy (group first, then class within it)."""
from __future__ import annotations

STAMP_CLASSIFIER = "stamp_classifier"
LC_CLASSIFIER = "lc_classifier"
LC_TOP = "lc_classifier_top"
# Group of lc_classifier_top -> the classifier that splits it into classes.
LC_GROUPS = {
    "Transient": "lc_classifier_transient",
    "Stochastic": "lc_classifier_stochastic",
    "Periodic": "lc_classifier_periodic",
}
HIERARCHY_PARTS = {LC_TOP, *LC_GROUPS.values()}
SN_CLASS = "SN"
