"""Importing TensorFlow quietly: its C++ and Python logs stay off stderr unless --debug.

TensorFlow is an optional extra (`pip install 'modelkit[tf]'`): every module that
needs it imports it through `import_tf`, which turns its absence into one
MissingDependencyError line. This module imports nothing of modelkit but errors, so
format adapters and transform passes use it too.
"""

from __future__ import annotations

import contextlib
import io
import logging
import os
import sys
import tempfile
import warnings
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from types import ModuleType

from modelkit.errors import MissingDependencyError

INSTALL_TF = "pip install 'modelkit[tf]'"


def import_tf(debug: bool = False, *, needed_for: str = "this command",
              path: str | Path | None = None) -> ModuleType:
    """Import TensorFlow with its logging turned down (unless `debug`).

    Args:
        debug: keep TensorFlow's logs on stderr.
        needed_for: what needs TensorFlow, as the error names it ("converting").
        path: the file concerned, named by the error.

    Raises:
        MissingDependencyError: TensorFlow is not installed, or importing it failed
            (its own message is kept).
    """
    if not debug:
        os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
        os.environ.setdefault("TF_ENABLE_ONEDNN_OPTS", "0")
    # NOTE: folding calls this once per node it hands to TF: import once.
    tf = sys.modules.get("tensorflow")
    try:
        if tf is None:
            with quiet_native_stderr(debug):
                import tensorflow as tf
    except ImportError as e:
        where = None if path is None else str(path)
        if isinstance(e, ModuleNotFoundError) and e.name == "tensorflow":
            raise MissingDependencyError(f"{needed_for} needs TensorFlow: {INSTALL_TF}",
                                         where) from e
        # NOTE: TensorFlow is there but broken (a missing shared library or package):
        # its own message says what to repair.
        text = str(e).strip().splitlines()
        raise MissingDependencyError(
            f"{needed_for} needs TensorFlow, which is installed but failed to import: "
            f"{text[0] if text else type(e).__name__}", where) from e
    if not debug:
        tf.get_logger().setLevel(logging.ERROR)
        try:
            from absl import logging as absl_logging
        except ImportError:
            pass
        else:
            absl_logging.set_verbosity(absl_logging.ERROR)
    return tf


@contextmanager
def quiet_native_stderr(debug: bool = False) -> Iterator[io.StringIO]:
    """Send what native code writes to file descriptor 2 into a buffer.

    Python-level writes to sys.stderr (progress, warnings we print) still reach
    the terminal: sys.stderr is pointed at a copy of the original descriptor.
    Yields a StringIO that holds the captured native text after the block.
    """
    captured = io.StringIO()
    if debug:
        # NOTE: Keras prints export summaries on stdout, which carries data only.
        with contextlib.redirect_stdout(sys.stderr):
            yield captured
        return
    try:
        sys.stderr.flush()
        stderr_fd = sys.stderr.fileno()
    except (AttributeError, OSError, ValueError):
        stderr_fd = None
    saved = os.dup(2)
    python_stderr = sys.stderr
    replacement = None
    with tempfile.TemporaryFile(mode="w+b") as sink, warnings.catch_warnings(), \
            contextlib.redirect_stdout(captured):
        warnings.simplefilter("ignore")
        if stderr_fd == 2:
            # NOTE: the replacement writes to a duplicate of the real stderr, so
            # our own progress lines are not swallowed with the C++ logs.
            replacement = os.fdopen(os.dup(saved), "w", buffering=1)
            sys.stderr = replacement
        os.dup2(sink.fileno(), 2)
        try:
            yield captured
        finally:
            os.dup2(saved, 2)
            os.close(saved)
            if replacement is not None:
                sys.stderr = python_stderr
                replacement.close()
            sink.seek(0)
            captured.write(sink.read().decode("utf-8", "replace"))
