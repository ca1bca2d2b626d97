"""Human forms of sizes and counts."""

from __future__ import annotations


def human_bytes(n: int | None) -> str:
    """`1536` -> `1.5 KiB`."""
    if n is None:
        return "?"
    value = float(n)
    for unit in ("B", "KiB", "MiB", "GiB"):
        if value < 1024 or unit == "GiB":
            return f"{int(value)} B" if unit == "B" else f"{value:.1f} {unit}"
        value /= 1024
    return f"{n} B"


def human_count(n: int) -> str:
    """`23851784` -> `23.85M`, as summarize_graph writes parameter counts."""
    for div, unit in ((1e9, "B"), (1e6, "M"), (1e3, "k")):
        if n >= div:
            return f"{n / div:.2f}{unit}"
    return str(n)
