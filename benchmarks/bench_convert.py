#!/usr/bin/env python
"""Overhead of `modelkit convert --no-verify` over a bare TFLiteConverter script.

Both run as whole processes on samples/digits_frozen.pb (float32 and int8);
each timing is the median of 5 runs. Prints a markdown table.

Usage: python benchmarks/bench_convert.py [--runs 5]
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, os.path.dirname(__file__))

from common import MODELKIT, PYTHON, ROOT, measure, row  # noqa: E402

SAMPLE = ROOT / "samples" / "digits_frozen.pb"
CALIB = ROOT / "samples" / "digits_calib.npy"

BARE = """
import os, sys
os.environ["TF_CPP_MIN_LOG_LEVEL"] = "3"
import numpy as np
import tensorflow as tf
c = tf.compat.v1.lite.TFLiteConverter.from_frozen_graph(
    sys.argv[1], ["input"], ["probs"], {"input": [1, 8, 8, 1]})
if sys.argv[3] == "int8":
    calib = np.load(sys.argv[4])[:100]
    c.optimizations = [tf.lite.Optimize.DEFAULT]
    c.representative_dataset = lambda: ([x[None]] for x in calib)
    c.target_spec.supported_ops = [tf.lite.OpsSet.TFLITE_BUILTINS_INT8]
    c.inference_input_type = tf.int8
    c.inference_output_type = tf.int8
open(sys.argv[2], "wb").write(c.convert())
"""


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--runs", type=int, default=5)
    args = parser.parse_args()
    print("### convert --no-verify vs a bare TFLiteConverter script\n")
    print(row(["model", "mode", "bare TFLiteConverter", "modelkit convert --no-verify",
               "overhead"]))
    print(row(["---"] * 5))
    with tempfile.TemporaryDirectory() as tmp:
        for mode in ("none", "int8"):
            out = str(Path(tmp) / f"{mode}.tflite")
            bare = [PYTHON, "-c", BARE, str(SAMPLE), out, mode, str(CALIB)]
            ours = [MODELKIT, "convert", str(SAMPLE), out, "--no-verify", "--force",
                    "--quantize", mode]
            if mode == "int8":
                ours += ["--data", str(CALIB)]
            t_bare = measure(bare, args.runs)
            t_ours = measure(ours, args.runs)
            print(row([SAMPLE.name, mode, f"{t_bare.wall:.2f} s, {t_bare.rss_mb:.0f} MB",
                       f"{t_ours.wall:.2f} s, {t_ours.rss_mb:.0f} MB",
                       f"{100 * (t_ours.wall / t_bare.wall - 1):+.1f}%"]), flush=True)


if __name__ == "__main__":
    main()
