"""The parsing of --inputs/--outputs name lists (`convert`, `transform`, `extract`, `run`).

Opening a model and turning --data, --mean/--std/--raw into arrays lives in the
library (`modelkit.api._feeding`), which `run` and `compare` call through the API.
"""

from __future__ import annotations


def comma_list(text: str | None) -> list[str] | None:
    """The names of a comma separated option value (blanks dropped), or None when not given."""
    from modelkit.convert.selective import parse_list

    return parse_list(text) if text else None
