"""A seeded generator of hostile alerts made from real ones: what a broken or malicious
stream could send. Each mutant says its kind and, where the damage is known to be fatal,
the words its dead letter's reason must contain.

Kinds: bit flips, truncation, inserted bytes (damage anywhere in the container); deflate
bombs (a container block inflating to 20 MiB .. 1 GiB) and gzip bombs (a stamp inflating to
1 GiB); impossible values (errors, epochs, coordinates, filters, magnitudes); oversized
strings and control characters (objectId, rbversion, ...); candid collisions (an alert
claiming detections of another object).
"""
from __future__ import annotations

import io
import json
import math
import random
import zlib
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from functools import cache

import fastavro

from classifier_service.surveys import avro

KINDS = ("bit_flip", "truncation", "inserted_bytes", "deflate_bomb", "gzip_bomb",
         "impossible_value", "oversized_string", "control_character")
BOMB_SIZES = (20 << 20, 64 << 20, 256 << 20, 1 << 30)
STAMPS = ("cutoutScience", "cutoutTemplate", "cutoutDifference")
CONTROL_CHARACTERS = ("\x00", "\n", "\r\n", "\x1b[31m", "\u202e", "\x7f")
CONTROL_FIELDS = ("objectId", "rbversion", "ssnamenr", "programpi")
OVERSIZED_CHOICES = 5

IMPOSSIBLE = [("sigmapsf", v) for v in (0.0, -0.1, math.nan, math.inf)] + [
    ("jd", 0.0), ("jd", 9.9e9), ("jd", math.nan), ("dec", 1000.0), ("dec", -90.5), ("ra", -1.0),
    ("ra", 400.0), ("fid", 99), ("fid", 0), ("magpsf", -50.0), ("magpsf", 99.0), ("magpsf", math.nan),
    ("candid", -5)]

# Every branch of each kind, named as Mutant.variant names it.
VARIANTS = {
    "bit_flip": {""}, "truncation": {""}, "inserted_bytes": {""},
    "deflate_bomb": {f"{size >> 20} MiB" for size in BOMB_SIZES},
    "gzip_bomb": {f"{stamp} {size >> 20} MiB" for stamp in STAMPS for size in BOMB_SIZES},
    "impossible_value": {f"{name}={value!r} in the {row}" for name, value in IMPOSSIBLE
                         for row in ("candidate", "history")},
    "oversized_string": {f"choice {choice}" for choice in range(OVERSIZED_CHOICES)},
    "control_character": {f"{char!r} in {field}" for char in CONTROL_CHARACTERS for field in CONTROL_FIELDS},
}


@dataclass
class Mutant:
    kind: str
    payload: bytes
    reason: str | None = None  # words the dead letter's reason must hold; None: may be valid
    variant: str = ""  # the branch of its kind that made it, so a set can show it covers them all


@dataclass
class RealAlert:
    payload: bytes
    record: dict
    schema: dict


@cache
def _zeros_deflated(size: int) -> bytes:
    """Raw deflate of ``size`` zero bytes, built in milliseconds: a fully flushed 1 MiB block
    is self-contained, so repeating it repeats its output."""
    compressor = zlib.compressobj(9, zlib.DEFLATED, -15)
    one_mib = compressor.compress(bytes(1 << 20)) + compressor.flush(zlib.Z_FULL_FLUSH)
    return one_mib * (size >> 20) + compressor.flush()


@cache
def _zeros_gzipped(size: int) -> bytes:
    """gzip of ``size`` zero bytes (header, the deflate above, CRC-32 and length)."""
    crc = 0
    for _ in range(size >> 20):
        crc = zlib.crc32(bytes(1 << 20), crc)
    header = b"\x1f\x8b\x08\x00\x00\x00\x00\x00\x02\xff"
    return header + _zeros_deflated(size) + crc.to_bytes(4, "little") + (size % 2**32).to_bytes(4, "little")


def encode(record: dict, schema: dict, codec: str = "null") -> bytes:
    out = io.BytesIO()
    fastavro.writer(out, fastavro.parse_schema(schema), [record], codec=codec)
    return out.getvalue()


def real_alerts(payloads: list[bytes]) -> list[RealAlert]:
    alerts = []
    for payload in payloads:
        container = avro.read_header(payload)
        (record,) = fastavro.reader(io.BytesIO(payload))
        alerts.append(RealAlert(payload, record, json.loads(container.schema_json)))
    return alerts


class MutantGenerator:
    """Mutants of real ZTF alerts, the same ones for the same seed."""

    def __init__(self, alerts: list[RealAlert], seed: int) -> None:
        self.alerts = alerts
        self.rng = random.Random(seed)

    def mutants(self, counts: Mapping[str, int]) -> Iterator[Mutant]:
        """``counts[kind]`` mutants of each kind, in the order of KINDS."""
        for kind in KINDS:
            make = getattr(self, kind)
            for _ in range(counts[kind]):
                yield make(self.rng.choice(self.alerts))

    # --- damage to the bytes: valid or a dead letter, whichever it turns out to be --------
    def bit_flip(self, alert: RealAlert) -> Mutant:
        data = bytearray(alert.payload)
        for _ in range(self.rng.randint(1, 8)):
            position = self.rng.randrange(len(data))
            data[position] ^= 1 << self.rng.randrange(8)
        return Mutant("bit_flip", bytes(data))

    def truncation(self, alert: RealAlert) -> Mutant:
        return Mutant("truncation", alert.payload[:self.rng.randrange(1, len(alert.payload))])

    def inserted_bytes(self, alert: RealAlert) -> Mutant:
        position = self.rng.randrange(len(alert.payload))
        noise = self.rng.randbytes(self.rng.randint(1, 64))
        return Mutant("inserted_bytes", alert.payload[:position] + noise + alert.payload[position:])

    # --- bombs ---------------------------------------------------------------------------
    def deflate_bomb(self, alert: RealAlert) -> Mutant:
        """The alert's own header with the deflate codec, and one block of zeros."""
        whole = encode(alert.record, alert.schema, codec="deflate")
        container = avro.read_header(whole)
        header = whole[:container.blocks_start]
        size = self.rng.choice(BOMB_SIZES)
        block = _zeros_deflated(size)
        payload = header + avro._zigzag(1) + avro._zigzag(len(block)) + block + container.sync
        return Mutant("deflate_bomb", payload, reason="inflates beyond", variant=f"{size >> 20} MiB")

    def gzip_bomb(self, alert: RealAlert) -> Mutant:
        """A stamp that inflates to 1 GiB: a cutout dead letter where the stamps are read,
        ignored (and never stored) where they are not."""
        record = _copy(alert.record)
        stamp = self.rng.choice(STAMPS)
        size = self.rng.choice(BOMB_SIZES)
        record[stamp] = {"fileName": "bomb.fits.gz", **(record.get(stamp) or {}), "stampData": _zeros_gzipped(size)}
        return Mutant("gzip_bomb", encode(record, alert.schema), variant=f"{stamp} {size >> 20} MiB")

    # --- values a packet cannot hold -------------------------------------------------------
    def impossible_value(self, alert: RealAlert) -> Mutant:
        record = _copy(alert.record)
        name, value = self.rng.choice(IMPOSSIBLE)
        rows = [record["candidate"], *(p for p in record.get("prv_candidates") or () if p.get("magpsf") is not None)]
        row = self.rng.choice(rows)
        row[name] = value
        if name == "candid" and row is record["candidate"] and record.get("candid") is not None:
            record["candid"] = value
        # A history row the store already holds is dropped at decode, bad value and all (the
        # alert is then valid); a bad candidate is always refused.
        reason = name if row is record["candidate"] else None
        return Mutant("impossible_value", encode(record, alert.schema), reason=reason,
                      variant=f"{name}={value!r} in the {'candidate' if reason else 'history'}")

    def oversized_string(self, alert: RealAlert) -> Mutant:
        record = _copy(alert.record)
        choice = self.rng.randrange(OVERSIZED_CHOICES)
        if choice in (2, 3) and "drbversion" not in record["candidate"]:  # schemas before 3.3
            choice = 4
        if choice == 0:
            record["objectId"], words = record["objectId"] + "a" * (1 << 20), "objectId"
        elif choice == 1:
            record["objectId"], words = (record["objectId"] * 4)[:40], "objectId"
        elif choice == 2:
            record["candidate"]["rbversion"], words = "t" * (1 << 20), "rbversion"
        elif choice == 3:
            record["candidate"]["rbversion"], words = "t17_f5_c3_extra!", None  # 16 characters: fits
            record["candidate"]["drbversion"], words = "d6_m7_and_more_17", "drbversion"
        else:
            record["candidate"]["ssnamenr"], words = "x" * 70_000, "ssnamenr"
        return Mutant("oversized_string", encode(record, alert.schema), reason=words, variant=f"choice {choice}")

    def control_character(self, alert: RealAlert) -> Mutant:
        record = _copy(alert.record)
        char = self.rng.choice(CONTROL_CHARACTERS)
        field = self.rng.choice([name for name in CONTROL_FIELDS
                                 if name == "objectId" or name in record["candidate"]])
        if field == "objectId":
            oid = record["objectId"]
            at = self.rng.randrange(len(oid) + 1)
            record["objectId"] = oid[:at] + char + oid[at:]
        else:
            record["candidate"][field] = (record["candidate"].get(field) or "x")[:3] + char
        return Mutant("control_character", encode(record, alert.schema), reason=field, variant=f"{char!r} in {field}")

    # --- a candid belongs to one object ----------------------------------------------------
    def candid_collision(self, alert: RealAlert) -> Mutant:
        """The alert under another real object's id, or a real object claiming another's candid."""
        record = _copy(alert.record)
        other = self.rng.choice([a for a in self.alerts if a.record["objectId"] != record["objectId"]])
        if self.rng.random() < 0.5:
            record["objectId"] = other.record["objectId"]
        else:
            stolen = other.record["candidate"]["candid"]
            record["candidate"]["candid"] = stolen
            if record.get("candid") is not None:
                record["candid"] = stolen
        return Mutant("candid_collision", encode(record, alert.schema), reason="candid collision")


def _copy(record: dict) -> dict:
    """A deep copy that shares the (immutable) bytes of the stamps."""
    if isinstance(record, dict):
        return {k: _copy(v) for k, v in record.items()}
    if isinstance(record, list):
        return [_copy(v) for v in record]
    return record
