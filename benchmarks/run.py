"""`make bench`: every benchmark, side by side with the tool a user would use instead.

Prints markdown tables and writes them to benchmarks/RESULTS.md. Models are
generated on the fly into benchmarks/_work (never committed).
"""

from __future__ import annotations

import importlib
import os
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

BENCHES = ["bench_summarize", "bench_graphdef", "bench_convert", "bench_tui"]


def main() -> int:
    only = sys.argv[1:] or BENCHES
    sections = []
    for name in only:
        print(f"== {name}", file=sys.stderr, flush=True)
        lines = importlib.import_module(name).main()
        text = "\n".join(lines)
        print(text + "\n", flush=True)
        sections.append(text)
    if not sys.argv[1:]:
        (HERE / "RESULTS.md").write_text("# Benchmark results\n\n" + "\n\n".join(sections) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
