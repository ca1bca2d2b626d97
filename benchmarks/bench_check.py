"""`modelkit check` (whole process) against building the builtin interpreter and
calling allocate_tensors, the way a user finds prepare-time errors today.

The 50 MB float model is the one bench_summarize generates (benchmarks/_work).
"""

from __future__ import annotations

import os
import sys

sys.path.insert(0, os.path.dirname(__file__))

from bench_summarize import make_50mb  # noqa: E402
from common import HEADER, MODELKIT, PYTHON, WORK, generated, measure, side_by_side  # noqa: E402

ALLOCATE = ("import sys; from ai_edge_litert.interpreter import Interpreter, OpResolverType; "
            "i = Interpreter(model_path=sys.argv[1], experimental_op_resolver_type="
            "OpResolverType.BUILTIN_WITHOUT_DEFAULT_DELEGATES); i.allocate_tensors()")


API = ("import sys, modelkit; from modelkit.check import check_model; "
       "check_model(modelkit.load(sys.argv[1]), sys.argv[2])")


def main() -> None:
    path = generated(WORK / "float_50mb.tflite", make_50mb)
    size = path.stat().st_size / 1e6
    print("### check vs ai_edge_litert Interpreter(...).allocate_tensors()\n")
    print(HEADER)
    for target in ("tflite", "micro"):
        ours = measure([MODELKIT, "check", str(path), "--target", target, "--json"])
        theirs = measure([PYTHON, "-c", ALLOCATE, str(path)])
        print(side_by_side(f"check --target {target}, float {size:.0f} MB", ours, theirs,
                           "allocate_tensors"), flush=True)
        # NOTE: the same check from Python, without the CLI (typer builds every command's
        # parameters at start-up), to show what the check itself costs.
        api = measure([PYTHON, "-c", API, str(path), target])
        print(side_by_side(f"check_model() in a script, --target {target}", api, theirs,
                           "allocate_tensors"), flush=True)


if __name__ == "__main__":
    main()
