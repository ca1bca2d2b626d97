#!/usr/bin/env python
"""Overhead of `modelkit convert --no-verify` over a bare TFLiteConverter script.

Both run as whole processes on samples/digits_frozen.pb (float32 and int8);
each timing is the median of 5 runs. Prints a markdown table.

Usage: python benchmarks/bench_convert.py [--runs 5]
"""

from __future__ import annotations

import argparse
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
SAMPLE = ROOT / "samples" / "digits_frozen.pb"
CALIB = ROOT / "samples" / "digits_calib.npy"
MODELKIT = str(Path(sys.executable).with_name("modelkit"))

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


def timed(cmd: list[str]) -> float:
    """Wall time of one process; fails loudly if it fails."""
    start = time.perf_counter()
    subprocess.run(cmd, check=True, capture_output=True)
    return time.perf_counter() - start


def median_time(cmd: list[str], runs: int) -> float:
    timed(cmd)  # warm the page cache
    return statistics.median(timed(cmd) for _ in range(runs))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--runs", type=int, default=5)
    args = parser.parse_args()
    print("| model | mode | bare TFLiteConverter (s) | modelkit convert --no-verify (s) "
          "| overhead |")
    print("|---|---|---|---|---|")
    with tempfile.TemporaryDirectory() as tmp:
        for mode in ("none", "int8"):
            out = str(Path(tmp) / f"{mode}.tflite")
            bare = [sys.executable, "-c", BARE, str(SAMPLE), out, mode, str(CALIB)]
            ours = [MODELKIT, "convert", str(SAMPLE), out, "--no-verify", "--force",
                    "--quantize", mode]
            if mode == "int8":
                ours += ["--data", str(CALIB)]
            t_bare = median_time(bare, args.runs)
            t_ours = median_time(ours, args.runs)
            print(f"| {SAMPLE.name} | {mode} | {t_bare:.2f} | {t_ours:.2f} | "
                  f"{100 * (t_ours / t_bare - 1):+.1f}% |", flush=True)


if __name__ == "__main__":
    main()
