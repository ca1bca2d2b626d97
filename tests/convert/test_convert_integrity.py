"""convert tells the truth about its output: the SavedModel signature's names in the
TFLite model, nothing written (and no "wrote" line) when verification fails, and an
interrupt that always ends as one (exit 130, nothing written), even when TensorFlow
swallows it."""

from __future__ import annotations

import json
import os
import signal
import subprocess
from pathlib import Path

import numpy as np
import pytest

from tests.conftest import MODELKIT, SAMPLES
from tests.convert.conftest import cli


@pytest.fixture(scope="module")
def work(tmp_path_factory):
    return tmp_path_factory.mktemp("integrity")


def _two_outputs_module(tf):
    rng = np.random.default_rng(0)

    class TwoOutputs(tf.Module):
        def __init__(self):
            self.w = tf.Variable(rng.standard_normal((4, 3)).astype(np.float32))
            self.slot = tf.Variable(np.zeros((4, 3), np.float32))

        @tf.function(input_signature=[tf.TensorSpec([1, 4], tf.float32, name="audio")])
        def serve(self, audio):
            h = tf.matmul(audio, self.w)
            return {"note": tf.nn.softmax(h), "contour": tf.reduce_sum(h, axis=1, keepdims=True)}

    return TwoOutputs()


@pytest.fixture(scope="module")
def old_savedmodel(tf, work):
    """A SavedModel with outputs `contour` and `note` that TF 2.21's loader rejects as it
    rejects Keras 2-era ones: its object graph gives a plain object an optimizer slot
    variable, and restoring it calls `add_slot` ('_UserObject' object has no attribute
    'add_slot'). The TF1 loader, which ignores the object graph, reads it."""
    from tensorflow.core.protobuf import saved_model_pb2

    m = _two_outputs_module(tf)
    path = work / "old_savedmodel"
    tf.saved_model.save(m, str(path), signatures={"serving_default": m.serve})
    pb = path / "saved_model.pb"
    sm = saved_model_pb2.SavedModel.FromString(pb.read_bytes())
    root = sm.meta_graphs[0].object_graph_def.nodes[0]
    ids = {c.local_name: c.node_id for c in root.children}
    root.slot_variables.add(original_variable_node_id=ids["w"], slot_name="m",
                            slot_variable_node_id=ids["slot"])
    pb.write_bytes(sm.SerializeToString())
    with pytest.raises(AttributeError, match="add_slot"):
        tf.saved_model.load(str(path))
    return path


def _tf1_signature_outputs(tf, path: Path, x: np.ndarray) -> dict[str, np.ndarray]:
    """The signature's outputs by key, run by TF's TF1 loader in a session."""
    v1 = tf.compat.v1
    graph = tf.Graph()
    with graph.as_default(), v1.Session(graph=graph) as sess:
        meta = v1.saved_model.loader.load(sess, ["serve"], str(path))
        sig = meta.signature_def["serving_default"]
        keys = sorted(sig.outputs)
        got = sess.run([sig.outputs[k].name for k in keys], {sig.inputs["audio"].name: x})
    return dict(zip(keys, got))


def test_v1_converted_savedmodel_keeps_the_signature_keys(tf, old_savedmodel, work):
    """The TF1 converter (the fallback for such SavedModels) writes no SignatureDef and
    names the outputs `StatefulPartitionedCall:1`; the model gets the SavedModel
    signature's keys, and the report uses them."""
    from ai_edge_litert.interpreter import Interpreter

    dst = work / "old.tflite"
    res = cli(old_savedmodel, dst, "--json")
    assert res.exit_code == 0, res.stderr
    assert "falling back to tf.compat.v1" in res.stderr
    report = json.loads(res.stdout)
    assert [o["name"] for o in report["outputs"]] == ["contour", "note"]
    assert [o["name"] for o in report["verification"]["outputs"]] == ["contour", "note"]
    assert [i["name"] for i in report["inputs"]] == ["audio"]

    it = Interpreter(model_path=str(dst))
    assert it.get_signature_list() == {"serving_default": {"inputs": ["audio"],
                                                           "outputs": ["contour", "note"]}}
    x = np.random.default_rng(1).standard_normal((1, 4)).astype(np.float32)
    got = it.get_signature_runner("serving_default")(audio=x)
    want = _tf1_signature_outputs(tf, old_savedmodel, x)
    assert set(got) == set(want) == {"contour", "note"}
    for key in want:
        np.testing.assert_allclose(got[key], want[key], rtol=1e-5, atol=1e-6)


# ----------------------------------------------------------------------------- NaN outputs

def test_nan_outputs_are_no_agreement_and_nothing_is_reported_written(work, monkeypatch):
    """An interpreter that computes NaN: verification calls the result broken, no
    sample agrees (argmax of a NaN row is 0, which matched every source row whose top
    class is 0), and neither the text nor the JSON report names a written file."""
    from modelkit.runtime import tflite as tflite_backend

    real_run = tflite_backend.TFLiteBackend._run

    def nan_run(self, feeds):
        return {k: np.full_like(v, np.nan) for k, v in real_run(self, feeds).items()}

    monkeypatch.setattr(tflite_backend.TFLiteBackend, "_run", nan_run)
    dst = work / "nan.tflite"
    calib = SAMPLES / "digits_calib.npy"
    text = cli(SAMPLES / "digits_frozen.pb", dst, "--data", calib)
    assert text.exit_code == 1
    assert "wrote" not in text.stdout
    assert "not written" in text.stdout and "(nothing written)" in text.stderr
    assert "NaN or Inf where the source's is finite" in text.stdout
    assert "top-1 agreement 0.0%" in text.stdout
    assert not dst.exists() and list(work.glob(".nan.tflite*")) == []

    res = cli(SAMPLES / "digits_frozen.pb", dst, "--data", calib, "--json")
    assert res.exit_code == 1
    report = json.loads(res.stdout)
    assert report["output"]["written"] is False and report["output"]["size_bytes"] is None
    (probs,) = report["verification"]["outputs"]
    assert probs["top1_agreement"] == 0.0
    # Every value of every sample (10 classes) is NaN where the source's is finite.
    assert probs["nonfinite_where_source_finite"] == 10 * report["verification"]["samples"]
    assert report["verification"]["ok"] is False
    assert not dst.exists()


def test_a_written_file_is_reported_with_its_size(work):
    dst = work / "ok.tflite"
    res = cli(SAMPLES / "digits_frozen.pb", dst, "--json", "--no-verify")
    assert res.exit_code == 0, res.stderr
    out = json.loads(res.stdout)["output"]
    assert out["written"] is True and out["size_bytes"] == dst.stat().st_size


# ----------------------------------------------------------------------------- interrupts

def _convert_process(src: Path, dst: Path, hook: str | None = None) -> subprocess.Popen:
    env = {**os.environ, "TF_CPP_MIN_LOG_LEVEL": "3"}
    env.pop("MODELKIT_TEST_SIGINT_AT", None)
    if hook:
        env["MODELKIT_TEST_SIGINT_AT"] = hook
    return subprocess.Popen([MODELKIT, "convert", str(src), str(dst)], env=env,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)


@pytest.fixture(scope="module")
def savedmodel(tf, work):
    m = _two_outputs_module(tf)
    path = work / "savedmodel"
    tf.saved_model.save(m, str(path), signatures={"serving_default": m.serve})
    return path


def test_interrupts_end_as_interrupted_with_nothing_written(savedmodel, tmp_path):
    """Ctrl-C at several points of a SavedModel conversion, among them interrupts that
    are swallowed (raised inside a `__del__`, as TensorFlow's AtomicFunction does) while
    the conversion goes on: always exit 130, no output, no temporary file beside it."""
    runs = {}
    # A real SIGINT sent once the converter runs.
    folder = tmp_path / "sent"
    folder.mkdir()
    proc = _convert_process(savedmodel, folder / "out.tflite")
    seen = []
    for line in proc.stderr:
        seen.append(line)
        if line.startswith("modelkit: converting"):
            proc.send_signal(signal.SIGINT)
            break
    runs["sent while converting"] = (proc, folder, seen)
    # Swallowed before the converter runs (it then converts), and at the last moment.
    for hook in ("convert:swallowed", "rename:swallowed"):
        folder = tmp_path / hook.replace(":", "_")
        folder.mkdir()
        runs[hook] = (_convert_process(savedmodel, folder / "out.tflite", hook), folder, [])
    for what, (proc, folder, seen) in runs.items():
        out, err = proc.communicate(timeout=300)
        err = "".join(seen) + err
        assert proc.returncode == 130, (what, err[-2000:])
        assert err.rstrip().endswith("modelkit: error: interrupted"), (what, err[-2000:])
        assert "wrote" not in out, what
        assert list(folder.iterdir()) == [], what
        if what.endswith("swallowed"):
            # The interrupt was indeed swallowed where it was sent.
            assert "Exception ignored in" in err, what


@pytest.mark.filterwarnings("ignore::pytest.PytestUnraisableExceptionWarning")
def test_a_swallowed_interrupt_is_no_reason_to_fall_back_to_the_tf1_loader(tf,
                                                                          old_savedmodel):
    """The TF2 loader fails on this SavedModel, so it falls back to the TF1 loader; not
    when an interrupt came (and was swallowed) in the meantime."""
    from modelkit import interrupts
    from modelkit.runtime.tf_loaders import load_savedmodel

    assert load_savedmodel(tf, old_savedmodel) is None
    loaded = []
    with pytest.raises(KeyboardInterrupt):
        with interrupts.recording():
            interrupts._SwallowingCollect()
            assert interrupts.received()
            loaded.append(load_savedmodel(tf, old_savedmodel))
    assert loaded == []
    assert signal.getsignal(signal.SIGINT) is signal.default_int_handler
    assert not interrupts.received()


# ------------------------------------------------------- variables the converter leaves

def test_keras3_savedmodel_variables_are_frozen(tf, tmp_path):
    """`tf.saved_model.save` of a Keras 3 model: TF's converter keeps its weights as
    VAR_HANDLE/READ_VARIABLE that nothing assigns (the interpreter fails at invoke);
    convert converts the signature again with its variables frozen. Oracle: the Keras
    model's own outputs, and the interpreter running the written file."""
    import keras
    from ai_edge_litert.interpreter import Interpreter

    from modelkit.check.variables import unassigned_reads
    from modelkit.formats.tflite import load as load_tflite

    keras.utils.set_random_seed(0)
    model = keras.Sequential([keras.Input((4,)), keras.layers.Dense(3, activation="relu"),
                              keras.layers.Dense(2)])
    src = tmp_path / "k3_sm"
    tf.saved_model.save(model, str(src))
    dst = tmp_path / "k3.tflite"
    res = cli(src, dst, "--json")
    assert res.exit_code == 0, res.stderr
    assert not unassigned_reads(load_tflite(dst))
    x = np.random.default_rng(1).standard_normal((1, 4)).astype(np.float32)
    runner = Interpreter(model_path=str(dst)).get_signature_runner("serving_default")
    (out,) = runner(inputs=x).values()
    np.testing.assert_allclose(out, model(x).numpy(), atol=1e-5)


def test_a_model_its_interpreter_cannot_run_is_not_written(monkeypatch, tmp_path):
    """A converted model that fails at invoke is a failed conversion (exit 1, nothing
    written), never a skipped verification with exit 0."""
    from modelkit.convert import verify
    from modelkit.runtime.tflite import InvokeError

    def failing(*args, **kwargs):
        raise InvokeError("the model reads a resource variable that nothing assigned",
                          "x.tflite", ["READ_VARIABLE"], "read_variable.cc variable != nullptr")

    monkeypatch.setattr(verify, "compare", failing)
    dst = tmp_path / "out.tflite"
    res = cli(SAMPLES / "digits_frozen.pb", dst)
    assert res.exit_code == 1
    assert "fails in the TFLite interpreter" in res.stderr and "nothing written" in res.stderr
    assert "wrote" not in res.stdout
    assert list(tmp_path.iterdir()) == []
