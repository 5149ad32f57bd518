"""Avro records read by Python code generated once per writer schema.

fastavro interprets the writer schema for every value it reads: a type dispatch, a union
look-up and a call per field, about 0.3 µs each. A ZTF alert carries some 1,200 values,
nine in ten of them in its 30-day history (``prv_candidates``, ``fp_hists``), so that dispatch
is most of decoding. Here each writer schema is turned once into Python source with one
specialised statement per field (a float read at a known offset, a ``[null, float]`` union as
one byte test) and compiled; reading a record is then a few bytecodes a value. Measured on
600 simulated 4.02 alerts: 0.43 CPU ms per alert with fastavro, 0.2 with the generated
reader; the records are equal (tests/service/test_avro_reader.py holds them to fastavro on
every real alert and schema).

The values are fastavro's: longs wrap to 64 bits as its C reader does, floats widen to
Python floats, strings are strict UTF-8, a boolean is any non-zero byte, and a logical type
(Rubin's and Fink's timestamps) goes through fastavro's own converter. Input fastavro would
read but no Avro writer makes (a negative union or enum index, a varint over ten bytes) is
refused here as corrupt. A schema the generator cannot express (nested beyond Python's
limits, arrays of empty items) returns ``None`` from :func:`compile_reader`, and the caller
keeps fastavro for it.

Every string is checked as it is read, as :func:`~classifier_service.surveys.base.check_text`
would check it (printable, not too long; enum symbols are names, which fastavro's schema
parse holds to ``[A-Za-z_][A-Za-z0-9_]*``): the record comes back as a ``TextChecked`` dict, which
the parsers do not walk again (that walk cost 0.16 ms an alert, a tenth of the pipeline). A
string that fails raises :class:`UncheckedText`; the caller then reads the record with fastavro
and the parser's walk names the string and why.

A packet repeats its object's history (ZTF 30 days, Rubin 12 months), which after the first
alert the store mostly holds. The top-level history arrays (``history_layout.SKIPPABLE``) are
read with a ``known`` set of keys: an entry whose key is in it is moved past without building
it (each type has generated skip statements: a float is ``p += 4``), and only the others are
read, from the entry's start. Who the alert is about, to look those keys up, comes from
``prefix``, which reads one identity field and skips the fields before it.
"""
from __future__ import annotations

import struct
from collections.abc import Callable, Collection, Mapping
from typing import Any, NamedTuple

from fastavro.read import LOGICAL_READERS
from fastavro.schema import extract_logical_type

from classifier_service.surveys.base import MAX_TEXT_CHARS, TextChecked
from classifier_service.surveys.history_layout import IDENTITY_FIELDS, StoredEntry

# (data, position) -> (value, position after it)
ReadFunction = Callable[[bytes, int], tuple[Any, int]]
# A history array's name -> the keys of its entries the store holds, which are skipped unbuilt.
Known = Mapping[str, Collection[int]]
_INTEGER = {"int", "long"}

_UINT64 = (1 << 64) - 1
_MAX_VARINT_BYTES = 10
_FIXED_SIZE = {"float": 4, "double": 8}
_PRIMITIVES = {"null", "boolean", "int", "long", "float", "double", "bytes", "string"}


class Unsupported(Exception):
    """A schema construct the generator leaves to fastavro."""


class CorruptRecord(ValueError):
    """Bytes that are not a record of the schema (a length past the end, a bad index)."""


class UncheckedText(Exception):
    """A string check_text refuses: read the record with fastavro, for the parser to name it."""


def _unrolled_read_long() -> Callable[[bytes, int], tuple[int, int]]:
    """Avro's zig-zag varint at ``pos``, wrapped to 64 bits as fastavro's reader wraps it.

    Written out byte by byte (generated here, ten bytes at most): Rubin's 9-byte ids are most
    of its packets' varints, and the unrolled form reads them a fifth faster than a loop.
    """
    lines = ["def read_long(d, p):", "    b = d[p]", "    if b < 128:", "        return (b >> 1) ^ -(b & 1), p + 1",
             "    n = b & 127"]
    for k in range(1, _MAX_VARINT_BYTES):
        wrap = " & UINT64" if k == _MAX_VARINT_BYTES - 1 else ""  # only a tenth byte passes 64 bits
        lines += [f"    b = d[p + {k}]", "    if b < 128:", f"        n = (n | b << {7 * k}){wrap}",
                  f"        return (n >> 1) ^ -(n & 1), p + {k + 1}", f"    n |= (b & 127) << {7 * k}"]
    lines.append("    raise CorruptRecord('varint longer than ten bytes')")
    namespace = {"UINT64": _UINT64, "CorruptRecord": CorruptRecord}
    exec("\n".join(lines), namespace)  # noqa: S102: fixed source
    return namespace["read_long"]


read_long = _unrolled_read_long()


def _bad_index(kind: str, index: int) -> CorruptRecord:
    return CorruptRecord(f"{kind} index {index} out of range")


_RUNTIME = {
    "read_long": read_long, "CorruptRecord": CorruptRecord, "bad_index": _bad_index,
    "unpack_float": struct.Struct("<f").unpack_from, "unpack_double": struct.Struct("<d").unpack_from,
    "MAX_TEXT_CHARS": MAX_TEXT_CHARS, "UncheckedText": UncheckedText, "TextChecked": TextChecked,
    "SKIPPED": object(),  # what a history entry the store holds reads as
}


class Reader(NamedTuple):
    """What is generated for one writer schema.

    ``read(d, p, known=None)``: the record at ``p`` and the position after it; the entries of
    a history array named in ``known`` whose key is in its set are skipped, never built (see
    :mod:`classifier_service.surveys.history_layout`). ``prefix(d, p)``: who the alert is about
    (the first of IDENTITY_FIELDS, the fields before it skipped), to look the store up before
    the whole read; None for a schema without history arrays or identity.
    """

    read: Callable[[bytes, int, Known | None], tuple[Any, int]]
    prefix: Callable[[bytes, int], dict[str, Any]] | None


def compile_reader(schema: Any, skippable: Mapping[str, StoredEntry] | None = None) -> Reader | None:
    """The reader of one record of ``schema`` (fastavro's parsed form), or None where the schema
    holds something only fastavro reads. ``skippable``: the top-level array fields whose entries
    ``known`` may name, and how an entry is told stored."""
    generator = _Generator(skippable or {})
    try:
        record = generator.function_for(schema)
        generator.lines += ["def read_checked(d, p, known=None):", f"    r, p = {record}(d, p, known)",
                            "    if p > len(d):  # skipping moves past bytes without reading them",
                            "        raise CorruptRecord('the record runs past the end')",
                            "    return TextChecked(r), p"]
        code = compile("\n".join(generator.lines), "<avro reader>", "exec")
    except (Unsupported, RecursionError, SyntaxError):  # nested past Python's limits: fastavro's
        return None
    namespace = dict(_RUNTIME, **generator.constants)
    exec(code, namespace)  # noqa: S102: source generated here, names and values never spliced in raw
    return Reader(namespace["read_checked"], namespace.get("read_prefix"))


class _Generator:
    """Python source for the records of one schema: a function per named record."""

    def __init__(self, skippable: Mapping[str, StoredEntry]) -> None:
        self.lines: list[str] = []
        self.constants: dict[str, Any] = {}
        self.named: dict[str, Any] = {}  # full name -> its definition
        self.functions: dict[str, str] = {}  # record full name -> function name
        self.skippers: dict[str, str] = {}  # record full name -> function skipping one
        self.skippable = skippable
        self.history: tuple[str, StoredEntry] | None = None  # the top-level field being generated
        self._counter = 0

    def fresh(self, stem: str) -> str:
        self._counter += 1
        return f"{stem}{self._counter}"

    def function_for(self, schema: Any) -> str:
        """The name of the function reading ``schema``, which must be a record."""
        schema = self.resolve(schema)
        if not isinstance(schema, dict) or schema.get("type") != "record":
            raise Unsupported("the top level is not a record")
        return self.record_function(schema, top=True)

    def resolve(self, schema: Any) -> Any:
        """A reference by name to its definition; a definition is remembered by its name."""
        if isinstance(schema, str) and schema not in _PRIMITIVES:
            if schema not in self.named:
                raise Unsupported(f"unknown named type {schema!r}")
            return self.named[schema]
        if isinstance(schema, dict):
            if schema.get("type") in ("record", "error", "enum", "fixed"):
                self.named.setdefault(schema["name"], schema)
            elif schema.get("type") in _PRIMITIVES and "logicalType" not in schema:
                return schema["type"]
        return schema

    def record_function(self, schema: dict[str, Any], top: bool = False) -> str:
        """The function reading a record; the top level's takes ``known`` for its history arrays,
        and where it has one, ``read_prefix`` is made for it too."""
        name = schema["name"]
        if name in self.functions:
            return self.functions[name]
        function = self.functions[name] = self.fresh("record_")
        body: list[str] = []
        values = []
        histories = 0
        for field in schema["fields"]:
            value = self.fresh("v")
            history = self.skippable.get(field["name"]) if top and self.is_record_array(field["type"]) else None
            histories += history is not None
            self.history = (field["name"], history) if history is not None else None
            body += self.read(field["type"], value, "    ")
            self.history = None
            values.append(f"{field['name']!r}: {value}")
        known = ", known=None" if top else ""
        self.lines += [f"def {function}(d, p{known}):", *body, f"    return {{{', '.join(values)}}}, p", ""]
        if histories:
            self.prefix_function(schema)
        return function

    def prefix_function(self, schema: dict[str, Any]) -> None:
        """``read_prefix``: the first of IDENTITY_FIELDS the record has, read alone (the fields
        before it skipped), as {field: value} or {field: {sub-field: value}}; none if it has none."""
        lines = ["def read_prefix(d, p):"]
        for field in schema["fields"]:
            if field["name"] not in IDENTITY_FIELDS:
                lines += self.skip(field["type"], "    ")
                continue
            inner, value = IDENTITY_FIELDS[field["name"]], self.fresh("v")
            if inner is None:
                lines += self.read(field["type"], value, "    ")
                self.lines += [*lines, f"    return {{{field['name']!r}: {value}}}", ""]
                return
            record = self.resolve(field["type"])
            names = [f["name"] for f in record["fields"]] if isinstance(record, dict) and record.get("type") == "record" else []
            if inner not in names:
                return
            for sub in record["fields"][:names.index(inner)]:
                lines += self.skip(sub["type"], "    ")
            lines += self.read(record["fields"][names.index(inner)]["type"], value, "    ")
            self.lines += [*lines, f"    return {{{field['name']!r}: {{{inner!r}: {value}}}}}", ""]
            return

    def stored_entry_function(self, schema: dict[str, Any], entry: StoredEntry) -> str | None:
        """For a history array's record: a function returning (SKIPPED, end) for an entry whose
        ``entry.key`` is in the ``known`` set (and ``entry.present`` not null), moved past
        unbuilt (only those fields read), else (the record, end), read from its start again; None
        where the record lacks those fields or its key is no integer."""
        fields = [field["name"] for field in schema["fields"]]
        deciding = [entry.key] + ([entry.present] if entry.present else [])
        if not set(deciding) <= set(fields) or not self.is_integer(schema["fields"][fields.index(entry.key)]["type"]):
            return None  # a key of another type may not even hash: such entries are read and parsed
        function = self.fresh("skip_or_record_")
        record = self.record_function(schema)
        last = max(fields.index(name) for name in deciding)
        decide: list[str] = []  # move past the fields before the deciding ones, reading those
        skip: list[str] = []  # move past the rest
        names = {name: self.fresh("v") for name in deciding}
        for i, field in enumerate(schema["fields"]):
            if field["name"] in names:
                decide += self.read(field["type"], names[field["name"]], "    ")
            elif i < last:
                decide += self.skip(field["type"], "    ")
            else:
                skip += self.skip(field["type"], "        ")
        present = f" and {names[entry.present]} is not None" if entry.present else ""
        self.lines += [f"def {function}(d, p, known):", "    start = p", *decide,
                       f"    if {names[entry.key]} in known{present}:", *skip, "        return SKIPPED, p",
                       f"    return {record}(d, start)", ""]
        return function

    def is_record_array(self, schema: Any) -> bool:
        """An array of records, or a union of one with null: the shape of a history."""
        found = self.nullable(schema)
        array = found[0] if found else None
        return isinstance(array, dict) and array.get("type") == "array" and self.item_record(array["items"]) is not None

    def item_record(self, items: Any) -> tuple[dict[str, Any], int | None] | None:
        """A history array's items: a record, or a union of one record with null (as Spark writes
        them): the record and its branch index (None: no union); None for other items."""
        found = self.nullable(items)
        return found if found and isinstance(found[0], dict) and found[0].get("type") == "record" else None

    def nullable(self, schema: Any) -> tuple[Any, int | None] | None:
        """A schema resolved, with None for its branch index; or of a union, its one branch that is
        not null and that branch's index; None for a union of several others."""
        schema = self.resolve(schema)
        if not isinstance(schema, list):
            return schema, None
        others = [i for i, branch in enumerate(schema) if self.resolve(branch) != "null"]
        return (self.resolve(schema[others[0]]), others[0]) if len(others) == 1 else None

    def stored_item_function(self, items: Any, entry: StoredEntry) -> str | None:
        """stored_entry_function for a history array's items, through their union if they have one."""
        found = self.item_record(items)
        inner = self.stored_entry_function(found[0], entry) if found else None
        if inner is None or found[1] is None:
            return inner
        function = self.fresh("skip_or_item_")
        nulls = [i for i, branch in enumerate(items) if self.resolve(branch) == "null"]
        self.lines += [f"def {function}(d, p, known):", "    b = d[p]", "    p += 1",
                       f"    if b == {2 * found[1]}:", f"        return {inner}(d, p, known)",
                       *[line for i in nulls for line in (f"    if b == {2 * i}:", "        return None, p")],
                       "    raise bad_index('union', b)", ""]
        return function

    def is_integer(self, schema: Any) -> bool:
        """An int or long, or a union of them with null."""
        schema = self.resolve(schema)
        branches = schema if isinstance(schema, list) else [schema]
        kinds = [self.resolve(branch) for branch in branches]
        return all(kind in _INTEGER or kind == "null" for kind in kinds) and any(kind in _INTEGER for kind in kinds)

    def read(self, schema: Any, target: str, indent: str, check_text: bool = True) -> list[str]:
        """Statements that read one value of ``schema`` at ``p`` into ``target`` and move ``p``
        (a string checked as check_text would, unless ``check_text`` is false: a map's key)."""
        schema = self.resolve(schema)
        if isinstance(schema, dict) and "logicalType" in schema:
            return self.read_logical(schema, target, indent)
        if isinstance(schema, list):
            return self.read_union(schema, target, indent)
        kind = schema if isinstance(schema, str) else schema.get("type")
        if kind == "null":
            return [f"{indent}{target} = None"]
        if kind == "boolean":
            return [f"{indent}{target} = d[p] != 0", f"{indent}p += 1"]
        if kind in ("int", "long"):  # most are under 64: one byte, read here without a call
            return [f"{indent}c = d[p]",
                    f"{indent}if c < 128:",
                    f"{indent}    {target} = (c >> 1) ^ -(c & 1)",
                    f"{indent}    p += 1",
                    f"{indent}else:",
                    f"{indent}    {target}, p = read_long(d, p)"]
        if kind in _FIXED_SIZE:
            return [f"{indent}{target} = unpack_{kind}(d, p)[0]", f"{indent}p += {_FIXED_SIZE[kind]}"]
        if kind in ("string", "bytes"):
            lines = [f"{indent}n, p = read_long(d, p)",
                     f"{indent}if n < 0 or p + n > len(d):",
                     f"{indent}    raise CorruptRecord('{kind} of ' + str(n) + ' bytes past the end')",
                     f"{indent}{target} = d[p:p + n]{'.decode()' if kind == 'string' else ''}",
                     f"{indent}p += n"]
            if kind == "string" and check_text:  # n bytes hold at most n characters
                lines += [f"{indent}if not {target}.isprintable() or n > MAX_TEXT_CHARS and len({target}) > MAX_TEXT_CHARS:",
                          f"{indent}    raise UncheckedText"]
            return lines
        if kind == "fixed":
            size = int(schema["size"])
            return [f"{indent}if p + {size} > len(d):",
                    f"{indent}    raise CorruptRecord('fixed of {size} bytes past the end')",
                    f"{indent}{target} = d[p:p + {size}]",
                    f"{indent}p += {size}"]
        if kind == "enum":
            symbols = self.fresh("symbols")
            self.constants[symbols] = tuple(schema["symbols"])
            return [f"{indent}i, p = read_long(d, p)",
                    f"{indent}if not 0 <= i < {len(schema['symbols'])}:",
                    f"{indent}    raise bad_index('enum', i)",
                    f"{indent}{target} = {symbols}[i]"]
        if kind in ("record", "error"):
            return [f"{indent}{target}, p = {self.record_function(schema)}(d, p)"]
        if kind in ("array", "map"):
            return self.read_blocks(schema, kind, target, indent)
        raise Unsupported(f"type {kind!r}")

    def read_logical(self, schema: dict[str, Any], target: str, indent: str) -> list[str]:
        """The underlying value, then fastavro's converter for the logical type, as it calls it."""
        underlying = {key: value for key, value in schema.items() if key != "logicalType"}
        lines = self.read(underlying, target, indent)
        convert = LOGICAL_READERS.get(extract_logical_type(schema))
        if convert is None:  # a logical type fastavro does not know: the plain value, as there
            return lines
        name, writer = self.fresh("logical"), self.fresh("schema")
        self.constants[name], self.constants[writer] = convert, schema
        return lines + [f"{indent}{target} = {name}({target}, {writer}, None)"]

    def read_union(self, branches: list[Any], target: str, indent: str) -> list[str]:
        """The branch index is one byte for every real union (zig-zag 0, 1, 2... is 0, 2, 4...)."""
        lines = [f"{indent}b = d[p]", f"{indent}p += 1"]
        for index, branch in enumerate(branches):
            lines.append(f"{indent}{'if' if index == 0 else 'elif'} b == {2 * index}:")
            lines += self.read(branch, target, indent + "    ")
        lines += [f"{indent}else:", f"{indent}    raise bad_index('union', b)"]
        return lines

    def read_blocks(self, schema: dict[str, Any], kind: str, target: str, indent: str) -> list[str]:
        """Arrays and maps: blocks of a count (negative: then a byte size) until a zero count.
        Each item takes at least a byte, so a count beyond the bytes left is damage."""
        history, self.history = self.history, None  # a top-level history array's, not its items'
        items = schema["items"] if kind == "array" else schema["values"]
        if self.min_size(items, set()) == 0:
            raise Unsupported("items of no size")
        out, count, item = self.fresh("a"), self.fresh("n"), self.fresh("x")
        stored = self.stored_item_function(items, history[1]) if history else None
        inner = indent + "        "
        lines = [f"{indent}{out} = {'[]' if kind == 'array' else '{}'}",
                 f"{indent}{count}, p = read_long(d, p)",
                 f"{indent}while {count}:",
                 f"{indent}    if {count} < 0:",
                 f"{indent}        {count} = -{count}",
                 f"{indent}        _, p = read_long(d, p)",
                 f"{indent}    if {count} > len(d) - p:",
                 f"{indent}        raise CorruptRecord('a block of ' + str({count}) + ' items in fewer bytes')",
                 f"{indent}    for _ in range({count}):"]
        if kind == "map":
            key = self.fresh("k")
            lines += self.read("string", key, inner, check_text=False)
            lines += self.read(items, item, inner)
            lines.append(f"{inner}{out}[{key}] = {item}")
        elif stored is not None:
            known = self.fresh("known")
            lines.insert(0, f"{indent}{known} = known.get({history[0]!r}) if known else None")
            lines += [f"{inner}if {known}:",
                      f"{inner}    {item}, p = {stored}(d, p, {known})",
                      f"{inner}    if {item} is not SKIPPED:",
                      f"{inner}        {out}.append({item})",
                      f"{inner}else:",
                      *self.read(items, item, inner + "    "),
                      f"{inner}    {out}.append({item})"]
        else:
            lines += self.read(items, item, inner)
            lines.append(f"{inner}{out}.append({item})")
        lines += [f"{indent}    {count}, p = read_long(d, p)", f"{indent}{target} = {out}"]
        return lines

    def skip(self, schema: Any, indent: str) -> list[str]:
        """Statements that move ``p`` past one value of ``schema`` without building it. Strings
        are not checked: a skipped entry is one the store holds, checked when it came first."""
        schema = self.resolve(schema)
        if isinstance(schema, dict) and "logicalType" in schema:
            schema = self.resolve({key: value for key, value in schema.items() if key != "logicalType"})
        if isinstance(schema, list):
            lines = [f"{indent}b = d[p]", f"{indent}p += 1"]
            for index, branch in enumerate(schema):
                lines.append(f"{indent}{'if' if index == 0 else 'elif'} b == {2 * index}:")
                lines += self.skip(branch, indent + "    ") or [f"{indent}    pass"]
            return lines + [f"{indent}else:", f"{indent}    raise bad_index('union', b)"]
        kind = schema if isinstance(schema, str) else schema.get("type")
        if kind == "null":
            return []
        if kind == "boolean":
            return [f"{indent}p += 1"]
        if kind in _INTEGER:
            return [f"{indent}while d[p] > 127:", f"{indent}    p += 1", f"{indent}p += 1"]
        if kind in _FIXED_SIZE:
            return [f"{indent}p += {_FIXED_SIZE[kind]}"]
        if kind in ("string", "bytes"):
            return [f"{indent}n, p = read_long(d, p)",
                    f"{indent}if n < 0 or p + n > len(d):",
                    f"{indent}    raise CorruptRecord('{kind} of ' + str(n) + ' bytes past the end')",
                    f"{indent}p += n"]
        if kind == "fixed":
            return [f"{indent}p += {int(schema['size'])}"]
        if kind == "enum":
            return [f"{indent}_, p = read_long(d, p)"]
        if kind in ("record", "error"):
            return [f"{indent}p = {self.skip_function(schema)}(d, p)"]
        if kind in ("array", "map"):
            count, size = self.fresh("n"), self.fresh("size")
            item = self.skip("string", indent + "            ") if kind == "map" else []
            item += self.skip(schema["items"] if kind == "array" else schema["values"], indent + "            ")
            return [f"{indent}{count}, p = read_long(d, p)",
                    f"{indent}while {count}:",
                    f"{indent}    if {count} < 0:  # a block with its size in bytes: jumped over",
                    f"{indent}        {size}, p = read_long(d, p)",
                    f"{indent}        if {size} < 0 or p + {size} > len(d):",
                    f"{indent}            raise CorruptRecord('a block of ' + str({size}) + ' bytes past the end')",
                    f"{indent}        p += {size}",
                    f"{indent}    else:",
                    f"{indent}        for _ in range({count}):",
                    *(item or [f"{indent}            pass"]),
                    f"{indent}    {count}, p = read_long(d, p)"]
        raise Unsupported(f"type {kind!r}")

    def skip_function(self, schema: dict[str, Any]) -> str:
        """The function moving past one record of ``schema``: (d, p) -> p."""
        name = schema["name"]
        if name in self.skippers:
            return self.skippers[name]
        function = self.skippers[name] = self.fresh("skip_")
        body = [line for field in schema["fields"] for line in self.skip(field["type"], "    ")]
        self.lines += [f"def {function}(d, p):", *body, "    return p", ""]
        return function

    def min_size(self, schema: Any, seen: set[str]) -> int:
        """The fewest bytes a value of ``schema`` takes (records counted once on a cycle)."""
        schema = self.resolve(schema)
        if isinstance(schema, list):
            return 1
        kind = schema if isinstance(schema, str) else schema.get("type")
        if kind == "null":
            return 0
        if kind in _FIXED_SIZE:
            return _FIXED_SIZE[kind]
        if kind == "fixed":
            return int(schema["size"])
        if kind in ("record", "error"):
            if schema["name"] in seen:
                return 0
            seen = seen | {schema["name"]}
            return sum(self.min_size(field["type"], seen) for field in schema["fields"])
        return 1
