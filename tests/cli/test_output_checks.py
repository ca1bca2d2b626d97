"""Every output of `debug` is checked before any work (no TensorFlow imported, nothing
written): paths that coincide, an existing one without --force, an extension that is
not what is written; and `transform` names a source of the wrong kind first."""

from __future__ import annotations

import pytest

from tests.cli.test_main import probe
from tests.conftest import SAMPLES, run_cli

FLOAT = SAMPLES / "digits_float.tflite"
DATA = SAMPLES / "digits_calib.npy"


def test_csv_and_save_on_one_path_refused_before_any_work(tmp_path):
    out = tmp_path / "layers.csv"
    code, lines, tf_loaded = probe("debug", FLOAT, "--data", DATA, "--csv", out,
                                    "--save", out)
    assert code == 2 and len(lines) == 1, lines
    assert "--save writes a TFLite flatbuffer; name it with the .tflite extension" in lines[0]
    assert not tf_loaded and list(tmp_path.iterdir()) == []


def test_save_under_a_pb_name_is_refused(tmp_path):
    code, lines, tf_loaded = probe("debug", FLOAT, "--data", DATA, "--save",
                                    tmp_path / "q.pb")
    assert code == 2 and len(lines) == 1
    assert lines[0] == (f"modelkit: error: {tmp_path / 'q.pb'}: --save writes a TFLite "
                        "flatbuffer; name it with the .tflite extension (the name ends "
                        "in .pb)")
    assert not tf_loaded and list(tmp_path.iterdir()) == []


def test_an_existing_output_stops_debug_before_the_others_are_written(tmp_path):
    kept = tmp_path / "q.tflite"
    kept.write_bytes(b"an older model")
    code, lines, tf_loaded = probe("debug", FLOAT, "--data", DATA, "--csv",
                                    tmp_path / "layers.csv", "--save", kept)
    assert code == 2 and lines == [f"modelkit: error: {kept}: already exists; pass --force "
                                   "to replace it"]
    assert not tf_loaded
    assert sorted(p.name for p in tmp_path.iterdir()) == ["q.tflite"]
    assert kept.read_bytes() == b"an older model"


def test_two_names_of_one_file_are_refused_even_with_force(tmp_path):
    table = tmp_path / "layers.csv"
    table.write_text("mine")
    (tmp_path / "q.tflite").symlink_to(table)
    code, lines, tf_loaded = probe("debug", FLOAT, "--data", DATA, "--csv", table,
                                    "--save", tmp_path / "q.tflite", "--force")
    assert code == 2 and len(lines) == 1
    assert "--csv and --save name the same file" in lines[0]
    assert not tf_loaded and table.read_text() == "mine"


@pytest.mark.parametrize("src,dst,spec,words", [
    ("digits_frozen.pb", "out.pb", "set_io_type(type=uint8)",
     "digits_frozen.pb: is a TF graph; these transforms work on TFLite models"),
    ("digits_int8.tflite", "out.tflite", "strip_unused_nodes",
     "digits_int8.tflite: is a TFLite model; these transforms work on TF graphs"),
])
def test_transform_names_the_source_kind_before_the_output_extension(tmp_path, src, dst,
                                                                     spec, words):
    res = run_cli("transform", str(SAMPLES / src), str(tmp_path / dst), "-t", spec)
    assert res.returncode == 2
    assert res.stderr.count("\n") == 1 and words in res.stderr
    assert list(tmp_path.iterdir()) == []


@pytest.mark.parametrize("spec,words", [
    ("rename_tensor(old=nosuch, new=x)", "rename_tensor: no tensor named nosuch"),
    ("rename_tensor(old=serving_default_input:0, new=StatefulPartitionedCall_1:0)",
     "rename_tensor: subgraph 0 already has a tensor named StatefulPartitionedCall_1:0"),
])
def test_a_bad_pass_parameter_exits_2(tmp_path, spec, words):
    """Both names are checked against the interpreter's tensor names."""
    from ai_edge_litert.interpreter import Interpreter

    names = {d["name"] for d in Interpreter(model_path=str(SAMPLES / "digits_int8.tflite"))
             .get_tensor_details()}
    assert "nosuch" not in names and "StatefulPartitionedCall_1:0" in names
    res = run_cli("transform", str(SAMPLES / "digits_int8.tflite"), str(tmp_path / "o.tflite"),
                  "-t", spec)
    assert res.returncode == 2
    assert res.stderr == f"modelkit: error: {SAMPLES / 'digits_int8.tflite'}: {words}" + \
        res.stderr[res.stderr.index(words) + len(words):]
    assert res.stderr.count("\n") == 1 and list(tmp_path.iterdir()) == []


def test_run_output_onto_its_own_data_is_refused_even_with_force(tmp_path):
    import numpy as np

    data = tmp_path / "data.npz"
    np.savez(data, x=np.load(DATA)[:4])
    before = data.read_bytes()
    res = run_cli("run", str(FLOAT), "--data", str(data), "-o", str(data), "--force")
    assert res.returncode == 2 and res.stderr.count("\n") == 1
    assert "the output is the input" in res.stderr
    assert data.read_bytes() == before
