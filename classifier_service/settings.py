"""Setting values, from the command line or ``ALERCE_*`` variables: the converters that check
one and name where a bad one came from, and the error a user can fix.

A converter takes the text (an :class:`EnvValue` when it came from a variable) and returns the
value, or raises ``argparse.ArgumentTypeError`` naming the value and its source: argparse prints
that message as it is, and the API's limits (:mod:`classifier_service.api.db`) turn it into a
:class:`CommandError`. Pure functions of the text, shared by the command line
(:mod:`classifier_service.commands.arguments`) and the API, which imports nothing of the CLI.
"""
from __future__ import annotations

import argparse
import math
from collections.abc import Callable
from pathlib import Path
from typing import Any


class CommandError(Exception):
    """A failure the user can fix (a setting, path, URL, unreachable service): one line, exit status 2."""


class EnvValue(str):
    """A default taken from an environment variable, which it remembers for error messages."""

    variable: str

    def __new__(cls, value: str, variable: str) -> EnvValue:
        self = super().__new__(cls, value)
        self.variable = variable
        return self


def converter(convert: Callable[[str], Any]) -> Callable[[str], Any]:
    """An argparse ``type`` whose ValueError becomes a message naming the value and where it came from."""

    def parse(text: str) -> Any:
        try:
            return convert(text)
        except ValueError as exc:
            source = f"{text.variable}={str(text)!r}" if isinstance(text, EnvValue) else repr(text)
            raise argparse.ArgumentTypeError(f"{source}: {exc}") from None

    parse.__name__ = convert.__name__
    parse.__doc__ = convert.__doc__
    return parse


def _at_least(kind: type, minimum: float, *, above: bool = False) -> Callable[[str], Any]:
    """A converter of numbers of ``kind`` no less than ``minimum`` (more than it, when ``above``)."""
    what = "a whole number" if kind is int else "a number"
    rule = f"must be more than {minimum}" if above else f"must be {minimum} or more"

    def convert(text: str) -> Any:
        value = _number(kind, text, what)
        if not (value > minimum if above else value >= minimum):  # NaN fails both
            raise ValueError(rule)
        return value

    convert.__name__ = f"{kind.__name__} of at least {minimum}"
    return converter(convert)


positive_int = _at_least(int, 1)
non_negative_int = _at_least(int, 0)
positive_float = _at_least(float, 0, above=True)
non_negative_float = _at_least(float, 0)


@converter
def finite_float(text: str) -> float:
    """A number that is neither NaN nor infinite."""
    value = _number(float, text, "a number")
    if not math.isfinite(value):
        raise ValueError("not a finite number")
    return value


@converter
def positive_ints(text: str) -> list[int]:
    """Comma-separated whole numbers of 1 or more: "1,2"."""
    values = [_number(int, part.strip(), "a whole number") for part in text.split(",")]
    if any(value < 1 for value in values):
        raise ValueError("each must be 1 or more")
    return values


@converter
def port(text: str) -> int:
    value = _number(int, text, "a port number")
    if not 0 < value < 65536:
        raise ValueError("a port is between 1 and 65535")
    return value


@converter
def flag(text: str) -> bool:
    """``1/true/yes/on`` or ``0/false/no/off`` (and empty), as environment switches are written."""
    value = text.strip().lower()
    if value in ("1", "true", "yes", "on"):
        return True
    if value in ("", "0", "false", "no", "off"):
        return False
    raise ValueError("use 1/0, true/false, yes/no or on/off")


@converter
def database_url(text: str) -> str:
    """A SQLAlchemy URL of a SQLite or PostgreSQL store (``sqlite:///path``, ``postgresql://...``)."""
    from sqlalchemy.engine import make_url
    from sqlalchemy.exc import ArgumentError

    try:
        backend = make_url(text).get_backend_name()
    except ArgumentError:
        raise ValueError("not a database URL; use sqlite:///path or postgresql://user@host/name") from None
    if backend not in ("sqlite", "postgresql"):
        raise ValueError(f"{backend} is not supported; use sqlite:///path or postgresql://user@host/name")
    return str(text)


@converter
def existing_path(text: str) -> Path:
    path = Path(text)
    if not path.exists():
        raise ValueError("no such file or folder")
    return path


def _number(kind: type, text: str, what: str) -> Any:
    try:
        return kind(text)
    except ValueError:
        raise ValueError(f"not {what}") from None
