"""Bounds-checked access to a TFLite flatbuffer.

The flatbuffers Python library trusts every offset and length it reads, so a
corrupt file can raise anything, loop for billions of steps or read garbage.
`Table` checks each offset, vtable and vector against the buffer size before
use and raises `Corrupt` instead. Field slots and scalar types are not written
by hand: `layout()` takes them from `_schema_tables`, generated from the LiteRT
schema module by `_gen_schema_tables`, so reading needs neither flatbuffers
nor the schema module.
"""

from __future__ import annotations

import struct
from dataclasses import dataclass
from functools import cache
from types import ModuleType

_U16 = struct.Struct("<H").unpack_from
_U32 = struct.Struct("<I").unpack_from
_I32 = struct.Struct("<i").unpack_from

# Struct formats of the schema's scalar types, and their unpackers.
SCALAR_FORMATS = frozenset("?bBhHiIqQfd")
_STRUCTS: dict[str, struct.Struct] = {f: struct.Struct("<" + f) for f in SCALAR_FORMATS}


class Corrupt(Exception):
    """The flatbuffer is malformed; the message says where."""


@dataclass(frozen=True)
class Field:
    """One field of a table.

    Attributes:
        name: snake_case field name.
        vt_off: offset of the field's entry in the vtable.
        fmt: struct format of a scalar; for an offset field "string" or "table",
            or "[" + element format for a vector (`"[i"`, `"[table"`).
        default: the schema default of a scalar; None for offset fields.
    """

    name: str
    vt_off: int
    fmt: str
    default: object

    @property
    def is_scalar(self) -> bool:
        return self.fmt in SCALAR_FORMATS


def schema() -> ModuleType:
    """The generated TFLite schema module (imported on first use; the writer packs with it)."""
    from ai_edge_litert import schema_py_generated
    return schema_py_generated


def snake(camel: str) -> str:
    """`FusedActivationFunction` -> `fused_activation_function`."""
    out = []
    for i, ch in enumerate(camel):
        if ch.isupper() and i:
            out.append("_")
        out.append(ch.lower())
    return "".join(out)


@cache
def layout(table: str) -> dict[str, Field]:
    """Fields of schema table `table`, keyed by snake_case name, in slot order."""
    # NOTE: imported here so the generator of the tables runs without them.
    from modelkit.formats.tflite._schema_tables import TABLES
    return {name: Field(name, vt_off, fmt, default)
            for name, vt_off, fmt, default in TABLES.get(table, ())}


class Table:
    """A verified table at `pos`: its vtable and inline fields lie inside the buffer."""

    __slots__ = ("buf", "size", "pos", "vt", "vt_len", "t_len", "fields")

    def __init__(self, buf, size: int, pos: int, fields: dict[str, Field], what: str) -> None:
        if pos < 0 or pos + 4 > size:
            raise Corrupt(f"{what} table offset {pos} is outside the file")
        vt = pos - _I32(buf, pos)[0]
        if vt < 0 or vt + 4 > size:
            raise Corrupt(f"{what} table has a vtable offset outside the file")
        vt_len, t_len = _U16(buf, vt)[0], _U16(buf, vt + 2)[0]
        if vt_len < 4 or vt_len & 1 or vt + vt_len > size or t_len < 4 or pos + t_len > size:
            raise Corrupt(f"{what} table has an invalid vtable")
        self.buf, self.size, self.pos, self.vt = buf, size, pos, vt
        self.vt_len, self.t_len, self.fields = vt_len, t_len, fields

    def _slot(self, f: Field, width: int) -> int:
        """Offset of field `f` inside the table, 0 when absent."""
        if f.vt_off + 2 > self.vt_len:
            return 0
        o = _U16(self.buf, self.vt + f.vt_off)[0]
        if o and o + width > self.t_len:
            raise Corrupt(f"field {f.name} lies outside its table")
        return o

    def has(self, name: str) -> bool:
        return self._slot(self.fields[name], 0) != 0

    def scalar(self, name: str):
        """A scalar field, or its default when absent."""
        f = self.fields[name]
        st = _STRUCTS[f.fmt]
        o = self._slot(f, st.size)
        if not o:
            return f.default
        return st.unpack_from(self.buf, self.pos + o)[0]

    def _target(self, name: str) -> int | None:
        """Absolute position an offset field points to, or None when absent."""
        o = self._slot(self.fields[name], 4)
        if not o:
            return None
        p = self.pos + o
        t = p + _U32(self.buf, p)[0]
        if t + 4 > self.size:
            raise Corrupt(f"field {name} points outside the file")
        return t

    def table(self, name: str, fields: dict[str, Field], what: str) -> Table | None:
        t = self._target(name)
        return None if t is None else Table(self.buf, self.size, t, fields, what)

    def vector(self, name: str, elem_size: int) -> tuple[int, int]:
        """(start, count) of a vector field; (0, 0) when absent."""
        t = self._target(name)
        if t is None:
            return 0, 0
        n = _U32(self.buf, t)[0]
        if t + 4 + n * elem_size > self.size:
            raise Corrupt(f"vector {name} claims {n} elements, more than the file holds")
        return t + 4, n

    def numbers(self, name: str, fmt: str) -> tuple | None:
        """A vector of scalars as a tuple, None when absent."""
        if not self.has(name):
            return None
        start, n = self.vector(name, _STRUCTS[fmt].size)
        return struct.unpack_from(f"<{n}{fmt}", self.buf, start)

    def string(self, name: str) -> str | None:
        start, n = self.vector(name, 1)
        if not start:
            return None
        return bytes(self.buf[start:start + n]).decode("utf-8", "replace")

    def tables(self, name: str, fields: dict[str, Field], what: str) -> list[Table]:
        """A vector of tables."""
        start, n = self.vector(name, 4)
        buf, size = self.buf, self.size
        out = []
        for i in range(n):
            p = start + 4 * i
            out.append(Table(buf, size, p + _U32(buf, p)[0], fields, what))
        return out

    def strings(self, name: str) -> list[str]:
        start, n = self.vector(name, 4)
        out = []
        for i in range(n):
            p = start + 4 * i
            t = p + _U32(self.buf, p)[0]
            if t + 4 > self.size:
                raise Corrupt(f"string in {name} points outside the file")
            m = _U32(self.buf, t)[0]
            if t + 4 + m > self.size:
                raise Corrupt(f"string in {name} is longer than the file")
            out.append(bytes(self.buf[t + 4:t + 4 + m]).decode("utf-8", "replace"))
        return out


def root(buf, size: int, fields: dict[str, Field]) -> Table:
    """The root table of a flatbuffer."""
    if size < 8:
        raise Corrupt("too short for a flatbuffer")
    return Table(buf, size, _U32(buf, 0)[0], fields, "root")
