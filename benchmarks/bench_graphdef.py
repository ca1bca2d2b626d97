"""Reading a ~100 MB frozen GraphDef: `modelkit summarize --json` against TensorFlow.

The graph is Keras' InceptionV3 with random weights (no download, 96 MB), frozen
on the fly into benchmarks/_work and never committed (the same file the transform
benchmark uses). Two tables:

- whole processes: `modelkit summarize --json` against a `python -c` that imports
  TensorFlow and runs `import_graph_def` on the file;
- the load itself, in fresh processes (imports excluded on both sides): modelkit's
  `load` (file to IR) against the first step of `import_graph_def`, reading the
  file and parsing it as a `tf.compat.v1.GraphDef` (nothing less can read it), and
  the peak memory of the modelkit process against the file's size.
"""

from __future__ import annotations

import json
import os
import statistics
import subprocess
import sys

sys.path.insert(0, os.path.dirname(__file__))

from bench_transform import make_inception  # noqa: E402
from common import HEADER, PYTHON, WORK, row, summarize_vs  # noqa: E402

TF_IMPORT = ("import sys, tensorflow as tf; g = tf.compat.v1.GraphDef(); "
             "g.ParseFromString(open(sys.argv[1], 'rb').read()); "
             "tf.graph_util.import_graph_def(g, name=''); print(len(g.node))")

# Each prints [seconds, peak RSS in MB] of the measured step.
OURS = """
import json, resource, sys, time
from modelkit.formats import _tfproto, registry
from modelkit.formats.registry import load
for name in registry.FORMATS:  # imports, as TensorFlow's are, happen before the clock
    registry.adapter(name)
_tfproto.pb()
start = time.perf_counter()
model = load(sys.argv[1])
took = time.perf_counter() - start
print(json.dumps([took, resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024]))
"""
TF_PARSE = """
import json, resource, sys, time
import tensorflow as tf
start = time.perf_counter()
g = tf.compat.v1.GraphDef()
g.ParseFromString(open(sys.argv[1], "rb").read())
took = time.perf_counter() - start
print(json.dumps([took, resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024]))
"""


def _median_of(script: str, path, runs: int) -> tuple[float, float]:
    """Median seconds and median peak RSS (MB) of `script` over fresh processes."""
    env = {**os.environ, "TF_CPP_MIN_LOG_LEVEL": "3"}
    results = [json.loads(subprocess.run([PYTHON, "-c", script, str(path)], check=True,
                                         capture_output=True, text=True, env=env).stdout)
               for _ in range(runs)]
    return (statistics.median(r[0] for r in results),
            statistics.median(r[1] for r in results))


def main() -> None:
    path = WORK / "inception_v3_frozen.pb"
    print("### summarize --json vs TensorFlow import_graph_def\n")
    print(HEADER)
    print(summarize_vs("InceptionV3 frozen GraphDef", path, make_inception, TF_IMPORT,
                       "import_graph_def"), flush=True)
    size_mb = path.stat().st_size / 2**20
    ours_s, ours_mb = _median_of(OURS, path, 5)
    parse_s, _ = _median_of(TF_PARSE, path, 5)
    print(f"\n### GraphDef load vs TensorFlow's parse ({size_mb:.0f} MiB file, median of 5)\n")
    print(row(["measure", "modelkit load (file to IR)", "GraphDef.ParseFromString (read + parse)",
               "ratio"]))
    print(row(["---"] * 4))
    print(row(["time", f"{ours_s:.3f} s", f"{parse_s:.3f} s", f"{ours_s / parse_s:.2f}x"]))
    print(row(["peak RSS of the process / file size", f"{ours_mb:.0f} MiB / {size_mb:.0f} MiB",
               "", f"{ours_mb / size_mb:.2f}x"]))


if __name__ == "__main__":
    main()
