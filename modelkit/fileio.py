"""Atomic output files: a temporary file beside the target, renamed on success."""

from __future__ import annotations

import os
import shutil
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from modelkit.errors import OutputExistsError


def check_output(dst: str | os.PathLike, *, force: bool = False,
                 sources: tuple[str | os.PathLike, ...] = ()) -> Path:
    """Refuse an output that is one of the inputs, or that exists without `force`.

    Raises:
        OutputExistsError: the output is an input, or exists and force is False.
    """
    dst = Path(dst)
    for src in sources:
        src = Path(src)
        if dst.exists() and src.exists() and os.path.samefile(dst, src):
            raise OutputExistsError("the output is the input; choose another output path",
                                    str(dst))
        if src.is_dir() and dst.resolve().is_relative_to(src.resolve()):
            raise OutputExistsError("the output lies inside the input model's folder",
                                    str(dst))
    if dst.exists() and not force:
        raise OutputExistsError("already exists; pass --force to replace it", str(dst))
    return dst


@contextmanager
def atomic_output(dst: str | os.PathLike, *, force: bool = False,
                  sources: tuple[str | os.PathLike, ...] = ()) -> Iterator[Path]:
    """Yield a temporary path to write; it replaces `dst` only if the block succeeds.

    Args:
        dst: the final path.
        force: replace an existing `dst`.
        sources: the command's inputs, which are never overwritten.

    The temporary path may become a file or a folder (a SavedModel).
    """
    dst = check_output(dst, force=force, sources=sources)
    parent = dst.parent if str(dst.parent) else Path(".")
    parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=f".{dst.name}.", dir=parent))
    target = tmp / dst.name
    try:
        yield target
        if not target.exists():
            raise FileNotFoundError(f"nothing was written to {target}")
        if dst.exists() or dst.is_symlink():
            if dst.is_dir() and not dst.is_symlink():
                shutil.rmtree(dst)
            else:
                dst.unlink()
        os.replace(target, dst)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
