"""Corrupted TF-family files: every load ends in a model or a ModelReadError, quickly.

Seeded mutations (byte flips, zeroed runs, truncation) of each sample file, loaded
and summarized as `modelkit summarize` does.
"""

from __future__ import annotations

import random
import shutil
import time
from pathlib import Path

import pytest

import modelkit
from modelkit.analysis.summary import summarize
from modelkit.errors import ModelReadError
from tests.conftest import SAMPLES

# (sample, file inside it to corrupt, path to load relative to the copy)
CASES = [
    ("digits_frozen.pb", None, None),
    ("digits_frozen.pbtxt", None, None),
    ("digits_legacy_quantized.pb", None, None),
    ("digits_keras.h5", None, None),
    ("digits_keras2.h5", None, None),
    ("digits_savedmodel", "saved_model.pb", ""),
    ("digits_savedmodel", "variables/variables.index", ""),
    ("digits_ckpt", "model.ckpt.index", "model.ckpt"),
    ("digits_ckpt", "model.ckpt.meta", "model.ckpt"),
]
MUTATIONS = 25


def _mutate(data: bytearray, rng: random.Random) -> bytes:
    kind = rng.choice(["flip", "zero", "truncate"])
    if kind == "flip":
        for _ in range(rng.randint(1, 20)):
            data[rng.randrange(len(data))] = rng.randrange(256)
    elif kind == "zero":
        start = rng.randrange(len(data))
        run = min(rng.randint(1, 64), len(data) - start)
        data[start:start + run] = bytes(run)
    else:
        del data[rng.randrange(len(data)):]
    return bytes(data)


@pytest.mark.parametrize("sample, inner, load_at", CASES,
                         ids=[f"{s}:{i or 'file'}" for s, i, _ in CASES])
def test_corrupt_files_give_model_read_error(tmp_path, sample, inner, load_at):
    rng = random.Random(f"{sample}:{inner}")
    src = SAMPLES / sample
    for i in range(MUTATIONS):
        work = tmp_path / str(i)
        if src.is_dir():
            shutil.copytree(src, work)
            target, path = work / inner, work / load_at
        else:
            work.mkdir()
            target = path = work / sample
            shutil.copy(src, target)
        target.write_bytes(_mutate(bytearray(target.read_bytes()), rng))
        start = time.monotonic()
        try:
            summarize(modelkit.load(path))
        except ModelReadError as e:
            assert str(path.parent) in str(e) or str(path) in str(e)
        assert time.monotonic() - start < 10, f"mutation {i} took too long"
        shutil.rmtree(work)


def test_hdf5_file_that_loops_the_library_is_stopped():
    """tests/data/hdf5_endless_loop.h5 is a mutated Keras H5 on which the HDF5 library
    never returns from reading the root attributes (checked here in a child process)."""
    import subprocess
    import sys

    from modelkit.formats import keras_h5

    bad = Path(__file__).resolve().parent.parent / "data" / "hdf5_endless_loop.h5"
    with pytest.raises(subprocess.TimeoutExpired):
        subprocess.run([sys.executable, "-c", "import h5py, sys; "
                        "h5py.File(sys.argv[1], 'r').attrs['model_config']", str(bad)],
                       timeout=5, capture_output=True)
    budget = keras_h5.probe_budget(bad.stat().st_size)[0]
    start = time.monotonic()
    with pytest.raises(ModelReadError, match="CPU time, far more than a 116 KB file needs"):
        modelkit.load(bad)
    assert time.monotonic() - start < budget + 5


@pytest.mark.parametrize("corrupt", ["count_attr", "input_port"])
def test_an_impossible_output_count_is_a_read_error(tmp_path, corrupt):
    """A Split whose num_split is 2^62, or an input naming port 4,000,000,000, would make
    that many outputs (a hang and a memory blow-up): one read error naming the file."""
    from tensorboard.compat.proto import graph_pb2

    import modelkit
    from modelkit.errors import ModelReadError

    g = graph_pb2.GraphDef()
    x = g.node.add(name="x", op="Placeholder")
    x.attr["dtype"].type = 1
    if corrupt == "count_attr":
        d = g.node.add(name="d", op="Const")
        d.attr["dtype"].type = 3
        s = g.node.add(name="s", op="Split", input=["d", "x"])
        s.attr["num_split"].i = 1 << 62
        s.attr["T"].type = 1
    else:
        i = g.node.add(name="i", op="Identity", input=["x:4000000000"])
        i.attr["T"].type = 1
    path = tmp_path / "corrupt.pb"
    path.write_bytes(g.SerializeToString())
    with pytest.raises(ModelReadError, match="outputs .* the graph is corrupt") as e:
        modelkit.load(path)
    assert str(e.value).startswith(str(path))
