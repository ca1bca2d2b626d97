"""`modelkit diff` on two 50 MB TFLite models, against `cmp` and against a script that
dumps every tensor of both files with the LiteRT interpreter and compares them.

The model is bench_summarize's 50 MB float model (48 blocks of Dense(512) and
elementwise ops, made on the fly into benchmarks/_work). Its copy with one weight
element changed is the same file with one float32 of one buffer rewritten (found
with modelkit, written with plain file I/O); the identical case is a byte copy. `cmp` only says whether
and where the bytes differ; the interpreter script and `modelkit diff` name the
tensor. Exit code 1 ("different") counts as success on every side.
"""

from __future__ import annotations

import os
import shutil
import struct
import sys

sys.path.insert(0, os.path.dirname(__file__))

from bench_summarize import make_50mb  # noqa: E402
from common import MODELKIT, PYTHON, WORK, generated, measure, precompile, row  # noqa: E402

# What a user would write instead: load both files in the interpreter, dump every
# tensor (type, shape, quantization, values) and compare tensor by tensor. The
# interpreter does not say which tensors are constants, and activations hold
# whatever the arena held, so both models run once on zeros first: equal models then
# dump equal tensors (a changed weight also shows in the activations after it).
INTERPRETER_DIFF = """
import sys
import numpy as np
from ai_edge_litert.interpreter import Interpreter

def dump(path):
    it = Interpreter(model_path=path, experimental_preserve_all_tensors=True)
    it.allocate_tensors()
    for d in it.get_input_details():
        it.set_tensor(d["index"], np.zeros(d["shape"], d["dtype"]))
    it.invoke()
    out = {}
    for d in it.get_tensor_details():
        q = d["quantization_parameters"]
        try:
            data = it.get_tensor(d["index"])
        except ValueError:
            data = None
        out[d["name"]] = (d["dtype"], tuple(d["shape"]), tuple(q["scales"]),
                          tuple(q["zero_points"]), data)
    return out

a, b = dump(sys.argv[1]), dump(sys.argv[2])
changed = []
for name in sorted(set(a) | set(b)):
    if name not in a or name not in b:
        changed.append(name)
        continue
    x, y = a[name], b[name]
    if x[:4] != y[:4] or (x[4] is None) != (y[4] is None) or (
            x[4] is not None and not np.array_equal(x[4], y[4])):
        changed.append(name)
print("\\n".join(changed))
sys.exit(1 if changed else 0)
"""


def _ok_0_or_1(cmd: list[str]) -> list[str]:
    """`cmd` run through sh so that exit 1 (different) counts as success."""
    return ["sh", "-c", '"$@"; [ $? -le 1 ]', "sh", *cmd]


def make_one_element_edit(src, dst) -> str:
    """Copy `src` to `dst` with one float32 element of its largest weight changed;
    returns the tensor's name."""
    import modelkit
    from modelkit.ir import BufferData

    model = modelkit.load(src)
    consts = [v for v in model.main.values if isinstance(v.data, BufferData)]
    target = max(consts, key=lambda v: v.data.nbytes)
    offset = target.data.offset + 4 * 1000
    shutil.copyfile(src, dst)
    with open(dst, "r+b") as f:
        f.seek(offset)
        (old,) = struct.unpack("<f", f.read(4))
        f.seek(offset)
        f.write(struct.pack("<f", old + 0.25))
    return target.name


def main() -> None:
    precompile()
    src = generated(WORK / "float_50mb.tflite", make_50mb)
    same = WORK / "float_50mb_copy.tflite"
    edited = WORK / "float_50mb_one_weight.tflite"
    shutil.copyfile(src, same)
    name = make_one_element_edit(src, edited)
    size = src.stat().st_size / 1e6
    import modelkit

    ops = len(modelkit.load(src).main.nodes)
    print("### diff vs cmp and a LiteRT interpreter tensor dump\n")
    print(f"Two {size:.0f} MB float TFLite files ({ops} ops); 'one weight' changes one "
          f"float32 element of `{name}`. Median of 5 cold runs: wall time, CPU time "
          "(user + system) and peak RSS.\n")
    print(row(["case", "modelkit diff", "cmp", "interpreter dump + compare",
               "diff vs interpreter"]))
    print(row(["---"] * 5))
    for label, other in (("identical (byte copy)", same), ("one weight element changed", edited)):
        ours = measure(_ok_0_or_1([MODELKIT, "diff", str(src), str(other)]))
        cmp = measure(_ok_0_or_1(["cmp", str(src), str(other)]))
        theirs = measure(_ok_0_or_1([PYTHON, "-c", INTERPRETER_DIFF, str(src), str(other)]))
        print(row([label, _cell(ours), _cell(cmp), _cell(theirs),
                   f"{theirs.wall / ours.wall:.1f}x faster, "
                   f"{theirs.rss_mb / ours.rss_mb:.1f}x less memory"]), flush=True)
    print(f"\nLoad average while measuring: {os.getloadavg()[0]:.1f} on {os.cpu_count()} CPUs "
          "(wall times stretch with it; CPU times do not).")


def _cell(m) -> str:
    return f"{m.wall:.3f} s wall, {m.cpu:.3f} s CPU, {m.rss_mb:.0f} MB"

if __name__ == "__main__":
    main()
