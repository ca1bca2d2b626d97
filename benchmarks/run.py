"""`make bench`: every benchmark, side by side with the tool a user would use instead.

Runs each benchmark script as its own process, prints its markdown table and
writes them all to benchmarks/RESULTS.md. Models are generated on the fly into
benchmarks/_work (never committed).
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
BENCHES = ["bench_summarize", "bench_graphdef", "bench_convert", "bench_tui", "bench_check",
           "bench_check_many", "bench_debug",
           "bench_transform", "bench_run", "bench_diff", "bench_reduce", "bench_advisor",
           "bench_export"]


def main() -> int:
    only = sys.argv[1:] or BENCHES
    env = {**os.environ, "TF_CPP_MIN_LOG_LEVEL": "3"}
    sections = []
    for name in only:
        print(f"== {name}", file=sys.stderr, flush=True)
        res = subprocess.run([sys.executable, str(HERE / f"{name}.py")], env=env,
                             stdout=subprocess.PIPE, text=True)
        if res.returncode != 0:
            print(f"{name} failed with exit code {res.returncode}", file=sys.stderr)
            return res.returncode
        print(res.stdout, flush=True)
        sections.append(res.stdout.strip())
    if not sys.argv[1:]:
        (HERE / "RESULTS.md").write_text("# Benchmark results\n\n" + "\n\n".join(sections) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
