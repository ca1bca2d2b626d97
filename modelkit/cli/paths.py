"""Output options of `run` and `debug`, checked before any work: a path that is
named, ends as what is written, is no input and no other output, and does not exist
without --force."""

from __future__ import annotations

import os
from pathlib import Path

from modelkit.errors import UsageError


def output_option(value: str | None, option: str, suffix: str, what: str) -> Path | None:
    """The path an output option names (None when the option is not given).

    Args:
        value: the option's text as typed.
        option: the option's name, for the message (`--csv`).
        suffix: the extension of what is written (`.csv`).
        what: what is written, for the message (`a CSV table`).

    Raises:
        UsageError: an empty path, or one whose extension is not `suffix`.
    """
    if value is None:
        return None
    if not value.strip():
        raise UsageError(f"{option} is empty; name the {suffix} file to write")
    path = Path(value)
    if path.suffix.lower() != suffix:
        raise UsageError(f"{option} writes {what}; name it with the {suffix} extension "
                         f"(the name ends in {path.suffix or 'no extension'})", str(path))
    return path


def check_outputs(outputs: dict[str, Path | None], *, inputs: tuple[Path | None, ...],
                  force: bool) -> None:
    """Refuse, before anything runs, outputs that are the same file, that are one of
    the inputs, or that exist without `force`.

    Args:
        outputs: output path by option name; None for an option not given.
        inputs: the command's input files and folders (None skipped).

    Raises:
        UsageError: two options name one file.
        OutputExistsError: an output is an input, or exists and `force` is False.
    """
    from modelkit.fileio import check_output

    given = {opt: p for opt, p in outputs.items() if p is not None}
    seen: dict[str, str] = {}
    for opt, path in given.items():
        key = os.path.normcase(str(path.resolve()))
        if key in seen:
            raise UsageError(f"{seen[key]} and {opt} name the same file; give each output "
                             "its own path", str(path))
        seen[key] = opt
    sources = tuple(p for p in inputs if p is not None)
    for path in given.values():
        check_output(path, force=force, sources=sources)
