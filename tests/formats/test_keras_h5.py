"""The Keras H5 adapter against Keras's own loader."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

import modelkit
from modelkit.errors import ExitCode, ModelReadError
from modelkit.formats import keras_h5

ROOT = Path(__file__).resolve().parents[2]
SAMPLES = ROOT / "samples"
K3 = SAMPLES / "digits_keras.h5"
K2 = SAMPLES / "digits_keras2.h5"
FILES = [p for p in (K3, K2) if p.exists()]

h5py = pytest.importorskip("h5py")


@pytest.fixture(scope="module")
def keras():
    pytest.importorskip("tensorflow")
    return pytest.importorskip("keras")


@pytest.fixture(scope="module")
def keras_models(keras):
    return {p: keras.models.load_model(p, compile=False) for p in FILES}


@pytest.mark.parametrize("path", FILES, ids=lambda p: p.name)
def test_weights_equal_keras(keras_models, path):
    ref = keras_models[path]
    model = keras_h5.load(path)
    g = model.main
    assert [n.name for n in g.nodes] == [layer.name for layer in ref.layers]
    for layer in ref.layers:
        node = g.node(layer.name)
        assert node.op == type(layer).__name__ and node.domain == "keras"
        ours = [v for v in node.inputs if v is not None and v.data is not None]
        assert len(ours) == len(layer.weights)
        for v, w in zip(ours, layer.weights):
            np.testing.assert_array_equal(v.data.numpy(), w.numpy())


@pytest.mark.parametrize("path", FILES, ids=lambda p: p.name)
def test_edges_and_shapes_follow_the_keras_graph(keras_models, path):
    ref = keras_models[path]
    g = keras_h5.load(path).main
    for layer in ref.layers:
        node = g.node(layer.name)
        inbound = [v.producer.name for v in node.inputs
                   if v is not None and v.data is None and v.producer is not None]
        if type(layer).__name__ != "InputLayer":
            src = layer.input if not isinstance(layer.input, list) else layer.input[0]
            assert inbound == [src._keras_history[0].name]
        assert list(node.outputs[0].shape) == list(layer.output.shape)
    assert [v.producer.name for v in g.outputs] == [t._keras_history[0].name for t in ref.outputs]
    assert [v.producer.name for v in g.inputs] == [t._keras_history[0].name for t in ref.inputs]


@pytest.mark.parametrize("path", FILES, ids=lambda p: p.name)
def test_metadata(path):
    model = keras_h5.load(path)
    with h5py.File(path, "r") as f:
        assert model.metadata["keras_version"] == f.attrs["keras_version"]
        opt = []
        f["optimizer_weights"].visititems(lambda n, o: opt.append(n)
                                          if isinstance(o, h5py.Dataset) else None)
    assert sorted(w["name"] for w in model.metadata["optimizer_weights"]) == sorted(opt)
    assert model.metadata["training_config"]["loss"] == "sparse_categorical_crossentropy"


def test_legacy_weights_only_file(tmp_path, keras_models):
    """A Keras 2 `save_weights` H5: layer groups at the root, `layer_names` attr."""
    src = FILES[-1]
    dst = tmp_path / "weights.h5"
    with h5py.File(src, "r") as fin, h5py.File(dst, "w") as fout:
        mw = fin["model_weights"]
        for key, value in mw.attrs.items():
            fout.attrs[key] = value
        for name in mw:
            fin.copy(mw[name], fout, name=name)
    assert keras_h5.sniff(dst)
    model = modelkit.load(dst)
    assert model.metadata["weights_only"]
    ref = keras_models[src]
    expected = [w.numpy() for w in ref.weights]
    ours = [v.data.numpy() for v in model.main.variables]
    assert len(ours) == len(expected)
    for a, b in zip(ours, expected):
        np.testing.assert_array_equal(a, b)


def test_keras3_weights_file(tmp_path, keras_models):
    ref = keras_models[K3]
    path = tmp_path / "m.weights.h5"
    ref.save_weights(path)
    model = modelkit.load(path)
    ours = sorted((v.data.numpy() for v in model.main.variables), key=lambda a: (a.shape, a.sum()))
    theirs = sorted((w.numpy() for w in ref.weights), key=lambda a: (a.shape, a.sum()))
    assert len(ours) == len(theirs)
    for a, b in zip(ours, theirs):
        np.testing.assert_array_equal(a, b)


def test_lambda_layer_is_config_only(tmp_path):
    """A Lambda layer's code is never run: it loads as a node with its config."""
    marker = tmp_path / "ran"
    code = f"lambda x: __import__('pathlib').Path({str(marker)!r}).write_text('x')"
    config = {"class_name": "Sequential", "config": {"name": "s", "layers": [
        {"class_name": "InputLayer", "config": {"batch_shape": [None, 4], "name": "in"}},
        {"class_name": "Lambda", "config": {"name": "lam", "function": code,
                                            "function_type": "lambda"}},
        {"class_name": "Dense", "config": {"name": "d", "units": 2}}]}}
    path = tmp_path / "lambda.h5"
    with h5py.File(path, "w") as f:
        f.attrs["model_config"] = json.dumps(config)
        grp = f.create_group("model_weights").create_group("d")
        grp.attrs["weight_names"] = ["d/kernel", "d/bias"]
        grp["d/kernel"] = np.ones((4, 2), np.float32)
        grp["d/bias"] = np.zeros(2, np.float32)
    g = keras_h5.load(path).main
    assert [n.op for n in g.nodes] == ["InputLayer", "Lambda", "Dense"]
    assert g.node("lam").attrs["function"] == code
    assert g.node("in").outputs[0].shape == (None, 4)
    assert g.node("d").outputs[0].shape is None  # unknown after a Lambda
    np.testing.assert_array_equal(g.node("d").inputs[1].data.numpy(), np.ones((4, 2)))
    assert not marker.exists()


def test_loading_does_not_import_tensorflow():
    code = ("import sys, modelkit; m = modelkit.load(%r); "
            "[v.data.numpy() for v in m.main.values if v.data is not None]; "
            "print('tensorflow' in sys.modules, 'keras' in sys.modules)" % str(K3))
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         check=True).stdout.strip()
    assert out == "False False"


def test_userblock_signature_is_sniffed(tmp_path):
    path = tmp_path / "ub.h5"
    with h5py.File(path, "w", userblock_size=512) as f:
        f.attrs["x"] = 1
    assert keras_h5.sniff(path)
    assert not keras_h5.sniff(SAMPLES / "digits_frozen.pb")


@pytest.mark.parametrize("kind", ["no_model_config", "not_hdf5", "bad_json"])
def test_bad_files(tmp_path, kind):
    path = tmp_path / "bad.h5"
    if kind == "not_hdf5":
        path.write_bytes(b"\x89HDF\r\n\x1a\n" + bytes(100))
    else:
        with h5py.File(path, "w") as f:
            f.create_dataset("x", data=np.arange(3))
            if kind == "bad_json":
                f.attrs["model_config"] = "{not json"
    with pytest.raises(ModelReadError) as err:
        modelkit.load(path)
    assert err.value.exit_code == ExitCode.UNREADABLE
    assert str(path) in str(err.value) and "\n" not in str(err.value)


# ----------------------------------------------------------------------------- corrupt files

DATA = ROOT / "tests" / "data"
LOOP = DATA / "hdf5_endless_loop.h5"
LYING = DATA / "hdf5_lying_string_length.h5"


# NOTE: a forked child's ru_maxrss starts from its parent's peak (Linux keeps the
# pre-exec high-water mark), and this test process may hold TensorFlow; a small
# Python process starts the command, so the figure is the command's own.
_RUN = """
import json, os, subprocess, sys, time
start = time.monotonic()
proc = subprocess.Popen(sys.argv[1:], stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
err = proc.stderr.read().decode()
_, status, usage = os.wait4(proc.pid, 0)
print(json.dumps([os.waitstatus_to_exitcode(status), err, time.monotonic() - start,
                  usage.ru_maxrss // 1024]))
"""


def _cli(path: Path) -> tuple[int, str, float, int]:
    """`modelkit summarize path` as a process: exit code, stderr, wall seconds, and the
    peak RSS in MB of the process or any child it waited for (the kernel's accounting)."""
    from tests.conftest import MODELKIT

    out = subprocess.run([sys.executable, "-c", _RUN, MODELKIT, "summarize", str(path)],
                         capture_output=True, text=True, check=True, timeout=120).stdout
    code, err, wall, peak = json.loads(out)
    return code, err, wall, peak


def test_file_that_loops_the_hdf5_library_is_answered_quickly():
    """The HDF5 library never returns from this file's root attribute (checked here with
    h5py itself, stopped after 3 s); modelkit stops the walk when it has used more
    CPU time than a file of that size can need."""
    with pytest.raises(subprocess.TimeoutExpired):
        subprocess.run([sys.executable, "-c", "import h5py, sys; "
                        "h5py.File(sys.argv[1], 'r').attrs['model_config']", str(LOOP)],
                       timeout=3, capture_output=True)
    cpu, _, _ = keras_h5.probe_budget(LOOP.stat().st_size)
    assert cpu < 1.0
    code, err, wall, _ = _cli(LOOP)
    assert code == ExitCode.UNREADABLE
    assert err.count("\n") == 1 and str(LOOP) in err
    assert "CPU time" in err and "loops the HDF5 library" in err
    assert wall < 10  # NOTE: about 1.3 s on an idle machine; generous for a busy one


def test_lying_string_length_is_refused_without_the_memory():
    """One flipped bit in a vlen string's stated length: h5py would allocate 2 GB for a
    110 KB file. The walk's memory is bounded by the file's size."""
    sample = (SAMPLES / "digits_keras.h5").read_bytes()
    bad = LYING.read_bytes()
    assert len(bad) == len(sample)
    assert sum(a != b for a, b in zip(sample, bad)) == 1
    code, err, _, peak = _cli(LYING)
    assert code == ExitCode.UNREADABLE and err.count("\n") == 1
    budget = keras_h5.probe_budget(LYING.stat().st_size)[2] >> 20
    assert peak < 200 + budget


def test_dataset_claiming_more_than_the_file_is_refused(tmp_path):
    """An unwritten dataset takes no space in the file, but reading it would make
    (here) 4 GB of fill values; h5py agrees about the size it claims."""
    path = tmp_path / "huge.h5"
    with h5py.File(path, "w") as f:
        f.attrs["layer_names"] = ["d"]
        g = f.create_group("d")
        g.attrs["weight_names"] = ["d/kernel"]
        g.create_dataset("d/kernel", shape=(1 << 30,), dtype="float32")
    with h5py.File(path, "r") as f:
        assert f["d/d/kernel"].size * 4 > 1000 * path.stat().st_size
    with pytest.raises(ModelReadError, match="claims 4294967296 bytes of data, more than"):
        keras_h5.load(path)


def _children(pid: int) -> list[int]:
    try:
        with open(f"/proc/{pid}/task/{pid}/children") as f:
            return [int(c) for c in f.read().split()]
    except OSError:
        return []


def _cmdline(pid: int) -> bytes:
    try:
        with open(f"/proc/{pid}/cmdline", "rb") as f:
            return f.read()
    except OSError:
        return b""


def _alive(pid: int) -> bool:
    try:
        with open(f"/proc/{pid}/stat") as f:
            return f.read().split(")")[-1].split()[0] != "Z"
    except OSError:
        return False


@pytest.mark.parametrize("sig", ["SIGKILL", "SIGTERM"])
def test_reader_child_dies_with_its_parent(sig):
    """A supervisor that kills the reading process (a CI step's timeout) leaves no
    HDF5 reader spinning behind it."""
    import os
    import signal
    import time

    code = ("import sys; from modelkit.formats import keras_h5; "
            "keras_h5.PROBE_CPU_BASE = 60; keras_h5.load(sys.argv[1])")
    proc = subprocess.Popen([sys.executable, "-c", code, str(LOOP)],
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        deadline = time.monotonic() + 30
        # NOTE: the reader is forked, not exec'd: it keeps its parent's command line
        # (imports may start short-lived helper processes, which exec soon).
        forked: list[int] = []
        while not forked:
            assert time.monotonic() < deadline and proc.poll() is None
            seen = [c for c in _children(proc.pid) if _cmdline(c) == _cmdline(proc.pid)]
            time.sleep(0.3)
            forked = [c for c in seen if _alive(c) and _cmdline(c) == _cmdline(proc.pid)]
        child = forked[0]
        os.kill(proc.pid, getattr(signal, sig))
        proc.wait(timeout=5)
        gone = time.monotonic() + 1.0
        while _alive(child) and time.monotonic() < gone:
            time.sleep(0.01)
        assert not _alive(child), "the HDF5 reader outlived its parent"
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
