"""Survey adapters: raw packets in, :class:`classifier_service.alert.Alert` out.

ZTF and Rubin/LSST are implemented; :func:`adapter_for` tells their packets apart (Rubin
alerts carry ``diaSource`` where ZTF ones carry ``candidate``). A further survey plugs in
the same way: a module with ``SURVEY`` and ``parse``, recognised here.
"""
from __future__ import annotations

from typing import Any

from classifier_service.alert import Alert
from classifier_service.surveys import lsst, ztf
from classifier_service.surveys.base import AlertParseError, UnsupportedSchemaError

__all__ = ["AlertParseError", "UnsupportedSchemaError", "parse_record", "adapter_for"]


def adapter_for(record: dict[str, Any]):
    """The adapter module that understands this decoded packet."""
    if "candidate" in record and "objectId" in record:
        return ztf
    if "diaSource" in record:
        return lsst
    raise AlertParseError("packet is neither a ZTF nor a Rubin alert")


def parse_record(record: dict[str, Any]) -> Alert:
    return adapter_for(record).parse(record)
