"""TFLite model metadata, decoded: `TFLITE_METADATA`, `CONVERSION_METADATA`, associated files.

- `TFLITE_METADATA` holds a `ModelMetadata` flatbuffer (TFLite Support /
  MediaPipe `metadata_schema.fbs`, identifier `M001`): name, description,
  version, author, license, and per input / output tensor its content type,
  normalization (mean/std), value range and associated files (labels...).
- `CONVERSION_METADATA` holds a `ConversionMetadata` flatbuffer
  (`conversion_metadata.fbs`): the converter's environment and options.
- Associated files are stored in a zip archive appended to the model file (how
  the metadata writers of TFLite Support and MediaPipe ship `labels.txt`).

Both flatbuffers are read with the bounds-checked accessor of the model
reader (`_fb.Table`) over layouts generated from the official schemas
(`metadata_tables.py`, written by `metadata_gen`), and decoded generically
into plain data: snake_case keys as in the schema, enums as member names, a
union as `<field>_type` (member name) beside `<field>` (its table). Only the
fields a file records are present, as in flatc's JSON.

`attach()` is what the reader calls; `input_normalization()`,
`associated_file()` and `labels()` are for the commands.
"""

from __future__ import annotations

import struct
from functools import cache
from typing import TYPE_CHECKING

from modelkit.formats.tflite import _fb
from modelkit.formats.tflite import metadata_tables as T

if TYPE_CHECKING:
    from modelkit.ir import Model

TFLITE_METADATA = "TFLITE_METADATA"
CONVERSION_METADATA = "CONVERSION_METADATA"

# Scalar fields whose integers are members of a schema enum (the generated code stores
# them as plain integers): (table, field) -> enum. Vectors of enums decode element-wise.
ENUM_FIELDS: dict[tuple[str, str], str] = {
    ("AssociatedFile", "type"): "AssociatedFileType",
    ("ImageProperties", "color_space"): "ColorSpaceType",
    ("BoundingBoxProperties", "type"): "BoundingBoxType",
    ("BoundingBoxProperties", "coordinate_type"): "CoordinateType",
    ("ScoreCalibrationOptions", "score_transformation"): "ScoreTransformationType",
    ("Environment", "model_type"): "ModelType",
    ("ConversionOptions", "model_optimization_modes"): "ModelOptimizationMode",
}

# Associated file types whose content is one label per line.
LABEL_FILE_TYPES = frozenset({"TENSOR_AXIS_LABELS", "TENSOR_VALUE_LABELS"})
# Label files are read at load time up to this size; bigger ones only on request.
_LABELS_READ_LIMIT = 1 << 20
# End of central directory record of a zip archive, and how far from the end it can be.
_EOCD = b"PK\x05\x06"
_EOCD_SEARCH = 22 + 0xFFFF


class _Schema:
    """One generated schema: its tables as `_fb.Field` layouts, enums and targets."""

    def __init__(self, tables: dict, enums: dict, targets: dict, root: str,
                 identifier: str | None) -> None:
        self.layouts = {name: {f[0]: _fb.Field(*f) for f in fields}
                        for name, fields in tables.items()}
        self.enums, self.targets = enums, targets
        self.root, self.identifier = root, identifier


@cache
def _schema(which: str) -> _Schema:
    if which == "metadata":
        return _Schema(T.METADATA_TABLES, T.METADATA_ENUMS, T.METADATA_TARGETS,
                       T.METADATA_ROOT, T.METADATA_IDENTIFIER)
    return _Schema(T.CONVERSION_TABLES, T.CONVERSION_ENUMS, T.CONVERSION_TARGETS,
                   T.CONVERSION_ROOT, T.CONVERSION_IDENTIFIER)


def _enum_name(schema: _Schema, enum: str, code: int) -> str:
    name = schema.enums.get(enum, {}).get(code)
    return name if name is not None else f"{enum} {code}"


def _table(schema: _Schema, tab: _fb.Table, name: str, depth: int = 0) -> dict:
    """The fields `tab` (a table of type `name`) records, as plain data."""
    if depth > 32:
        raise _fb.Corrupt(f"{name} tables nest deeper than the schema allows")
    targets = schema.targets.get(name, {})
    unions = {f for f, t in targets.items() if t.startswith("union:")}
    out: dict = {}
    for fname, f in tab.fields.items():
        if not tab.has(fname):
            continue
        enum = ENUM_FIELDS.get((name, fname))
        if f.is_scalar:
            value = tab.scalar(fname)
            if fname.endswith("_type") and fname[:-5] in unions:
                value = _enum_name(schema, targets[fname[:-5]][6:], value)
            elif enum is not None:
                value = _enum_name(schema, enum, value)
            out[fname] = value
        elif f.fmt == "string":
            out[fname] = tab.string(fname)
        elif f.fmt == "[string":
            out[fname] = tab.strings(fname)
        elif f.fmt == "[B" and fname == "data":
            start, n = tab.vector(fname, 1)
            out[fname] = {"bytes": n}
        elif f.fmt.startswith("[") and f.fmt[1:] in _fb.SCALAR_FORMATS:
            values = list(tab.numbers(fname, f.fmt[1:]) or ())
            if enum is not None:
                values = [_enum_name(schema, enum, v) for v in values]
            out[fname] = values
        elif fname in unions:
            union = targets[fname][6:]
            kind = schema.enums.get(union, {}).get(tab.scalar(fname + "_type"))
            layout = schema.layouts.get(kind or "")
            if layout is None:
                out[fname] = None  # NONE, or a member newer than the schema
                continue
            sub = tab.table(fname, layout, kind)
            out[fname] = None if sub is None else _table(schema, sub, kind, depth + 1)
        elif f.fmt in ("table", "[table"):
            held = targets.get(fname)
            if held is None:
                continue
            layout = schema.layouts[held]
            if f.fmt == "table":
                sub = tab.table(fname, layout, held)
                out[fname] = None if sub is None else _table(schema, sub, held, depth + 1)
            else:
                out[fname] = [_table(schema, t, held, depth + 1)
                              for t in tab.tables(fname, layout, held)]
    return out


def _decode(which: str, data: bytes | memoryview) -> dict:
    schema = _schema(which)
    buf = bytes(data)
    if schema.identifier and (len(buf) < 8 or buf[4:8] != schema.identifier.encode()):
        raise _fb.Corrupt(f"no {schema.identifier} identifier")
    root = _fb.root(buf, len(buf), schema.layouts[schema.root])
    return _table(schema, root, schema.root)


def decode_model_metadata(data: bytes | memoryview) -> dict:
    """A `ModelMetadata` flatbuffer (the `TFLITE_METADATA` buffer) as plain data.

    Raises:
        _fb.Corrupt: the buffer is not a valid ModelMetadata flatbuffer.
    """
    return _decode("metadata", data)


def decode_conversion_metadata(data: bytes | memoryview) -> dict:
    """A `ConversionMetadata` flatbuffer (the `CONVERSION_METADATA` buffer) as plain data.

    Raises:
        _fb.Corrupt: the buffer is not a valid ConversionMetadata flatbuffer.
    """
    return _decode("conversion", data)


# -- associated files in an appended zip --------------------------------------------


def _has_zip_tail(buf, size: int) -> bool:
    """True when the end of the file holds a zip end-of-central-directory record."""
    start = max(0, size - _EOCD_SEARCH)
    return bytes(buf[start:size]).rfind(_EOCD) >= 0


def zip_members(path: str) -> list[dict]:
    """Name and size of each member of the zip appended to `path` (none when there is none).

    Raises:
        ValueError: the file ends in a zip directory that cannot be read.
    """
    import zipfile

    try:
        with zipfile.ZipFile(path) as z:
            return [{"name": i.filename, "size": i.file_size,
                     "compressed_size": i.compress_size} for i in z.infolist()
                    if not i.is_dir()]
    except (zipfile.BadZipFile, OSError, EOFError, struct.error) as e:
        raise ValueError(f"the zip of associated files is unreadable: {e}") from None


def _read_member(path: str, name: str, limit: int | None = None) -> bytes:
    """Bytes of zip member `name` of the archive appended to `path`.

    Raises:
        KeyError: no such member.
        ValueError: the archive or the member is unreadable, or bigger than `limit`.
    """
    import zipfile
    import zlib

    try:
        with zipfile.ZipFile(path) as z:
            info = z.getinfo(name)
            if limit is not None and info.file_size > limit:
                raise ValueError(f"{name} holds {info.file_size} bytes, more than {limit}")
            return z.read(info)
    except (zipfile.BadZipFile, OSError, EOFError, struct.error, zlib.error) as e:
        raise ValueError(f"cannot read {name} from the zip of associated files: {e}") from None


def _label_lines(raw: bytes) -> list[str]:
    return [line.strip() for line in raw.decode("utf-8", "replace").splitlines()
            if line.strip()]


def _declared_files(md: dict) -> list[dict]:
    """Every AssociatedFile the ModelMetadata declares, model-level, subgraph and tensor."""
    found: list[dict] = list(md.get("associated_files", ()))
    for sg in md.get("subgraph_metadata", ()):
        found += sg.get("associated_files", ())
        for key in ("input_tensor_metadata", "output_tensor_metadata"):
            for t in sg.get(key, ()):
                found += t.get("associated_files", ())
    return found


def attach(metadata: dict, buf, size: int, path: str) -> None:
    """Decode the metadata buffers of a loaded model into `metadata` (the Model's dict).

    Adds `tflite_metadata` and `conversion_metadata` (plain data; `{"error": text}`
    when the buffer is corrupt, since the runtime ignores metadata and the model
    itself is fine), and `associated_files`: the zip members appended to the file
    (`name`, `size`, `compressed_size`, `type` and `description` from the metadata
    when it declares them, `labels` for label files).
    """
    entries = metadata.get("metadata", {})
    for key, target, decode in ((TFLITE_METADATA, "tflite_metadata", decode_model_metadata),
                                (CONVERSION_METADATA, "conversion_metadata",
                                 decode_conversion_metadata)):
        raw = entries.get(key)
        if isinstance(raw, (bytes, bytearray, memoryview)):
            try:
                metadata[target] = decode(raw)
            except _fb.Corrupt as e:
                metadata[target] = {"error": f"{key} is not a valid flatbuffer: {e}"}
    if not _has_zip_tail(buf, size):
        return
    try:
        members = zip_members(path)
    except ValueError as e:
        metadata["associated_files_error"] = str(e)
        return
    declared = {f.get("name"): f for f in
                _declared_files(metadata.get("tflite_metadata") or {})}
    for m in members:
        decl = declared.get(m["name"])
        if decl is not None:
            for k in ("type", "description", "locale"):
                if k in decl:
                    m[k] = decl[k]
            if decl.get("type") in LABEL_FILE_TYPES and m["size"] <= _LABELS_READ_LIMIT:
                try:
                    m["labels"] = _label_lines(_read_member(path, m["name"],
                                                            _LABELS_READ_LIMIT))
                except (KeyError, ValueError) as e:
                    m["error"] = str(e)
    metadata["associated_files"] = members


# -- for the commands ----------------------------------------------------------------


def associated_file(model: Model, name: str) -> bytes:
    """Bytes of associated file `name` stored in the zip appended to the model file.

    Raises:
        KeyError: the model has no such associated file.
        ValueError: the zip or the member cannot be read.
    """
    if not any(f["name"] == name for f in model.metadata.get("associated_files", ())):
        raise KeyError(name)
    return _read_member(str(model.path), name)


def labels(model: Model, name: str | None = None) -> list[str]:
    """Labels, one per line, of associated file `name` (default: the first label file).

    Raises:
        KeyError: no such file, or no label file when `name` is None.
        ValueError: the zip or the member cannot be read.
    """
    files = model.metadata.get("associated_files", ())
    if name is None:
        typed = [f for f in files if f.get("type") in LABEL_FILE_TYPES]
        if not typed:
            raise KeyError("no label file")
        name = typed[0]["name"]
    return _label_lines(associated_file(model, name))


def input_normalization(model: Model) -> dict[str, dict[str, list[float]]]:
    """Per input tensor name, the mean/std the metadata says to normalize with.

    The runner feeds `(x - mean) / std` (per channel when the lists are longer than
    one). Tensor metadata is in the order of the subgraph's inputs (as the schema
    specifies); inputs without NormalizationOptions are left out.

    Returns:
        {input tensor name: {"mean": [...], "std": [...]}}; empty without metadata.
    """
    md = model.metadata.get("tflite_metadata") or {}
    out: dict[str, dict[str, list[float]]] = {}
    for gi, sg in enumerate(md.get("subgraph_metadata", ())):
        if gi >= len(model.graphs):
            break
        inputs = model.graphs[gi].inputs
        for value, tm in zip(inputs, sg.get("input_tensor_metadata", ())):
            for unit in tm.get("process_units", ()):
                opts = unit.get("options") or {}
                if unit.get("options_type") == "NormalizationOptions" and "mean" in opts:
                    out[value.name] = {"mean": [float(x) for x in opts["mean"]],
                                       "std": [float(x) for x in opts.get("std", [1.0])]}
    return out
