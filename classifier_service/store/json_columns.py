"""The text of a JSON column's value, one encoding for every write path (multi-row INSERT, CSV
and binary COPY, SQLAlchemy's own binds): json.dumps's text, with NaN and infinities of a
mapping's values written as null and its bytes left out, as PostgreSQL refuses NaN in JSON and
SQLite would store text no JSON reader takes.
"""
from __future__ import annotations

import json
import math
from json.encoder import JSONEncoder, c_make_encoder, encode_basestring_ascii
from typing import Any

import numpy as np

__all__ = ["json_text"]

# json.dumps's own C encoder, made once (json.dumps makes one for each value: with the copy of
# each mapping that made it safe first, that was half the cost of forced photometry's ``extra``,
# ten a ZTF alert), refusing NaN and infinities instead of writing them.
_encode = c_make_encoder(None, JSONEncoder().default, encode_basestring_ascii, None, ": ", ", ",
                         False, False, False)


def json_text(value: Any) -> str:
    """``value`` as JSON text; values the encoder refuses (NaN, bytes, numpy integers) are
    made safe first."""
    try:
        return "".join(_encode(value, 0))
    except (TypeError, ValueError):
        return json.dumps(_json_safe(value) if isinstance(value, dict) else value)


def _json_safe(mapping: dict[str, Any]) -> dict[str, Any]:
    """``mapping`` without NaN or infinities (null instead), bytes (left out) or numpy scalars."""
    out = {}
    for key, value in mapping.items():
        kind = type(value)
        if kind is float:
            out[key] = value if math.isfinite(value) else None
        elif kind is not bytes:
            out[key] = value.item() if isinstance(value, np.generic) else value
    return out
