"""Atomic output files: a temporary file beside the target, renamed on success.

The rules every writer follows, so that nothing a user has is lost:

- an output never is, holds or lies inside one of the command's inputs;
- an output never is the current folder or a folder above it;
- an existing output is replaced only with `force`;
- a file output never replaces a folder; a folder output (a SavedModel) replaces
  only a SavedModel folder;
- the new output appears whole or not at all, and a failed command leaves no
  temporary file and no folder it created.
"""

from __future__ import annotations

import os
import shutil
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from modelkit.errors import OutputExistsError, UsageError

# What makes a folder a SavedModel (the only kind of folder an output may replace).
_SAVEDMODEL_FILES = ("saved_model.pb", "saved_model.pbtxt")


def _absolute(path: Path) -> Path:
    """The path made absolute with `..` resolved but the last symlink kept."""
    return Path(os.path.abspath(path))


def _within(inner: Path, outer: Path) -> bool:
    """True when `inner` is `outer` or lies inside it (both fully resolved)."""
    return inner == outer or inner.is_relative_to(outer)


def is_savedmodel_folder(path: Path) -> bool:
    """True for a folder that holds a SavedModel's graph file."""
    return path.is_dir() and any((path / name).is_file() for name in _SAVEDMODEL_FILES)


def check_output(dst: str | os.PathLike, *, force: bool = False,
                 sources: tuple[str | os.PathLike, ...] = (), folder: bool = False) -> Path:
    """Refuse an output path that would lose or overwrite something the user has.

    Args:
        dst: the output path.
        force: allow replacing an existing output (a file, or a SavedModel folder
            when `folder` is True).
        sources: the command's inputs; the output may be none of them, hold none
            of them and lie inside none of them.
        folder: the output is a folder (a SavedModel).

    Raises:
        UsageError: the path is empty, or its parent is not a folder.
        OutputExistsError: any of the rules above is broken (exit 2).
    """
    if not str(dst).strip():
        raise UsageError("the output path is empty")
    if not folder and str(dst).endswith(("/", os.sep)):
        raise UsageError("ends with a slash, so it names a folder; a file output needs a "
                         "file name", str(dst))
    dst = Path(dst)
    real = dst.resolve()
    for src in sources:
        src = Path(src)
        if not (src.exists() or src.is_symlink()):
            continue
        src_real = src.resolve()
        if dst.exists() and os.path.samefile(dst, src):
            raise OutputExistsError("the output is the input; choose another output path",
                                    str(dst))
        if _within(src_real, real) or _within(src_real, _absolute(dst)):
            raise OutputExistsError("the output path holds the input model; "
                                    "choose another output path", str(dst))
        if src.is_dir() and _within(real, src_real):
            raise OutputExistsError("the output lies inside the input model's folder",
                                    str(dst))
    cwd = Path.cwd().resolve()
    if _within(cwd, real):
        raise OutputExistsError("the output path is the current folder or holds it; "
                                "name a file or a new folder", str(dst))
    if dst.is_dir() and not dst.is_symlink():
        if not folder:
            raise OutputExistsError("is a folder; a file output never replaces a folder "
                                    "(name a file inside it or elsewhere)", str(dst))
        if not is_savedmodel_folder(dst):
            raise OutputExistsError("is a folder that is not a SavedModel; only a SavedModel "
                                    "folder is ever replaced", str(dst))
    if (dst.exists() or dst.is_symlink()) and not force:
        raise OutputExistsError("already exists; pass --force to replace it", str(dst))
    for parent in dst.parents:
        if parent.exists() or parent.is_symlink():
            if not parent.is_dir():
                raise UsageError(f"{parent} is not a folder", str(dst))
            break
    return dst


def _make_parent(parent: Path) -> list[Path]:
    """Create `parent` and its missing ancestors; return the folders created, deepest first."""
    created = []
    p = parent
    while not (p.exists() or p.is_symlink()):
        created.append(p)
        p = p.parent
    parent.mkdir(parents=True, exist_ok=True)
    return created


def _remove_created(created: list[Path]) -> None:
    for folder in created:
        try:
            folder.rmdir()
        except OSError:
            break


def _replace(target: Path, dst: Path, scratch: Path) -> None:
    """Move `target` to `dst`; an existing folder at `dst` is moved aside first, then removed."""
    if dst.is_dir() and not dst.is_symlink():
        old = scratch / "replaced"
        os.replace(dst, old)
        try:
            os.replace(target, dst)
        except BaseException:
            os.replace(old, dst)
            raise
        return
    if target.is_dir() and (dst.exists() or dst.is_symlink()):
        dst.unlink()
    os.replace(target, dst)


@contextmanager
def atomic_output(dst: str | os.PathLike, *, force: bool = False,
                  sources: tuple[str | os.PathLike, ...] = (),
                  folder: bool = False) -> Iterator[Path]:
    """Yield a temporary path to write; it replaces `dst` only if the block succeeds.

    Args:
        dst: the final path.
        force: replace an existing `dst` (see `check_output` for what may be replaced).
        sources: the command's inputs, which are never overwritten or removed.
        folder: the output is a folder (a SavedModel).

    Raises:
        OutputExistsError, UsageError: as `check_output`.
    """
    dst = check_output(dst, force=force, sources=sources, folder=folder)
    parent = dst.parent if str(dst.parent) else Path(".")
    try:
        created = _make_parent(parent)
    except OSError as e:
        raise UsageError(f"cannot create the output's folder: {e.strerror or e}",
                         str(dst)) from None
    try:
        tmp = Path(tempfile.mkdtemp(prefix=f".{dst.name}.", dir=parent))
    except OSError as e:
        _remove_created(created)
        raise UsageError(f"cannot write in the output's folder: {e.strerror or e}",
                         str(dst)) from None
    target = tmp / dst.name
    done = False
    try:
        yield target
        if not (target.exists() or target.is_symlink()):
            raise FileNotFoundError(f"nothing was written to {target}")
        if folder != target.is_dir():
            raise UsageError("the output was written as a "
                             + ("folder" if target.is_dir() else "file")
                             + " where a " + ("folder" if folder else "file")
                             + " was expected", str(dst))
        # NOTE: checked again at the last moment: the block may have run for minutes.
        check_output(dst, force=force, sources=sources, folder=folder)
        _replace(target, dst, tmp)
        done = True
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
        if not done:
            _remove_created(created)
