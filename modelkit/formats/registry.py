"""Format detection and dispatch: explicit name, then content sniffing, then extension.

Adapters are imported only when needed, so reading a TFLite file never imports
protobuf modules, h5py or TensorFlow.
"""

from __future__ import annotations

import importlib
import os
from pathlib import Path
from types import ModuleType

from modelkit.errors import ModelReadError, UnknownFormatError, UsageError
from modelkit.ir import Model

# Sniffing order: the most specific signatures first; GraphDef (protobuf has no
# magic number) last.
FORMATS: dict[str, str] = {
    "tflite": "modelkit.formats.tflite",
    "savedmodel": "modelkit.formats.savedmodel",
    "checkpoint": "modelkit.formats.checkpoint",
    "keras_h5": "modelkit.formats.keras_h5",
    "keras_zip": "modelkit.formats.keras_zip",
    "graphdef": "modelkit.formats.graphdef",
}

EXTENSIONS: dict[str, str] = {
    ".tflite": "tflite", ".lite": "tflite",
    ".pb": "graphdef", ".pbtxt": "graphdef", ".meta": "checkpoint", ".index": "checkpoint",
    ".h5": "keras_h5", ".hdf5": "keras_h5", ".keras": "keras_zip",
}

DESCRIPTIONS: dict[str, str] = {
    "tflite": "TFLite flatbuffer (.tflite)",
    "savedmodel": "SavedModel folder (saved_model.pb + variables/)",
    "checkpoint": "TF checkpoint (.meta/.index/.data-*, or a folder with a 'checkpoint' file)",
    "keras_h5": "Keras HDF5 (.h5/.hdf5)",
    "keras_zip": "Keras 3 zip (.keras)",
    "graphdef": "GraphDef / frozen graph (.pb, .pbtxt)",
}


def adapter(name: str) -> ModuleType:
    """The adapter module of format `name`.

    Raises:
        UsageError: unknown format name.
    """
    try:
        return importlib.import_module(FORMATS[name])
    except KeyError:
        raise UsageError(f"unknown format {name!r}; known formats: {', '.join(FORMATS)}") \
            from None


def _known_formats() -> str:
    return "; ".join(DESCRIPTIONS.values())


def detect_format(path: str | os.PathLike, explicit: str | None = None) -> str:
    """Name the format of `path`.

    Raises:
        ModelReadError: the path does not exist or cannot be read.
        UnknownFormatError: nothing recognizes it.
    """
    if explicit:
        adapter(explicit)
        return explicit
    p = Path(path)
    if not p.exists():
        # NOTE: a TF checkpoint is named by its prefix (model.ckpt), which is no file.
        if adapter("checkpoint").sniff(p):
            return "checkpoint"
        raise ModelReadError("no such file or folder", str(p))
    if p.is_file():
        try:
            size = p.stat().st_size
            with open(p, "rb"):
                pass
        except OSError as e:
            raise ModelReadError(f"cannot read: {e.strerror}", str(p)) from None
        if size == 0:
            raise ModelReadError("the file is empty", str(p))
    for name in FORMATS:
        if adapter(name).sniff(p):
            return name
    if p.is_dir():
        raise UnknownFormatError(
            f"folder holds no model this tool knows (expected one of: {_known_formats()})",
            str(p))
    by_ext = EXTENSIONS.get(p.suffix.lower())
    if by_ext is not None:
        return by_ext
    raise UnknownFormatError(f"unknown model format (known: {_known_formats()})", str(p))


def load(path: str | os.PathLike, format: str | None = None, **options) -> Model:
    """Load any supported model into the IR.

    Raises:
        ModelReadError: the model could not be read.
    """
    name = detect_format(path, format)
    try:
        return adapter(name).load(Path(path), **options)
    except ModelReadError as e:
        if e.path is None:  # NOTE: raised deep in a reader that does not know the file.
            e.path = str(path)
        raise


def save(model: Model, path: str | os.PathLike, format: str | None = None, **options) -> None:
    """Write `model` in `format` (default: its own format).

    Raises:
        UsageError: the format cannot be written.
    """
    name = format or model.format
    mod = adapter(name)
    if not hasattr(mod, "save"):
        raise UsageError(f"writing {DESCRIPTIONS.get(name, name)} is not supported")
    mod.save(model, Path(path), **options)
