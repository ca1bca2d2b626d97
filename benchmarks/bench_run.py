#!/usr/bin/env python
"""`modelkit run` and `modelkit compare` against the bare scripts a user would write.

run: the int8 digits model on the 360 test images, quantized by hand with the
LiteRT interpreter vs `modelkit run --labels`. compare: the same int8 model
against the float TFLite model, two interpreters and numpy by hand vs
`modelkit compare`. Whole processes, median of 5 runs. Prints a markdown table.

Usage: python benchmarks/bench_run.py [--runs 5]
"""

from __future__ import annotations

import argparse
import os
import sys

sys.path.insert(0, os.path.dirname(__file__))

from common import MODELKIT, PYTHON, ROOT, measure, row  # noqa: E402

INT8 = ROOT / "samples" / "digits_int8.tflite"
FLOAT = ROOT / "samples" / "digits_float.tflite"
DATA = ROOT / "samples" / "digits_test.npz"

RUN_BY_HAND = """
import sys
import numpy as np
from ai_edge_litert.interpreter import Interpreter, OpResolverType

def outputs(path, x):
    it = Interpreter(model_path=path, experimental_op_resolver_type=
                     OpResolverType.BUILTIN_WITHOUT_DEFAULT_DELEGATES)
    it.allocate_tensors()
    (i,), (o,) = it.get_input_details(), it.get_output_details()
    rows = []
    for s in x:
        v = s[None]
        if i["dtype"] != np.float32:
            scale, zp = i["quantization"]
            v = np.clip(np.round(v / scale + zp), -128, 127).astype(i["dtype"])
        it.set_tensor(i["index"], v)
        it.invoke()
        y = it.get_tensor(o["index"]).astype(np.float64)
        if o["dtype"] != np.float32:
            scale, zp = o["quantization"]
            y = (y - zp) * scale
        rows.append(y[0])
    return np.array(rows)

d = np.load(sys.argv[2])
a = outputs(sys.argv[1], d["x"])
if len(sys.argv) > 3:
    b = outputs(sys.argv[3], d["x"])
    diff = np.abs(a - b)
    print(diff.max(), diff.mean(), np.mean(a.argmax(1) == b.argmax(1)))
else:
    print(np.mean(a.argmax(1) == d["y"]))
"""


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--runs", type=int, default=5)
    args = parser.parse_args()
    print("### run and compare vs a hand-written interpreter script\n")
    print(row(["task", "bare interpreter script", "modelkit", "overhead"]))
    print(row(["---"] * 4))
    cases = [
        ("run int8, 360 samples, accuracy",
         [PYTHON, "-c", RUN_BY_HAND, str(INT8), str(DATA)],
         [MODELKIT, "run", str(INT8), "--data", str(DATA), "--labels", str(DATA)]),
        ("compare int8 vs float, 360 samples",
         [PYTHON, "-c", RUN_BY_HAND, str(INT8), str(DATA), str(FLOAT)],
         [MODELKIT, "compare", str(INT8), str(FLOAT), "--data", str(DATA), "--atol", "1"]),
    ]
    for name, bare, ours in cases:
        t_bare = measure(bare, args.runs)
        t_ours = measure(ours, args.runs)
        print(row([name, f"{t_bare.wall:.2f} s, {t_bare.rss_mb:.0f} MB",
                   f"{t_ours.wall:.2f} s, {t_ours.rss_mb:.0f} MB",
                   f"{100 * (t_ours.wall / t_bare.wall - 1):+.1f}%"]), flush=True)


if __name__ == "__main__":
    main()
