"""ZTF alert schema 4.02 as the simulator's Avro writer schema.

Written from the public ZTF alert-packet specification (ZwickyTransientFacility/ztf-avro-alert,
schema 4.02): field names and Avro types in a compact notation — ``name:t`` with t one of
d(ouble), f(loat), i(nt), l(ong), s(tring), b(oolean), and a trailing ``?`` for ``["null", t]`` with a
null default. Field order matters for Avro and follows the specification.
"""
from __future__ import annotations

import io
from functools import lru_cache
from typing import Any

import fastavro

SCHEMA_VERSION = "4.02"
_TYPES = {"d": "double", "f": "float", "i": "int", "l": "long", "s": "string", "b": "boolean"}

CANDIDATE = """
jd:d fid:i pid:l diffmaglim:f? pdiffimfilename:s? programpi:s? programid:i candid:l isdiffpos:s
tblid:l? nid:i? rcid:i? field:i? xpos:f? ypos:f? ra:d dec:d magpsf:f sigmapsf:f chipsf:f?
magap:f? sigmagap:f? distnr:f? magnr:f? sigmagnr:f? chinr:f? sharpnr:f? sky:f? magdiff:f?
fwhm:f? classtar:f? mindtoedge:f? magfromlim:f? seeratio:f? aimage:f? bimage:f? aimagerat:f?
bimagerat:f? elong:f? nneg:i? nbad:i? rb:f? ssdistnr:f? ssmagnr:f? ssnamenr:s? sumrat:f?
magapbig:f? sigmagapbig:f? ranr:d decnr:d sgmag1:f? srmag1:f? simag1:f? szmag1:f? sgscore1:f?
distpsnr1:f? ndethist:i ncovhist:i jdstarthist:d? jdendhist:d? scorr:d? tooflag:i?
objectidps1:l? objectidps2:l? sgmag2:f? srmag2:f? simag2:f? szmag2:f? sgscore2:f? distpsnr2:f?
objectidps3:l? sgmag3:f? srmag3:f? simag3:f? szmag3:f? sgscore3:f? distpsnr3:f? nmtchps:i rfid:l
jdstartref:d jdendref:d nframesref:i rbversion:s dsnrms:f? ssnrms:f? dsdiff:f? magzpsci:f?
magzpsciunc:f? magzpscirms:f? nmatches:i clrcoeff:f? clrcounc:f? zpclrcov:f? zpmed:f? clrmed:f?
clrrms:f? neargaia:f? neargaiabright:f? maggaia:f? maggaiabright:f? exptime:f? drb:f?
drbversion:s
"""

PRV_CANDIDATE = """
jd:d fid:i pid:l diffmaglim:f? pdiffimfilename:s? programpi:s? programid:i candid:l?
isdiffpos:s? tblid:l? nid:i? rcid:i? field:i? xpos:f? ypos:f? ra:d? dec:d? magpsf:f? sigmapsf:f?
chipsf:f? magap:f? sigmagap:f? distnr:f? magnr:f? sigmagnr:f? chinr:f? sharpnr:f? sky:f?
magdiff:f? fwhm:f? classtar:f? mindtoedge:f? magfromlim:f? seeratio:f? aimage:f? bimage:f?
aimagerat:f? bimagerat:f? elong:f? nneg:i? nbad:i? rb:f? ssdistnr:f? ssmagnr:f? ssnamenr:s?
sumrat:f? magapbig:f? sigmagapbig:f? ranr:d? decnr:d? scorr:d? magzpsci:f? magzpsciunc:f?
magzpscirms:f? clrcoeff:f? clrcounc:f? rbversion:s
"""

FP_HIST = """
field:i? rcid:i? fid:i pid:l rfid:l sciinpseeing:f? scibckgnd:f? scisigpix:f? magzpsci:f?
magzpsciunc:f? magzpscirms:f? clrcoeff:f? clrcounc:f? exptime:f? adpctdif1:f? adpctdif2:f?
diffmaglim:f? programid:i jd:d forcediffimflux:f? forcediffimfluxunc:f? procstatus:s? distnr:f?
ranr:d decnr:d magnr:f? sigmagnr:f? chinr:f? sharpnr:f?
"""


def avro_fields(spec: str) -> list[dict[str, Any]]:
    """Avro fields of a compact spec (``name:t``, ``?`` for nullable); the Rubin simulator's too."""
    fields = []
    for token in spec.split():
        name, code = token.split(":")
        if code.endswith("?"):
            fields.append({"name": name, "type": ["null", _TYPES[code[0]]], "default": None})
        else:
            fields.append({"name": name, "type": _TYPES[code]})
    return fields


def field_names(spec: str) -> tuple[str, ...]:
    return tuple(token.split(":")[0] for token in spec.split())


def record_schema(name: str, spec: str) -> dict[str, Any]:
    return {"type": "record", "name": name, "namespace": "ztf.alert", "fields": avro_fields(spec)}


def alert_schema() -> dict[str, Any]:
    """The 4.02 alert record with its named sub-records inlined."""
    cutout = {"type": "record", "name": "cutout", "namespace": "ztf.alert",
              "fields": [{"name": "fileName", "type": "string"}, {"name": "stampData", "type": "bytes"}]}
    return {
        "type": "record", "name": "alert", "namespace": "ztf", "version": SCHEMA_VERSION,
        "fields": [
            {"name": "schemavsn", "type": "string"},
            {"name": "publisher", "type": "string"},
            {"name": "objectId", "type": "string"},
            {"name": "candid", "type": "long"},
            {"name": "candidate", "type": record_schema("candidate", CANDIDATE)},
            {"name": "prv_candidates", "default": None,
             "type": ["null", {"type": "array", "items": record_schema("prv_candidate", PRV_CANDIDATE)}]},
            {"name": "fp_hists", "type": ["null", {"type": "array", "items": record_schema("fp_hist", FP_HIST)}],
             "default": None},
            {"name": "cutoutScience", "type": ["null", cutout], "default": None},
            {"name": "cutoutTemplate", "type": ["null", "ztf.alert.cutout"], "default": None},
            {"name": "cutoutDifference", "type": ["null", "ztf.alert.cutout"], "default": None},
        ],
    }


@lru_cache(maxsize=1)
def parsed_alert_schema() -> Any:
    return fastavro.parse_schema(alert_schema())


SUB_RECORDS = {"candidate": CANDIDATE, "prv_candidate": PRV_CANDIDATE, "fp_hist": FP_HIST}


@lru_cache(maxsize=len(SUB_RECORDS))
def _parsed_sub_record(name: str) -> Any:
    return fastavro.parse_schema(record_schema(name, SUB_RECORDS[name]))


# --- Avro binary encoding, for assembling an alert from separately encoded parts ----------

_LONG, _STRING, _BYTES = (fastavro.parse_schema(kind) for kind in ("long", "string", "bytes"))


def _encode(schema: Any, value: Any) -> bytes:
    buffer = io.BytesIO()
    fastavro.schemaless_writer(buffer, schema, value)
    return buffer.getvalue()


def zigzag(value: int) -> bytes:
    """An Avro long (variable-length zig-zag)."""
    return _encode(_LONG, value)


def encode_bytes(value: bytes | str) -> bytes:
    """An Avro string or bytes: length, then the (UTF-8) bytes."""
    return _encode(_STRING if isinstance(value, str) else _BYTES, value)


def encode_sub_record(name: str, row: dict[str, Any]) -> bytes:
    """One candidate, prv_candidate or fp_hist record in Avro binary."""
    return _encode(_parsed_sub_record(name), row)


def encode_optional_array(items: list[bytes]) -> bytes:
    """``["null", {"type": "array"}]`` holding already encoded items (one block)."""
    if not items:
        return UNION_SECOND + b"\0"
    return UNION_SECOND + zigzag(len(items)) + b"".join(items) + b"\0"


UNION_SECOND = zigzag(1)  # branch 1 of a ["null", T] union: a value is present
