#!/usr/bin/env python
"""`modelkit reduce` on a 220-op int8 model with one broken op.

The model is the residual stack of `tests/reduce/deep_model.py` (110 blocks of
FULLY_CONNECTED + ADD, converted by TF's converter), generated into
benchmarks/_work: one copy whose op 140 the interpreter refuses (a bias scale
20x what the kernel requires), one whose op 140 computes wrong (one output
channel's weights set to 127). For each failure condition: the condition runs
(against the bound 2*ceil(log2 N) + ops left after bisecting), the ops left after
bisecting, the ops of the result and whether it holds op 140, wall time and peak
RSS of the whole process (median of --runs). The alternative is the linear search
alone (`--mode linear`: leave out one op at a time, as Polygraphy's `--mode
linear`), measured once. Prints a markdown table.

Usage: python benchmarks/bench_reduce.py [--runs 3]
"""

from __future__ import annotations

import argparse
import json
import math
import os
import subprocess
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, os.path.dirname(__file__))

from common import MODELKIT, PYTHON, ROOT, WORK, measure, row  # noqa: E402

DEEP = WORK / "deep"

CHECK_SCRIPT = """\
import sys
from ai_edge_litert.interpreter import Interpreter, OpResolverType
it = Interpreter(model_path=sys.argv[1],
                 experimental_op_resolver_type=OpResolverType.BUILTIN_WITHOUT_DEFAULT_DELEGATES)
it.allocate_tensors()
"""


def _models() -> dict[str, Path]:
    paths = {"int8": DEEP / "deep_int8.tflite", "float": DEEP / "deep_float.tflite",
             "calib": DEEP / "deep_calib.npy", "refused": DEEP / "deep_refused.tflite",
             "wrong": DEEP / "deep_wrong.tflite"}
    if not all(p.exists() for p in paths.values()):
        print("generating the 220-op model ...", file=sys.stderr)
        subprocess.run([PYTHON, "-m", "tests.reduce.deep_model", str(DEEP)], cwd=ROOT,
                       check=True, stdout=subprocess.DEVNULL,
                       env={**os.environ, "TF_CPP_MIN_LOG_LEVEL": "3"})
    return paths


def _report(args: list[str]) -> dict:
    res = subprocess.run([MODELKIT, "reduce", *args, "--json", "--force"], cwd=ROOT,
                         capture_output=True, text=True, check=True)
    return json.loads(res.stdout)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--runs", type=int, default=3)
    args = parser.parse_args()
    m = _models()
    with tempfile.TemporaryDirectory() as tmp:
        script = Path(tmp) / "check.py"
        script.write_text(CHECK_SCRIPT)
        dst = str(Path(tmp) / "small.tflite")
        cases = [
            ("--until refused", [str(m["refused"]), dst, "--until", "refused"]),
            ("--until check-error", [str(m["refused"]), dst, "--until", "check-error"]),
            ("--until mismatch (float reference, atol 1)",
             [str(m["wrong"]), dst, "--until", "mismatch", "--reference", str(m["float"]),
              "--data", str(m["calib"]), "--atol", "1"]),
            ("--check 'python check.py {model}' (a process per run)",
             [str(m["refused"]), dst, "--check", f"{PYTHON} {script} {{model}}",
              "--fail-regex", "0.02"]),
        ]
        print("### reduce: a 220-op int8 model with one broken op (op 140)\n")
        print(row(["condition", "runs (bound)", "ops left after bisecting", "result",
                   "holds op 140", "wall", "peak RSS"]))
        print(row(["---"] * 7))
        for label, argv in cases:
            r = _report(argv)
            n = r["original_op_count"]
            bound = 2 * math.ceil(math.log2(n)) + r["ops_after_bisect"]
            t = measure([MODELKIT, "reduce", *argv, "--force"], runs=args.runs)
            print(row([label, f"{r['runs']} ({bound})", str(r["ops_after_bisect"]),
                       f"{r['op_count']} of {n} ops",
                       "yes" if 140 in [o["index"] for o in r["original_ops"]] else "no",
                       f"{t.wall:.2f} s", f"{t.rss_mb:.0f} MB"]))
        r = _report([str(m["refused"]), dst, "--until", "refused", "--mode", "linear"])
        t = measure([MODELKIT, "reduce", str(m["refused"]), dst, "--until", "refused",
                     "--mode", "linear", "--force"], runs=1, warmup=0)
        print(row(["--until refused --mode linear (the alternative: one op at a time)",
                   f"{r['runs']}", "-", f"{r['op_count']} of {r['original_op_count']} ops",
                   "yes" if 140 in [o["index"] for o in r["original_ops"]] else "no",
                   f"{t.wall:.2f} s", f"{t.rss_mb:.0f} MB"]))


if __name__ == "__main__":
    main()
