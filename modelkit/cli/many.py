"""One command over many models: which models the arguments name, worker processes,
progress on stderr, and the exit code of the whole call.

`modelkit check a.tflite b.tflite`, `modelkit check models/` and the same for
`summarize` go through here; a single model path keeps the command's own
single-model path.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from modelkit.errors import ExitCode, ModelkitError

# The exit code of a call over many models is the first of these that any model gave:
# a model that could not be read was not checked at all, which outranks a check that
# found errors.
PRECEDENCE = (ExitCode.INTERRUPTED, ExitCode.USAGE, ExitCode.UNREADABLE, ExitCode.FAILURE,
              ExitCode.UNSUPPORTED, ExitCode.OK)


@dataclass
class Outcome:
    """What one job gave for one model.

    Attributes:
        path: the model, as named on the command line or found in a folder.
        value: what the job returned (None when it failed).
        error: the error line (`<path>: <what is wrong>`), "" when it worked.
        code: the exit code of that error (0 when it worked).
    """

    path: str
    value: Any = None
    error: str = ""
    code: int = 0


def worst(codes: Sequence[int]) -> int:
    """The exit code of the whole call: the code earliest in PRECEDENCE; 0 for none."""
    rank = {int(c): i for i, c in enumerate(PRECEDENCE)}
    return min(codes, key=lambda c: rank.get(c, len(PRECEDENCE)), default=0)


def _is_model_folder(path: Path) -> bool:
    """True when the folder is itself a model (a SavedModel, a checkpoint folder)."""
    from modelkit.formats.registry import detect_format

    try:
        detect_format(path)
    except ModelkitError:
        return False
    return True


def model_paths(paths: Sequence[Path], verbose: bool = False) -> tuple[list[Path], bool]:
    """The models the command-line paths name, and whether the call is about many.

    A folder that is not itself a model is searched (recursively) for the models
    modelkit detects; files in it that are not models are skipped, each with a note on
    stderr when `verbose`. A folder that holds no model stays in the list, so that it is
    reported as unreadable, as a single path would be. The same model named twice is
    kept once.

    Returns:
        (paths, many): many is True for several paths or a folder searched with success.
    """
    from modelkit.convert.progress import Progress
    from modelkit.formats.discover import find_models

    note = Progress().note if verbose else None
    many = len(paths) > 1
    out: list[Path] = []
    for p in paths:
        if not p.is_dir() or _is_model_folder(p):
            out.append(p)
            continue
        found_any = False
        for found in find_models(p):
            if found.format is not None:
                out.append(found.path)
                found_any = True
            elif note is not None:
                note(f"skipped {found.path}: {found.note}")
        many = many or found_any
        if not found_any:
            out.append(p)
    seen: set[str] = set()
    unique = []
    for p in out:
        key = os.path.realpath(p)
        if key not in seen:
            seen.add(key)
            unique.append(p)
    return unique, many


def _ignore_sigint() -> None:
    import signal

    # NOTE: Ctrl-C reaches every process of the terminal's process group; the parent
    # alone handles it (and ends the workers), so no worker prints a traceback.
    signal.signal(signal.SIGINT, signal.SIG_IGN)


def _run(job: Callable[..., Any], path: str, args: tuple) -> Outcome:
    try:
        return Outcome(path, job(path, *args))
    except ModelkitError as e:
        # NOTE: among many models, an error line names its model even when the error
        # itself does not (an option that does not fit this model).
        return Outcome(path, error=str(e) if e.path else f"{path}: {e}", code=int(e.exit_code))


def _context():
    import multiprocessing

    # NOTE: fork starts a worker without importing modelkit again (spawn pays about
    # 0.3 s per worker); the workers are forked at the first submit, while this process
    # runs one thread. Elsewhere than Linux fork is unsafe (macOS) or missing.
    if sys.platform == "linux":
        return multiprocessing.get_context("fork")
    return multiprocessing.get_context("spawn")


def run_jobs(job: Callable[..., Any], paths: Sequence[Path], args: tuple = (),
             on_done: Callable[[Outcome], None] | None = None,
             label: str = "models") -> list[Outcome]:
    """Run `job(path, *args)` for every path, in worker processes when there are several.

    Args:
        job: a module-level function (it is sent to the workers by name); a
            ModelkitError it raises becomes the Outcome's error.
        paths: the models.
        args: more arguments for `job` (picklable).
        on_done: called with each Outcome in the order of `paths`: as soon as it and
            all before it are done, or at the end when a progress bar is shown.
        label: what the progress bar counts.

    Returns:
        The outcomes, in the order of `paths`.
    """
    import multiprocessing
    from concurrent.futures import ProcessPoolExecutor, as_completed

    from modelkit.convert.progress import Progress

    on_done = on_done or (lambda outcome: None)
    if len(paths) <= 1:
        outcomes = [_run(job, str(p), args) for p in paths]
        for o in outcomes:
            on_done(o)
        return outcomes
    workers = min(os.cpu_count() or 1, len(paths))
    results: list[Outcome | None] = [None] * len(paths)
    progress = Progress()
    # NOTE: while the bar is drawn on a terminal, lines wait until it is gone.
    isatty = getattr(sys.stderr, "isatty", None)
    streaming = not (isatty and isatty())
    pool = ProcessPoolExecutor(workers, mp_context=_context(), initializer=_ignore_sigint)
    try:
        futures = {pool.submit(_run, job, str(p), args): i for i, p in enumerate(paths)}
        done = 0
        with progress.counter(f"{len(paths)} {label}", len(paths)) as step:
            for fut in as_completed(futures):
                results[futures[fut]] = fut.result()
                step()
                while streaming and done < len(paths) and results[done] is not None:
                    on_done(results[done])
                    done += 1
    except BaseException:
        # NOTE: the workers only belong to this call; stop them rather than let a
        # model each is on finish after the user asked to stop.
        children = multiprocessing.active_children()
        for child in children:
            child.terminate()
        for child in children:
            child.join(5)
        raise
    finally:
        pool.shutdown(wait=True, cancel_futures=True)
    for outcome in results[done:]:
        on_done(outcome)
    return results  # type: ignore[return-value]
