#!/usr/bin/env python
"""`modelkit debug` vs a TF QuantizationDebugger script on the same SavedModel and data.

Both run as whole processes on samples/digits_savedmodel, calibrate on 100 samples
and measure 200, and write the per-layer CSV (TF: layer_statistics_dump).
modelkit also measures the accumulated and local error of every layer (two more
models run per sample). The pair mode (a float and an int8 TFLite, no TF import)
has no TF counterpart. Each timing is the median of --runs runs. Prints a markdown
table.

Usage: python benchmarks/bench_debug.py [--runs 3]
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, os.path.dirname(__file__))

from common import MODELKIT, PYTHON, ROOT, measure, row  # noqa: E402

SAMPLES = ROOT / "samples"
SRC = SAMPLES / "digits_savedmodel"
CALIB = SAMPLES / "digits_calib.npy"

TF_DEBUGGER = """
import os, sys
os.environ["TF_CPP_MIN_LOG_LEVEL"] = "3"
import numpy as np
import tensorflow as tf
x = np.load(sys.argv[2])
c = tf.lite.TFLiteConverter.from_saved_model(sys.argv[1])
c.optimizations = [tf.lite.Optimize.DEFAULT]
c.representative_dataset = lambda: ([x[i:i + 1]] for i in range(100))
d = tf.lite.experimental.QuantizationDebugger(
    converter=c, debug_dataset=lambda: ([x[i:i + 1]] for i in range(200)))
d.run()
with open(sys.argv[3], "w") as f:
    d.layer_statistics_dump(f)
"""


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--runs", type=int, default=3)
    args = parser.parse_args()
    print("### debug vs TF's QuantizationDebugger (200 samples, per-layer CSV)\n")
    print(row(["case", "TF QuantizationDebugger script", "modelkit debug", "ratio"]))
    print(row(["---"] * 4))
    with tempfile.TemporaryDirectory() as tmp:
        out = str(Path(tmp) / "layers.csv")
        theirs = measure([PYTHON, "-c", TF_DEBUGGER, str(SRC), str(CALIB), out], args.runs)
        ours = measure([MODELKIT, "debug", str(SRC), "--data", str(CALIB), "--samples", "200",
                        "--csv", out, "--force"], args.runs)
        print(row(["SavedModel, int8 (convert + calibrate + measure)",
                   f"{theirs.wall:.2f} s, {theirs.rss_mb:.0f} MB",
                   f"{ours.wall:.2f} s, {ours.rss_mb:.0f} MB",
                   f"{ours.wall / theirs.wall:.2f}x the time"]))
        pair = measure([MODELKIT, "debug", str(SAMPLES / "digits_float.tflite"),
                        str(SAMPLES / "digits_int8.tflite"), "--data", str(CALIB),
                        "--samples", "200", "--csv", out, "--force"], args.runs)
        print(row(["float + int8 TFLite pair (no TensorFlow)", "n/a",
                   f"{pair.wall:.2f} s, {pair.rss_mb:.0f} MB", ""]))


if __name__ == "__main__":
    main()
