"""Generate `metadata_tables.py`: the TFLite metadata schemas' facts, as plain data.

Run `python -m modelkit.formats.tflite.metadata_gen [--metadata PATH] [--conversion PATH]`
after a schema change. The facts come from the flatc-generated Python of two
official schemas, never from hand-written numbers:

- `metadata_schema.fbs` (TFLite Support / MediaPipe: `ModelMetadata`, file
  identifier `M001`), from `metadata_schema_py_generated.py` as shipped in the
  `mediapipe` (`mediapipe/tasks/metadata/`) or `tflite-support`
  (`tensorflow_lite_support/metadata/`) wheels;
- `conversion_metadata.fbs` (the converter's `CONVERSION_METADATA`), from
  `conversion_metadata_schema_py_generated.py` in the TensorFlow wheel
  (`tensorflow/lite/python/`).

Each module is loaded by path (its package's `__init__` is never run, so
neither TensorFlow nor MediaPipe is imported). Field slots, scalar types and
enums are read as `_gen_schema_tables` reads the model schema; in addition
this records which table a table-valued field holds (the class its accessor
instantiates) and which union a union field holds (the `<Union>Creator` its
object-API unpacker calls).
"""

from __future__ import annotations

import argparse
import importlib.util
import sys
from importlib.metadata import PackageNotFoundError, version
from pathlib import Path
from types import ModuleType

from modelkit.formats.tflite._gen_schema_tables import (_literal, _table_names, collect,
                                                        enum_lines, table_lines)

OUTPUT = Path(__file__).with_name("metadata_tables.py")

# (distribution, top-level package, path of the generated module inside it)
METADATA_SOURCES = (
    ("mediapipe", "mediapipe", "tasks/metadata/metadata_schema_py_generated.py"),
    ("tflite-support", "tensorflow_lite_support", "metadata/metadata_schema_py_generated.py"),
)
CONVERSION_SOURCES = (
    ("tensorflow-cpu", "tensorflow", "lite/python/conversion_metadata_schema_py_generated.py"),
    ("tensorflow", "tensorflow", "lite/python/conversion_metadata_schema_py_generated.py"),
)


def _installed(sources: tuple) -> tuple[Path, str] | None:
    """(path, "<dist> <version>") of the first installed generated module, else None."""
    for dist, package, rel in sources:
        spec = importlib.util.find_spec(package)  # NOTE: finds, does not import, the package
        if spec is None or not spec.submodule_search_locations:
            continue
        path = Path(next(iter(spec.submodule_search_locations))) / rel
        if path.is_file():
            try:
                return path, f"{dist} {version(dist)}"
            except PackageNotFoundError:
                return path, dist
    return None


def load_module(path: Path, name: str) -> ModuleType:
    """Import a generated schema module from a file path."""
    spec = importlib.util.spec_from_file_location(name, path)
    if spec is None or spec.loader is None:
        raise SystemExit(f"{path}: not a Python module")
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


def targets(mod: ModuleType, tables: dict[str, tuple]) -> dict[str, dict[str, str]]:
    """Table -> field -> the table ("ImageSize") or union ("union:ContentProperties") it holds."""
    names = set(_table_names(mod))
    unions = {n for n, obj in vars(mod).items() if isinstance(obj, type) and
              callable(getattr(mod, n + "Creator", None))}
    out: dict[str, dict[str, str]] = {}
    for table, fields in tables.items():
        cls = getattr(mod, table)
        for name, _, fmt, _ in fields:
            if fmt not in ("table", "[table"):
                continue
            camel = "".join(p[:1].upper() + p[1:] for p in name.split("_"))
            code = getattr(cls, camel).__code__
            if "Union" in code.co_names:
                unpack = getattr(getattr(mod, table + "T"), "_UnPack").__code__
                held = [u for u in unions if u + "Creator" in unpack.co_names]
                if len(held) != 1:
                    raise SystemExit(f"{table}.{name}: cannot tell which union it holds")
                out.setdefault(table, {})[name] = "union:" + held[0]
                continue
            held = [n for n in code.co_names if n in names]
            if len(held) != 1:
                raise SystemExit(f"{table}.{name}: cannot tell which table it holds")
            out.setdefault(table, {})[name] = held[0]
    return out


def identifier(mod: ModuleType, root: str) -> str | None:
    """The schema's file identifier (`M001`), from the root table's identifier check."""
    check = getattr(getattr(mod, root), root + "BufferHasIdentifier", None)
    if check is None:
        return None
    for const in check.__code__.co_consts:
        if isinstance(const, bytes) and len(const) == 4:
            return const.decode("ascii")
    return None


def _section(prefix: str, mod: ModuleType, root: str) -> list[str]:
    tables, enums = collect(mod)
    lines = [f"{prefix}_ROOT = {_literal(root)}",
             f"{prefix}_IDENTIFIER = {_literal(identifier(mod, root))}", "",
             f"{prefix}_TABLES: dict[str, tuple[tuple[str, int, str, object], ...]] = {{"]
    lines += table_lines(tables)
    lines += ["}", "", f"{prefix}_ENUMS: dict[str, dict[int, str]] = {{"]
    lines += enum_lines(enums)
    lines += ["}", "", f"{prefix}_TARGETS: dict[str, dict[str, str]] = {{"]
    for table, fields in sorted(targets(mod, tables).items()):
        lines.append(f"    {_literal(table)}: {{")
        lines.extend(f"        {_literal(f)}: {_literal(t)}," for f, t in sorted(fields.items()))
        lines.append("    },")
    lines += ["}", ""]
    return lines


def render(meta: ModuleType, meta_source: str, conv: ModuleType, conv_source: str) -> str:
    """The text of `metadata_tables.py`."""
    lines = [
        "# Generated by",
        "#     python -m modelkit.formats.tflite.metadata_gen",
        f"# from {meta_source}'s metadata_schema_py_generated and",
        f"# {conv_source}'s conversion_metadata_schema_py_generated. Do not edit.",
        '"""TFLite metadata schemas (ModelMetadata, ConversionMetadata) as plain data."""',
        "",
        "# <X>_TABLES: table -> fields in slot order (snake_case name, vtable offset, format,",
        "# default), formats as in _schema_tables. <X>_TARGETS: table -> field -> the table a",
        "# table-valued field holds, or \"union:<Union>\" (its type sits in <field>_type).",
        "",
    ]
    lines += _section("METADATA", meta, "ModelMetadata")
    lines += _section("CONVERSION", conv, "ConversionMetadata")
    return "\n".join(lines).rstrip("\n") + "\n"


def main(argv: list[str] | None = None) -> None:
    """Write `metadata_tables.py` from the installed (or given) generated modules."""
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--metadata", type=Path, help="metadata_schema_py_generated.py")
    ap.add_argument("--conversion", type=Path,
                    help="conversion_metadata_schema_py_generated.py")
    ap.add_argument("--source", default=None,
                    help="name the --metadata module's origin in the header (mediapipe 0.10.14)")
    args = ap.parse_args(argv)
    found = []
    for given, sources, what in ((args.metadata, METADATA_SOURCES, "--metadata"),
                                 (args.conversion, CONVERSION_SOURCES, "--conversion")):
        if given is not None:
            found.append((given, args.source if what == "--metadata" and args.source
                          else given.name))
            continue
        hit = _installed(sources)
        if hit is None:
            raise SystemExit(f"no installed generated schema module; pass {what} PATH")
        found.append(hit)
    (meta_path, meta_src), (conv_path, conv_src) = found
    meta = load_module(meta_path, "_metadata_schema_generated")
    conv = load_module(conv_path, "_conversion_metadata_schema_generated")
    OUTPUT.write_text(render(meta, meta_src, conv, conv_src))
    print(f"wrote {OUTPUT}", file=sys.stderr)


if __name__ == "__main__":
    main()
