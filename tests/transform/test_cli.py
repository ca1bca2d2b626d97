"""`modelkit transform` as a user runs it: exit codes, atomic outputs, --list,
the per-pass summary on stderr, every TF-family source."""

from __future__ import annotations

import hashlib
import json

import numpy as np
import pytest

from tests.conftest import SAMPLES, run_cli
from tests.transform.conftest import canonical_nodes, run_graph, tf_transform

CHAIN = "strip_unused_nodes remove_nodes(op=Identity) sort_by_execution_order"


def _digest(path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


@pytest.fixture(scope="module")
def image() -> np.ndarray:
    return np.load(SAMPLES / "digits_calib.npy")[:1].astype(np.float32)


def test_list_names_every_transform_with_its_parameters():
    from modelkit.transform import all_passes

    res = run_cli("transform", "--list")
    assert res.returncode == 0, res.stderr
    for name, p in all_passes().items():
        assert f"  {name}: {p.doc}" in res.stdout
        for q in p.params:
            assert f"      {q.name}" in res.stdout
    data = json.loads(run_cli("transform", "--list", "--json").stdout)
    assert data["schema_version"] == 1
    assert {t["name"] for t in data["transforms"]} == set(all_passes())


def test_chain_equals_tf_and_reports_each_pass(tmp_path, image):
    src = SAMPLES / "digits_frozen.pb"
    before = _digest(src)
    dst = tmp_path / "clean.pb"
    res = run_cli("transform", str(src), str(dst), "--transforms", CHAIN, "--json")
    assert res.returncode == 0, res.stderr
    assert _digest(src) == before
    lines = [line for line in res.stderr.splitlines() if line.startswith("modelkit: ")]
    assert lines[0] == "modelkit: strip_unused_nodes: 32 -> 32 nodes (no change)"
    assert lines[1].startswith("modelkit: remove_nodes: 32 -> 24 nodes (Identity -8)")
    assert lines[2].startswith("modelkit: sort_by_execution_order: 24 -> 24 nodes")
    report = json.loads(res.stdout)
    assert report["schema_version"] == 1
    assert report["inputs"] == ["input"] and report["outputs"] == ["probs"]
    assert [p["name"] for p in report["passes"]] == CHAIN.replace("(op=Identity)", "").split()
    assert report["passes"][1]["op_delta"] == {"Identity": -8}
    theirs = tf_transform(src.read_bytes(), "input", "probs", CHAIN)
    assert canonical_nodes(dst.read_bytes()) == canonical_nodes(theirs)
    np.testing.assert_array_equal(run_graph(dst.read_bytes(), {"input": image}, ["probs"])[0],
                                  run_graph(theirs, {"input": image}, ["probs"])[0])


def test_text_in_text_out(tmp_path):
    from google.protobuf import text_format
    from tensorboard.compat.proto import graph_pb2

    dst = tmp_path / "clean.pbtxt"
    res = run_cli("transform", str(SAMPLES / "digits_frozen.pbtxt"), str(dst),
                  "-t", "remove_nodes(op=Identity)")
    assert res.returncode == 0, res.stderr
    gd = text_format.Parse(dst.read_text(), graph_pb2.GraphDef())
    theirs = tf_transform((SAMPLES / "digits_frozen.pb").read_bytes(), "input", "probs",
                          "remove_nodes(op=Identity)")
    assert canonical_nodes(gd.SerializeToString()) == canonical_nodes(theirs)


@pytest.mark.parametrize("spec,words", [
    ("bogus", "Transform 'bogus' not recognized."),
    ("remove_nodes", "remove_nodes expects at least one 'op' argument"),
    ("strip_unused_nodes(typo=1)", "strip_unused_nodes has no parameter 'typo'"),
    ('remove_nodes(op="Identity)', "--transforms: unterminated quoted value"),
    ("set_io_type(type=int8)", "is a TF graph; these transforms work on TFLite models"),
])
def test_usage_errors_exit_2_and_write_nothing(tmp_path, spec, words):
    dst = tmp_path / "out.pb"
    res = run_cli("transform", str(SAMPLES / "digits_frozen.pb"), str(dst), "-t", spec)
    assert res.returncode == 2
    assert words in res.stderr
    assert res.stderr.count("\n") == 1
    assert not dst.exists() and list(tmp_path.iterdir()) == []


def test_unreadable_model_exits_3(tmp_path):
    bad = tmp_path / "bad.pb"
    bad.write_bytes(b"\x0a\xff\xff\xff\xff garbage")
    res = run_cli("transform", str(bad), str(tmp_path / "out.pb"), "-t", "remove_device")
    assert res.returncode == 3
    assert "bad.pb" in res.stderr and "Traceback" not in res.stderr
    assert not (tmp_path / "out.pb").exists()


def test_existing_output_needs_force(tmp_path):
    dst = tmp_path / "out.pb"
    dst.write_bytes(b"keep me")
    res = run_cli("transform", str(SAMPLES / "digits_frozen.pb"), str(dst), "-t",
                  "remove_device")
    assert res.returncode == 2 and "--force" in res.stderr
    assert dst.read_bytes() == b"keep me"
    res = run_cli("transform", str(SAMPLES / "digits_frozen.pb"), str(dst), "-t",
                  "remove_device", "--force")
    assert res.returncode == 0, res.stderr
    assert dst.read_bytes() != b"keep me"


def test_failing_pass_exits_1_and_leaves_no_file(tmp_path):
    dst = tmp_path / "out.pb"
    res = run_cli("transform", str(SAMPLES / "digits_frozen.pb"), str(dst), "-t",
                  "rename_node(old_node_name=input, new_node_name=probs)")
    assert res.returncode == 1
    assert "already using probs" in res.stderr
    assert list(tmp_path.iterdir()) == []


def test_unknown_output_name_exits_2(tmp_path):
    res = run_cli("transform", str(SAMPLES / "digits_frozen.pb"), str(tmp_path / "o.pb"),
                  "-t", "strip_unused_nodes", "--outputs", "nope")
    assert res.returncode == 2 and "nope" in res.stderr


def test_tflite_source(tmp_path, image):
    from ai_edge_litert.interpreter import Interpreter

    dst = tmp_path / "u8.tflite"
    res = run_cli("transform", str(SAMPLES / "digits_int8.tflite"), str(dst), "-t",
                  "set_io_type(type=uint8) strip_unused_buffers")
    assert res.returncode == 0, res.stderr
    assert "set_io_type: 10 -> 12 nodes (QUANTIZE +2)" in res.stderr
    it = Interpreter(model_path=str(dst))
    assert it.get_input_details()[0]["dtype"] == np.uint8
    res = run_cli("transform", str(SAMPLES / "digits_int8.tflite"), str(tmp_path / "x.tflite"),
                  "-t", "remove_device")
    assert res.returncode == 2 and "is a TFLite model; these transforms work on TF graphs" \
        in res.stderr


def test_checkpoint_is_frozen_first(tmp_path, image):
    """The digits checkpoint freezes to the same graph as digits_frozen.pb."""
    dst = tmp_path / "ckpt.pb"
    res = run_cli("transform", str(SAMPLES / "digits_ckpt"), str(dst), "-t", CHAIN,
                  "--outputs", "probs", timeout=300)
    assert res.returncode == 0, res.stderr
    want = run_graph((SAMPLES / "digits_frozen.pb").read_bytes(), {"input": image}, ["probs"])
    np.testing.assert_allclose(run_graph(dst.read_bytes(), {"input": image}, ["probs"])[0],
                               want[0], rtol=1e-5, atol=1e-6)


def test_savedmodel_is_frozen_first(tmp_path, image):
    import tensorflow as tf

    dst = tmp_path / "sm.pb"
    res = run_cli("transform", str(SAMPLES / "digits_savedmodel"), str(dst), "-t", CHAIN,
                  "--json", timeout=300)
    assert res.returncode == 0, res.stderr
    report = json.loads(res.stdout)
    fn = tf.saved_model.load(str(SAMPLES / "digits_savedmodel")).signatures["serving_default"]
    want = next(iter(fn(tf.constant(image)).values())).numpy()
    got = run_graph(dst.read_bytes(), {report["inputs"][0]: image}, report["outputs"])[0]
    np.testing.assert_allclose(got, want, rtol=1e-5, atol=1e-6)


def test_structural_and_tflite_passes_do_not_import_tensorflow(tmp_path):
    import subprocess
    import sys

    code = (
        "import sys\nfrom pathlib import Path\n"
        "from modelkit.cli.transform import run_transform\n"
        f"run_transform(Path({str(SAMPLES / 'digits_frozen.pb')!r}), "
        f"Path({str(tmp_path / 'a.pb')!r}),"
        " 'strip_unused_nodes remove_nodes(op=Identity) merge_duplicate_nodes obfuscate_names "
        "add_default_attributes insert_logging sort_by_execution_order')\n"
        f"run_transform(Path({str(SAMPLES / 'digits_int8.tflite')!r}), "
        f"Path({str(tmp_path / 'b.tflite')!r}), 'set_io_type(type=uint8) strip_unused_buffers')\n"
        "print('tensorflow' in sys.modules, 'keras' in sys.modules)\n")
    res = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         timeout=120)
    assert res.returncode == 0, res.stderr
    assert res.stdout.split() == ["False", "False"]
