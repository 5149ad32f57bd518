"""Modified Julian Dates and UTC datetimes, one conversion for the broker and the TOM apps.

Exact arithmetic from the MJD epoch (1858-11-17 00:00 UTC) rather than Unix timestamps, so
the same MJD always gives the same microsecond: TOM photometry uses the timestamp in its
uniqueness constraint, and re-ingesting a point must land on the same instant.
"""
from __future__ import annotations

from datetime import datetime, timedelta, timezone

MJD_EPOCH = datetime(1858, 11, 17, tzinfo=timezone.utc)
ONE_DAY = timedelta(days=1)


def mjd_to_datetime(mjd: float) -> datetime:
    return MJD_EPOCH + timedelta(days=float(mjd))


def datetime_to_mjd(moment: datetime) -> float:
    """An aware datetime (naive ones are taken as UTC) to MJD."""
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=timezone.utc)
    return (moment - MJD_EPOCH) / ONE_DAY


def now_mjd() -> float:
    return datetime_to_mjd(datetime.now(timezone.utc))
