#!/usr/bin/env python
"""`modelkit convert --max-drop`: what the precision search costs and what it reaches.

On the digits classifier with two planted layers (tests/advisor/planted_model.py,
trained into benchmarks/_work/planted): full int8 loses most of its accuracy; the
search converts and runs every candidate (ai-edge-quantizer recipes on the float
model) until the hold-out accuracy is within 1 point of the float model's. Against
it, what a user would do instead: `modelkit debug`'s keep-in-float advice, then one
`convert --denylist-nodes` (TF's selective quantization), and the number of
conversions an exhaustive search over int8/int16/float per layer would take.
Accuracy is measured by the LiteRT interpreter on the written file. Timings are
medians of --runs cold processes.

Usage: python benchmarks/bench_advisor.py [--runs 2]
"""

from __future__ import annotations

import argparse
import json
import os
import shlex
import subprocess
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, os.path.dirname(__file__))

from common import MODELKIT, ROOT, WORK, generated, measure, precompile, row  # noqa: E402

sys.path.insert(0, str(ROOT))


def _make(path: Path) -> None:
    from tests.advisor.planted_model import build

    build(path.parent)


def _json(cmd: list[str]) -> dict:
    proc = subprocess.run(cmd, capture_output=True, text=True, check=True)
    return json.loads(proc.stdout)


def _accuracy(path: Path, test: Path) -> float:
    import numpy as np

    from tests.advisor.conftest import litert_accuracy

    d = np.load(test)
    return litert_accuracy(path, d["x"], d["y"])


def _outside(path: Path) -> int:
    from tests.advisor.conftest import ops_outside_int8

    return len(ops_outside_int8(path))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--runs", type=int, default=2)
    args = parser.parse_args()
    precompile()
    model = generated(WORK / "planted" / "planted.h5", _make)
    calib, test = model.with_name("calib.npy"), model.with_name("test.npz")
    print("### convert --max-drop: the precision search (hold-out accuracy within 1 point)\n")
    print(row(["case", "wall", "CPU", "peak RSS", "conversions", "candidates",
               "hold-out accuracy", "ops outside int8"]))
    print(row(["---"] * 8))
    with tempfile.TemporaryDirectory() as tmp:
        dst = Path(tmp) / "mixed.tflite"
        search = [MODELKIT, "convert", str(model), str(dst), "--quantize", "int8", "--data",
                  str(calib), "--max-drop", "1", "--eval-data", str(test), "--labels",
                  str(test), "--force"]
        layers = 0
        float_accuracy = None
        for label, extra in (("convert --max-drop 1 (LiteRT)", []),
                             ("convert --max-drop 1 --target micro (each candidate run in "
                              "TFLite Micro)", ["--target", "micro"])):
            report = _json(search + extra + ["--json"])
            timing = measure(search + extra, args.runs)
            layers = max(layers, len(report["ranking"]))
            float_accuracy = report["float"]["accuracy"]
            print(row([label, f"{timing.wall:.1f} s", f"{timing.cpu:.1f} s",
                       f"{timing.rss_mb:.0f} MB", str(report["conversions"]),
                       str(len(report["candidates"])),
                       f"{100 * _accuracy(dst, test):.2f}%", str(_outside(dst))]))
        advice = _json([MODELKIT, "debug", str(model), "--data", str(test), "--labels",
                        str(test), "--calibration-data", str(calib), "--no-verify-advice",
                        "--json"])
        argv = shlex.split(advice["convert_command"])
        argv[3] = str(Path(tmp) / "selective.tflite")
        before = [MODELKIT, "debug", str(model), "--data", str(test), "--labels", str(test),
                  "--calibration-data", str(calib), "--no-verify-advice"]
        t_debug = measure(before, args.runs)
        t_convert = measure([MODELKIT, *argv[1:], "--no-verify", "--force"], args.runs)
        subprocess.run([MODELKIT, *argv[1:], "--no-verify", "--force"], capture_output=True,
                       check=True)
        selective = Path(argv[3])
        print(row(["debug's keep-in-float advice, then convert --denylist-nodes",
                   f"{t_debug.wall + t_convert.wall:.1f} s",
                   f"{t_debug.cpu + t_convert.cpu:.1f} s",
                   f"{max(t_debug.rss_mb, t_convert.rss_mb):.0f} MB", "2", "1",
                   f"{100 * _accuracy(selective, test):.2f}%", str(_outside(selective))]))
        print(row([f"exhaustive int8/int16/float over the {layers} ranked layers", "", "", "",
                   str(3 ** layers), str(3 ** layers), "", ""]))
    print(f"\nfloat model (Keras): {100 * float_accuracy:.2f}% on {test.name}; "
          f"{os.cpu_count()} CPUs.")


if __name__ == "__main__":
    main()
