"""Generate `_schema_tables.py`: the TFLite schema facts the reader needs, as plain data.

Run `python -m modelkit.formats.tflite._gen_schema_tables` after upgrading
ai-edge-litert. The facts come from the generated schema module
(`ai_edge_litert.schema_py_generated`), never from hand-written numbers:

- Field slots and scalar types: each generated builder function
  (`TensorAddShape(builder, x)` calls `builder.PrependUOffsetTRelativeSlot(0, x, 0)`)
  is run against a recording builder.
- What an offset field points to (string, table, vector of what): the names
  the generated accessor method uses (`self._tab.String`, `Int32Flags`, ...).
- Enum names: the members of the generated enum classes.
"""

from __future__ import annotations

import json
import sys
from importlib.metadata import PackageNotFoundError, version
from pathlib import Path
from types import ModuleType

from modelkit.formats.tflite import _fb

OUTPUT = Path(__file__).with_name("_schema_tables.py")

# builder.Prepend<Kind>Slot -> struct format of the stored scalar ("offset" for
# a uoffset to a string, table or vector).
_SLOT_FORMATS = {
    "PrependBoolSlot": "?", "PrependInt8Slot": "b", "PrependUint8Slot": "B",
    "PrependInt16Slot": "h", "PrependUint16Slot": "H", "PrependInt32Slot": "i",
    "PrependUint32Slot": "I", "PrependInt64Slot": "q", "PrependUint64Slot": "Q",
    "PrependFloat32Slot": "f", "PrependFloat64Slot": "d",
    "PrependUOffsetTRelativeSlot": "offset",
}
# flatbuffers.number_types.<Name>Flags -> struct format (vector elements).
_FLAG_FORMATS = {
    "BoolFlags": "?", "Int8Flags": "b", "Uint8Flags": "B", "Int16Flags": "h",
    "Uint16Flags": "H", "Int32Flags": "i", "Uint32Flags": "I", "Int64Flags": "q",
    "Uint64Flags": "Q", "Float32Flags": "f", "Float64Flags": "d",
}


class _Recorder:
    """A stand-in builder that remembers the slot call a generated Add function makes."""

    call: tuple[str, int, object] | None = None

    def __getattr__(self, method: str):
        def record(slot, value, default):
            self.call = (method, slot, default)
        return record


def _table_names(mod: ModuleType) -> list[str]:
    """Names of the generated table classes (those with `GetRootAs`)."""
    return sorted(name for name, obj in vars(mod).items()
                  if isinstance(obj, type) and hasattr(obj, "GetRootAs"))


def _enum_names(mod: ModuleType, tables: list[str]) -> list[str]:
    """Names of the generated enum classes: classes holding only int members."""
    skip = set(tables) | {t + "T" for t in tables}
    out = []
    for name, obj in vars(mod).items():
        if not isinstance(obj, type) or name in skip:
            continue
        members = {k: v for k, v in vars(obj).items() if not k.startswith("_")}
        if members and all(isinstance(v, int) for v in members.values()):
            out.append(name)
    return sorted(out)


def _add_functions(mod: ModuleType, tables: list[str]) -> dict[str, list[str]]:
    """Generated `<Table>Add<Field>` function names, grouped by table name."""
    groups: dict[str, list[str]] = {t: [] for t in tables}
    for name, obj in vars(mod).items():
        if not callable(obj) or "Add" not in name:
            continue
        # NOTE: a table name may itself contain "Add" (AddOptions, AddNOptions).
        idx = name.find("Add", 1)
        while idx > 0:
            head = name[:idx]
            if head in groups and name[idx + 3:]:
                groups[head].append(name[idx + 3:])
                break
            idx = name.find("Add", idx + 1)
    return groups


def _offset_format(cls: type, camel: str) -> str:
    """What offset field `camel` of table class `cls` points to.

    Returns:
        "string" or "table"; for a vector "[" + its element: a struct format,
        "string" or "table" (`"[i"`, `"[table"`).
    """
    names = getattr(cls, camel).__code__.co_names
    elem = next((_FLAG_FORMATS[n] for n in names if n in _FLAG_FORMATS), None)
    if elem is None:
        elem = "string" if "String" in names else "table"
    return "[" + elem if hasattr(cls, camel + "Length") else elem


def _fields(mod: ModuleType, table: str, camels: list[str]) -> tuple[tuple, ...]:
    """(snake_case name, vtable offset, format, default) of each field, in slot order."""
    fields = []
    for camel in camels:
        rec = _Recorder()
        getattr(mod, f"{table}Add{camel}")(rec, 0)
        if rec.call is None or rec.call[0] not in _SLOT_FORMATS:
            continue
        method, slot, default = rec.call
        fmt = _SLOT_FORMATS[method]
        if fmt == "offset":
            fmt, default = _offset_format(getattr(mod, table), camel), None
        elif fmt == "?":
            default = bool(default)
        fields.append((_fb.snake(camel), 4 + 2 * slot, fmt, default))
    fields.sort(key=lambda f: f[1])
    return tuple(fields)


def collect(mod: ModuleType) -> tuple[dict[str, tuple[tuple, ...]], dict[str, dict[int, str]]]:
    """(TABLES, ENUMS) as `_schema_tables` holds them, read from schema module `mod`."""
    tables = _table_names(mod)
    adds = _add_functions(mod, tables)
    layouts = {t: _fields(mod, t, adds[t]) for t in tables}
    enums = {}
    for name in _enum_names(mod, tables):
        members = {v: k for k, v in vars(getattr(mod, name)).items() if not k.startswith("_")}
        enums[name] = dict(sorted(members.items()))
    return layouts, enums


def _source_version() -> str:
    """`ai-edge-litert <version>`, naming where the schema module came from."""
    try:
        return f"ai-edge-litert {version('ai-edge-litert')}"
    except PackageNotFoundError:
        return "ai-edge-litert"


def _literal(value) -> str:
    """Python source of a str, number, bool, None or tuple of them (strings double-quoted)."""
    if isinstance(value, str):
        return json.dumps(value)
    if isinstance(value, tuple):
        return "(" + ", ".join(_literal(v) for v in value) + ("," if len(value) == 1 else "") + ")"
    return repr(value)


def render(tables: dict, enums: dict, source: str) -> str:
    """The text of `_schema_tables.py`."""
    lines = [
        f"# Generated from {source}'s ai_edge_litert.schema_py_generated by",
        "#     python -m modelkit.formats.tflite._gen_schema_tables",
        "# Do not edit; regenerate after upgrading ai-edge-litert.",
        '"""TFLite schema facts as plain data; the reader needs no flatbuffers or numpy."""',
        "",
        "# Table -> fields in slot order: (snake_case name, vtable offset, format, default).",
        "# Format: a struct format for scalars; \"string\" or \"table\" for an offset to one;",
        "# \"[\" + element format for a vector (\"[i\", \"[table\").",
        "TABLES: dict[str, tuple[tuple[str, int, str, object], ...]] = {",
        *table_lines(tables),
        "}", "", "# Enum -> member number -> member name.",
        "ENUMS: dict[str, dict[int, str]] = {",
        *enum_lines(enums),
        "}",
    ]
    return "\n".join(lines) + "\n"


def table_lines(tables: dict) -> list[str]:
    """The entries of a generated `TABLES` dict literal, one field a line."""
    lines = []
    for name, fields in tables.items():
        if not fields:
            lines.append(f"    {_literal(name)}: (),")
            continue
        lines.append(f"    {_literal(name)}: (")
        lines.extend(f"        {_literal(f)}," for f in fields)
        lines.append("    ),")
    return lines


def enum_lines(enums: dict) -> list[str]:
    """The entries of a generated `ENUMS` dict literal, one member a line."""
    lines = []
    for name, members in enums.items():
        lines.append(f"    {_literal(name)}: {{")
        lines.extend(f"        {code!r}: {_literal(member)}," for code, member in members.items())
        lines.append("    },")
    return lines


def main() -> None:
    """Write `_schema_tables.py` from the installed schema module."""
    tables, enums = collect(_fb.schema())
    OUTPUT.write_text(render(tables, enums, _source_version()))
    print(f"wrote {OUTPUT} ({len(tables)} tables, {len(enums)} enums)", file=sys.stderr)


if __name__ == "__main__":
    main()
