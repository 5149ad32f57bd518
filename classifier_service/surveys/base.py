"""What every survey adapter provides, and the errors a bad packet raises."""
from __future__ import annotations

import copy
import math
import time
from typing import Any, Protocol

from alerce_contract.sky import DEC_MAX, DEC_MIN, RA_MAX, RA_MIN
from classifier_service.alert import Alert


class AlertParseError(ValueError):
    """A packet that cannot become an Alert; the message becomes the dead-letter reason."""


class UnsupportedSchemaError(AlertParseError):
    """A packet written with a schema version this adapter does not know."""


class SurveyAdapter(Protocol):
    """Turns one decoded packet of a survey into the shared alert model."""

    SURVEY: str

    def parse(self, record: dict[str, Any]) -> Alert: ...


# --- Validation shared by the adapters: a packet that breaks these is a dead letter ----------
# No string a survey sends is near this long (ZTF's longest, pdiffimfilename, is ~100
# characters; Rubin's longest, mpc_orbits.mpc_orb_jsonb, ~6000): longer text is damage.
MAX_TEXT_CHARS = 65536
# Apparent magnitudes a detection or a limit can have: nothing in the sky is brighter than
# 0 for these cameras (they saturate near 12-16), nothing fainter than 40 is measurable.
MAG_RANGE = (0.0, 40.0)
ERROR_RANGE = (0.0, math.inf)  # a magnitude's error: above 0, finite
RA_RANGE = (RA_MIN, RA_MAX)  # the sky's (alerce_contract.sky): ra below RA_MAX, 360 is 0
DEC_RANGE = (DEC_MIN, DEC_MAX)
_INF = math.inf
MJD_OF_UNIX_EPOCH = 40587.0


def latest_mjd() -> float:
    """The newest epoch an alert may carry: now, plus a day for clocks that drift."""
    return time.time() / 86400.0 + MJD_OF_UNIX_EPOCH + 1.0


class TextChecked(dict):
    """A decoded record whose strings were checked as :func:`check_text` checks them while they
    were read (:mod:`classifier_service.surveys.avro_reader`): walking its ~1,200 values again
    would cost a tenth of the pipeline. A copy, which its maker may change, is a plain dict whose
    text is checked again; the worker itself only ever removes history entries."""

    __slots__ = ()

    def __copy__(self) -> dict[str, Any]:
        return dict(self)

    def __deepcopy__(self, memo: dict[int, Any]) -> dict[str, Any]:
        return copy.deepcopy(dict(self), memo)


def check_text(record: dict[str, Any]) -> None:
    """Every string of a packet, however deeply nested: printable (no NUL, CR, LF, U+202E, ...)
    and at most MAX_TEXT_CHARS. Bytes (stamps) are not text and are not looked at; nor are the
    keys of maps (no survey sends a map)."""
    if type(record) is TextChecked:
        return
    containers: list[Any] = [record]
    while containers:  # a quick pass; the path of a bad string is found only when there is one
        container = containers.pop()
        for value in container.values() if type(container) is dict else container:
            kind = type(value)
            if kind is str:
                if len(value) > MAX_TEXT_CHARS or not value.isprintable():
                    _refuse_text(record)
            elif kind is dict or kind is list:
                containers.append(value)


def _refuse_text(container: Any, path: str = "") -> None:
    """Raise AlertParseError naming the first bad string under ``container`` and why."""
    for key, value in container.items() if type(container) is dict else enumerate(container):
        where = f"{path}.{key}" if path and type(container) is dict else f"{path}[{key}]" if path else str(key)
        if type(value) is str:
            if len(value) > MAX_TEXT_CHARS:
                raise AlertParseError(f"{where} is {len(value)} characters long (at most {MAX_TEXT_CHARS})")
            bad = next((i for i, char in enumerate(value) if not char.isprintable()), None)
            if bad is not None:
                raise AlertParseError(f"{where} holds the non-printable character U+{ord(value[bad]):04X} "
                                      f"at position {bad}")
        elif type(value) in (dict, list):
            _refuse_text(value, where)


def checked_number(value: Any, where: str, name: str, bounds: tuple[float, float], *, above: bool = False,
                   below: bool = False) -> float:
    """``value`` as a float when finite and within ``bounds`` (``above``: strictly above the low
    one; ``below``: strictly below the high one), else AlertParseError naming it ``where name``.
    A float in range, nearly every value, passes the first test (NaN fails every comparison),
    and no message is built for it."""
    low, high = bounds
    if (type(value) is float and (low < value if above else low <= value)
            and (value < high or value == high and not below) and value != _INF):
        return value
    what = f"{where} {name}"
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise AlertParseError(f"{what} {value!r} is not a number")
    if (not math.isfinite(value) or (value >= high if below else value > high)
            or (value <= low if above else value < low)):
        bound = f"{'(' if above else '['}{low}, {high}{')' if below else ']'}"
        raise AlertParseError(f"{what} {value!r} is outside {bound}")
    return float(value)


def checked_id(value: Any, name: str, where: str = "") -> int:
    """A positive 64-bit integer id (candid, diaSourceId, ...), else AlertParseError naming it
    ``where name``; no message is built for a good one."""
    if type(value) is int and 0 < value < 2**63:
        return value
    what = f"{where} {name}" if where else name
    if isinstance(value, bool) or not isinstance(value, int):
        raise AlertParseError(f"{what} {value!r} is not an integer id")
    if not 0 < value < 2**63:
        raise AlertParseError(f"{what} {value} is not a positive 64-bit id")
    return value


def check_position(ra: Any, dec: Any, where: str) -> None:
    """A position on the sky (alerce_contract.sky): ra in [0, 360), dec in [-90, 90]."""
    checked_number(ra, where, "ra", RA_RANGE, below=True)
    checked_number(dec, where, "dec", DEC_RANGE)


def check_photometry(magpsf: Any, sigmapsf: Any, where: str) -> None:
    """A detection's magnitude in MAG_RANGE and its error positive and finite."""
    checked_number(magpsf, where, "magpsf", MAG_RANGE)
    checked_number(sigmapsf, where, "sigmapsf", ERROR_RANGE, above=True)
