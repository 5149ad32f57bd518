"""Survey adapters: raw packets in, :class:`classifier_service.alert.Alert` out.

ZTF is the one implemented; a Rubin adapter plugs in beside it by recognising its packets
in :func:`adapter_for` (Rubin alerts carry ``diaSource`` where ZTF ones carry ``candidate``).
"""
from __future__ import annotations

from typing import Any

from classifier_service.alert import Alert
from classifier_service.surveys import ztf
from classifier_service.surveys.base import AlertParseError, UnsupportedSchemaError

__all__ = ["AlertParseError", "UnsupportedSchemaError", "parse_record", "adapter_for"]


def adapter_for(record: dict[str, Any]):
    """The adapter module that understands this decoded packet."""
    if "candidate" in record and "objectId" in record:
        return ztf
    if "diaSource" in record:
        raise UnsupportedSchemaError("Rubin/LSST alerts are recognised but no adapter is installed yet")
    raise AlertParseError("packet is neither a ZTF nor a Rubin alert")


def parse_record(record: dict[str, Any]) -> Alert:
    return adapter_for(record).parse(record)
