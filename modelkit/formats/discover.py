"""Finding the models under a folder, by the registry's own format detection.

A SavedModel folder is one model (its variables/ are not walked); the files of a
TF checkpoint (`.index`, `.meta`, `.data-*`, the `checkpoint` state file) are one
model, named by their prefix. Hidden files and folders are not walked.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

from modelkit.errors import ModelReadError, UnknownFormatError
from modelkit.formats.registry import EXTENSIONS, adapter, detect_format

# NOTE: protobuf has no magic number, and the GraphDef sniff accepts a file whose first
# byte is a GraphDef field tag: a Python file starting with `"""` is one (0x22, field 4).
# A walked folder takes GraphDefs by their extension only.
_GRAPHDEF_SUFFIXES = frozenset({".pb", ".pbtxt"})


@dataclass(frozen=True)
class Found:
    """One path met while walking a folder.

    Attributes:
        path: the model (a file, a SavedModel folder, a checkpoint prefix), or the file
            skipped.
        format: the detected format name; None for a skipped path.
        note: why the path was skipped ("" for a model).
    """

    path: Path
    format: str | None
    note: str = ""


def _classify(path: Path) -> Found:
    """A file met in a walk: a model (format name), or skipped with the reason."""
    suffix = path.suffix.lower()
    try:
        name = detect_format(path)
    except UnknownFormatError:
        return Found(path, None, "not a model")
    except ModelReadError as e:
        if suffix in EXTENSIONS:
            # NOTE: an empty or unreadable file named like a model is reported, not skipped.
            return Found(path, EXTENSIONS[suffix])
        return Found(path, None, f"not a model ({e.message})")
    if name == "graphdef" and suffix not in _GRAPHDEF_SUFFIXES:
        return Found(path, None, "not a model (a GraphDef needs a .pb or .pbtxt name "
                                 "when a folder is searched)")
    return Found(path, name)


def find_models(root: str | os.PathLike) -> Iterator[Found]:
    """Every model under folder `root`, and every file skipped.

    A folder's entries come in name order, before those of its subfolders.

    Args:
        root: a folder; the caller checks first whether the folder itself is a model.

    Yields:
        Found entries: models (`format` set) and skipped files (`note` set).
    """
    savedmodel = adapter("savedmodel")
    checkpoint = adapter("checkpoint")
    prefixes: set[Path] = set()
    for folder, dirs, files in os.walk(root):
        here = Path(folder)
        models = {d for d in dirs if not d.startswith(".") and savedmodel.sniff(here / d)}
        # NOTE: os.walk descends into what is left in `dirs`, after this folder's entries.
        dirs[:] = sorted(d for d in dirs if not d.startswith(".") and d not in models)
        for name in sorted([*models, *files]):
            if name in models:
                yield Found(here / name, "savedmodel")
                continue
            if name.startswith("."):
                continue
            found = _classify(here / name)
            if found.format == "checkpoint":
                prefix = checkpoint.resolve_prefix(found.path) or found.path
                if prefix in prefixes:
                    continue
                prefixes.add(prefix)
                found = Found(prefix, "checkpoint")
            yield found
