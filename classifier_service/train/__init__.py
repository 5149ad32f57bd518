"""Training entry points that rebuild every shipped model from scratch (``alerce-classifier train``).

Real data is read in place from ``../shared/data`` (override with ``ALERCE_SHARED_DATA``).
"""
from __future__ import annotations

import os
from pathlib import Path

SHARED_DATA = Path(os.environ.get(
    "ALERCE_SHARED_DATA", Path(__file__).resolve().parents[3] / "shared" / "data"))
