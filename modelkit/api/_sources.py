"""What the API takes turned into what the library takes: a path or a loaded Model;
a data file or arrays; quiet progress by default."""

from __future__ import annotations

import os
import tempfile
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Any, Union

from modelkit.errors import ModelkitError, UsageError

if TYPE_CHECKING:
    from modelkit.convert.progress import Progress
    from modelkit.ir import Model

# What is reported in place of a file for a model or arrays given in memory.
IN_MEMORY = "<memory>"
ARRAYS = "<arrays>"
# Formats whose in-memory Model is written to a temporary file to be run or converted
# (so edits made in memory count); the others are run from their own files.
_WRITABLE = {"tflite": ".tflite", "graphdef": ".pb"}

ModelLike = Union[str, "os.PathLike[str]", "Model"]


def quiet(progress: Progress | None, given: tuple = ()) -> Progress:
    """`progress`, or one that prints no stages (warnings and notes still go to stderr);
    lines that name a temporary file name what the caller gave instead.

    Args:
        given: (file used, what the caller gave) pairs: a file made for arrays or an
            in-memory Model is said as `<arrays>` or the Model's path.
    """
    from modelkit.convert.progress import Progress

    progress = progress if progress is not None else Progress(quiet=True)
    names = {str(path): display_name(original) or "" for path, original in given
             if path is not None and original is not None and not is_path(original)}
    if not names:
        return progress
    from modelkit.api._renamed import Renamed

    return Renamed(progress, names)


def is_model(obj: Any) -> bool:
    from modelkit.ir import Model

    return isinstance(obj, Model)


def is_path(obj: Any) -> bool:
    return isinstance(obj, (str, os.PathLike))


def check_dst(dst: str | os.PathLike, model: ModelLike, force: bool) -> None:
    """Refuse `dst` before anything runs: an existing file without `force`, or the file
    `model` is (or a Model was read from).

    Raises:
        UsageError, OutputExistsError: as fileio.check_output.
    """
    from modelkit.fileio import check_output

    origin = (model.path if is_model(model) else model) or None  # type: ignore[union-attr]
    check_output(dst, force=force, sources=(origin,) if origin else ())


def load_model(model: ModelLike, fmt: str | None = None, what: str = "model") -> Model:
    """The Model itself, or the model read from a path.

    Raises:
        UsageError: neither a path nor a Model.
        ModelReadError: the file cannot be read.
    """
    if is_model(model):
        return model  # type: ignore[return-value]
    if is_path(model):
        from modelkit.formats.registry import load

        return load(model, fmt)  # type: ignore[arg-type]
    raise UsageError(f"{what}: give a path or a modelkit Model, not {type(model).__name__}")


def display_name(model: ModelLike | None) -> str | None:
    """How reports name a model or a data file: the path (as the CLI names it), a
    Model's source path, or what stands for something in memory."""
    if model is None:
        return None
    if is_model(model):
        return str(model.path) if model.path else IN_MEMORY  # type: ignore[union-attr]
    if is_path(model):
        return str(Path(model))  # type: ignore[arg-type]
    return ARRAYS


@contextmanager
def model_file(model: ModelLike | None, fmt: str | None = None,
               what: str = "model") -> Iterator[tuple[Path | None, str | None]]:
    """A file holding `model`, and its format (None: detect it).

    A path is used as is. A TFLite or GraphDef Model is written to a temporary file
    (what runs is what the Model holds, edits included); a Model of another format
    is read from its own file.

    Raises:
        UsageError: not a path nor a Model, or a Model of another format without a file.
    """
    if model is None:
        yield None, None
        return
    if is_path(model):
        yield Path(model), fmt  # type: ignore[arg-type]
        return
    if not is_model(model):
        raise UsageError(f"{what}: give a path or a modelkit Model, not {type(model).__name__}")
    suffix = _WRITABLE.get(model.format)  # type: ignore[union-attr]
    if suffix is None:
        if not model.path:  # type: ignore[union-attr]
            raise UsageError(f"{what}: this {model.format} model has no file; "
                             "save it and give the path")
        yield Path(model.path), model.format  # type: ignore[union-attr,arg-type]
        return
    from modelkit.formats.registry import save

    stem = Path(model.path).stem if model.path else "model"  # type: ignore[union-attr]
    with tempfile.TemporaryDirectory(prefix="modelkit-api-") as work:
        path = Path(work) / f"{stem}{suffix}"
        save(model, path)  # type: ignore[arg-type]
        with renamed_errors(path, display_name(model)):
            yield path, model.format  # type: ignore[union-attr]


@contextmanager
def data_file(data: Any, what: str = "data") -> Iterator[Path | None]:
    """A file holding `data`: a path as is; one array as an .npy; a dict of arrays (by
    input name) or a list of arrays (in input order) as an .npz.

    Raises:
        UsageError: something else than a path or arrays.
    """
    if data is None or is_path(data):
        yield None if data is None else Path(data)
        return
    import numpy as np

    with tempfile.TemporaryDirectory(prefix="modelkit-api-") as work:
        if isinstance(data, Mapping):
            path = Path(work) / f"{what}.npz"
            arrays = {str(k): _array(v, what) for k, v in data.items()}
            with open(path, "wb") as f:
                np.savez(f, **arrays)
        elif isinstance(data, (list, tuple)):
            path = Path(work) / f"{what}.npz"
            with open(path, "wb") as f:
                np.savez(f, *[_array(v, what) for v in data])
        else:
            path = Path(work) / f"{what}.npy"
            np.save(path, _array(data, what), allow_pickle=False)
        with renamed_errors(path, ARRAYS):
            yield path


def _array(value: Any, what: str):
    import numpy as np

    if not isinstance(value, np.ndarray) and not hasattr(value, "__array__"):
        raise UsageError(f"{what}: give a path, a numpy array, a dict of arrays by input "
                         f"name or a list of arrays, not {type(value).__name__}")
    array = np.asarray(value)
    if array.dtype == object:
        raise UsageError(f"{what}: arrays of Python objects cannot be fed; give numbers")
    return array


@contextmanager
def renamed_errors(temporary: Path, shown: str) -> Iterator[None]:
    """Errors that name a temporary file name what the caller gave instead."""
    try:
        yield
    except ModelkitError as e:
        rename_in_error(e, temporary, shown)
        raise


def rename_in_error(e: ModelkitError, temporary: Path, shown: str) -> None:
    text = str(temporary)
    if e.path is not None and (e.path == text or e.path.startswith(text)):
        e.path = shown
    if text in e.message:
        e.message = e.message.replace(text, shown)
        e.args = (e.message,)
