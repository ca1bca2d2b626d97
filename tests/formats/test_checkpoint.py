"""The checkpoint adapter and the tensor-bundle reader against TensorFlow's checkpoint API."""

from __future__ import annotations

import shutil
from pathlib import Path

import numpy as np
import pytest

import modelkit
from modelkit.errors import ExitCode, ModelReadError
from modelkit.formats import checkpoint, tensor_bundle

ROOT = Path(__file__).resolve().parents[2]
SAMPLES = ROOT / "samples"
CKPT = SAMPLES / "digits_ckpt"
PREFIX = CKPT / "model.ckpt"
SM_VARS = SAMPLES / "digits_savedmodel" / "variables" / "variables"


@pytest.fixture(scope="module")
def tf():
    return pytest.importorskip("tensorflow")


def _entries(model) -> dict:
    return {v.meta["checkpoint_key"]: v for g in model.graphs for v in g.values
            if "checkpoint_key" in v.meta}


@pytest.mark.parametrize("prefix", [PREFIX, SM_VARS], ids=["tf1", "tf2"])
def test_variables_match_list_variables_and_values(tf, prefix):
    model = checkpoint.load(f"{prefix}.index")
    ours = _entries(model)
    theirs = dict(tf.train.list_variables(str(prefix)))
    assert set(ours) == set(theirs)
    reader = tf.train.load_checkpoint(str(prefix))
    dtypes = reader.get_variable_to_dtype_map()
    for key, value in ours.items():
        assert list(value.shape) == list(theirs[key])
        assert value.data.dtype.value == dtypes[key].name
        expected = reader.get_tensor(key)
        if isinstance(expected, bytes):  # a scalar string (the TF2 object graph)
            assert value.data.numpy().item() == expected
        else:
            np.testing.assert_array_equal(value.data.numpy(), expected)


def test_values_are_lazy():
    """Loading reads only the index: a missing data shard shows only on first read."""
    model = checkpoint.load(CKPT)
    v = model.main.value("conv1/kernel:0")
    assert v.is_variable and v.shape == (3, 3, 1, 8) and v.data.nbytes == 3 * 3 * 8 * 4
    assert v.meta["checkpoint_key"] == "conv1/kernel"


@pytest.mark.parametrize("spelling", ["folder", "prefix", "index", "meta", "data"])
def test_path_spellings_resolve_to_the_same_checkpoint(tmp_path, spelling):
    # NOTE: a copy, so the state file's absolute path points elsewhere (as after a move).
    folder = tmp_path / "ck"
    shutil.copytree(CKPT, folder)
    path = {"folder": folder, "prefix": folder / "model.ckpt",
            "index": folder / "model.ckpt.index", "meta": folder / "model.ckpt.meta",
            "data": folder / "model.ckpt.data-00000-of-00001"}[spelling]
    assert checkpoint.resolve_prefix(path) == folder / "model.ckpt"
    model = checkpoint.load(path)
    assert model.format == "checkpoint"
    assert model.main.node("probs").op == "Softmax"
    assert "conv1/kernel" in _entries(model)


def test_registry_detects_checkpoint_folder_and_index():
    assert modelkit.detect_format(CKPT) == "checkpoint"
    assert modelkit.detect_format(f"{PREFIX}.index") == "checkpoint"
    assert modelkit.detect_format(f"{PREFIX}.meta") == "checkpoint"


def test_graph_matches_meta_graph(tf):
    model = checkpoint.load(CKPT)
    mg = tf.compat.v1.MetaGraphDef()
    mg.ParseFromString((CKPT / "model.ckpt.meta").read_bytes())
    assert [n.name for n in model.main.nodes] == [n.name for n in mg.graph_def.node]
    info = model.metadata["meta_graph"]
    assert info["train_ops"] == ["train_op"]
    assert info["saver"]["restore_op"] == mg.saver_def.restore_op_name


def test_object_based_checkpoint_is_a_graph_of_variables():
    model = checkpoint.load(SM_VARS.parent)
    g = model.main
    assert g.nodes == [] and g.variables
    assert {v.meta.get("full_name") for v in g.variables} >= {"conv1/kernel", "logits/bias"}
    graph_entry = g.value(tensor_bundle.OBJECT_GRAPH_KEY)
    assert graph_entry is not None and not graph_entry.is_variable


def test_freeze_outputs_equal_the_restored_checkpoint(tf):
    from modelkit.analysis.tf_summary import inference_io

    outputs = [n.name for n in inference_io(checkpoint.load(CKPT).main)[1]]
    assert outputs == ["probs"]
    frozen = checkpoint.freeze(tf, CKPT, outputs)
    gd = tf.compat.v1.GraphDef.FromString(frozen)
    ops = {n.op for n in gd.node}
    assert "VariableV2" not in ops and "SaveV2" not in ops and "ApplyAdam" not in ops
    assert {"probs", "input"} <= {n.name for n in gd.node}
    x = np.load(SAMPLES / "digits_test.npz")["x"][:32]
    v1 = tf.compat.v1
    graph = tf.Graph()
    with graph.as_default(), v1.Session(graph=graph) as sess:
        saver = v1.train.import_meta_graph(str(PREFIX) + ".meta")
        saver.restore(sess, str(PREFIX))
        expected = sess.run("probs:0", {"input:0": x})
    graph = tf.Graph()
    with graph.as_default(), v1.Session(graph=graph) as sess:
        v1.import_graph_def(gd, name="")
        got = sess.run("probs:0", {"input:0": x})
    np.testing.assert_array_equal(got, expected)


def test_formats_import_no_analysis():
    """Layering: a format adapter imports only the IR and its own helpers."""
    import ast

    for path in (ROOT / "modelkit" / "formats").rglob("*.py"):
        tree = ast.parse(path.read_text())
        names = [a.name for n in ast.walk(tree) if isinstance(n, ast.Import) for a in n.names]
        names += [n.module or "" for n in ast.walk(tree) if isinstance(n, ast.ImportFrom)]
        bad = [m for m in names if m.startswith(("modelkit.analysis", "modelkit.convert",
                                                  "modelkit.cli", "modelkit.runtime"))]
        assert not bad, f"{path.name} imports {bad}"


@pytest.mark.parametrize("spelling", ["checkpoint", "model.ckpt", "model.ckpt.index",
                                      "model.ckpt.meta", "model.ckpt.data-00000-of-00001", ""])
def test_every_spelling_names_the_same_checkpoint(tf, spelling):
    """The `checkpoint` state file names a checkpoint as TF's own
    `tf.train.latest_checkpoint` reads it; so do the prefix, its files and the folder."""
    path = CKPT / spelling if spelling else CKPT
    assert checkpoint.sniff(path)
    assert modelkit.detect_format(path) == "checkpoint"
    model = modelkit.load(path)
    latest = tf.train.latest_checkpoint(str(CKPT))
    assert Path(model.metadata["prefix"]).resolve() == Path(latest).resolve()
    assert set(_entries(model)) == {k for k, _ in tf.train.list_variables(latest)}


def test_state_file_naming_a_moved_checkpoint(tmp_path, tf):
    """A state file written elsewhere holds an absolute path; the files sit beside it."""
    folder = tmp_path / "moved"
    shutil.copytree(CKPT, folder)
    (folder / "checkpoint").write_text('model_checkpoint_path: "/gone/away/model.ckpt"\n'
                                       'all_model_checkpoint_paths: "/gone/away/model.ckpt"\n')
    model = modelkit.load(folder / "checkpoint")
    assert Path(model.metadata["prefix"]) == folder / "model.ckpt"


def test_parameter_counts_agree_with_each_other_and_tf(tf):
    """The summary's total equals the TF facts' const + variable parameters, and each
    equals what TensorFlow counts: numeric constants of the meta graph (the saver's
    string constants are no parameters) and the variables tf.train.list_variables
    names."""
    from modelkit.analysis.render import render_summary
    from modelkit.analysis.summary import summarize

    facts = summarize(modelkit.load(CKPT))
    tf_facts = facts["tf"]
    assert facts["parameters"]["count"] == tf_facts["const_params"] + tf_facts["variable_params"]
    variables = sum(int(np.prod(shape)) for _, shape in tf.train.list_variables(str(PREFIX)))
    assert tf_facts["variable_params"] == variables
    graph = tf.Graph()
    with graph.as_default():
        tf.compat.v1.train.import_meta_graph(str(PREFIX) + ".meta")
    consts = sum(op.outputs[0].shape.num_elements() for op in graph.get_operations()
                 if op.type == "Const" and op.outputs[0].dtype != tf.string)
    assert tf_facts["const_params"] == consts
    assert f"{facts['parameters']['count']:,}" in render_summary(facts)


def test_freeze_needs_outputs(tf):
    with pytest.raises(modelkit.errors.UsageError, match="output node names"):
        checkpoint.freeze(tf, CKPT, [])


def test_freeze_rejects_unknown_output(tf):
    with pytest.raises(modelkit.errors.UsageError):
        checkpoint.freeze(tf, CKPT, outputs=["no_such_node"])


# ----------------------------------------------------------------------------- bad input

def _copy_with_index(tmp_path: Path, index: bytes) -> Path:
    folder = tmp_path / "ck"
    shutil.copytree(CKPT, folder)
    (folder / "model.ckpt.index").write_bytes(index)
    return folder


@pytest.mark.parametrize("kind", ["garbage", "truncated", "bad_block_handle", "empty_table"])
def test_corrupt_index_gives_read_error(tmp_path, kind):
    good = (CKPT / "model.ckpt.index").read_bytes()
    if kind == "garbage":
        data = np.random.default_rng(1).integers(0, 256, 2048, dtype=np.uint8).tobytes()
    elif kind == "truncated":
        data = good[: len(good) // 2]
    elif kind == "bad_block_handle":
        # Keep the magic, point the index handle far outside the file.
        footer = bytearray(good[-48:])
        footer[:40] = bytes([0, 0, 0xFF, 0xFF, 0xFF, 0x7F, 0x10]) + bytes(33)
        data = good[:-48] + bytes(footer)
    else:
        data = bytes(40) + tensor_bundle.TABLE_MAGIC.to_bytes(8, "little")
    folder = _copy_with_index(tmp_path, data)
    with pytest.raises(ModelReadError) as err:
        checkpoint.load(folder / "model.ckpt.index")
    assert err.value.exit_code == ExitCode.UNREADABLE
    assert "model.ckpt.index" in str(err.value) and "\n" not in str(err.value)


def test_missing_data_shard_fails_on_read_only(tmp_path):
    folder = tmp_path / "ck"
    shutil.copytree(CKPT, folder)
    (folder / "model.ckpt.data-00000-of-00001").unlink()
    model = checkpoint.load(folder)
    with pytest.raises(ModelReadError, match="data shard"):
        model.main.value("conv1/kernel:0").data.numpy()


def test_folder_without_checkpoint_is_rejected(tmp_path):
    (tmp_path / "x.txt").write_text("hi")
    assert not checkpoint.sniff(tmp_path)
    with pytest.raises(ModelReadError, match="no checkpoint"):
        checkpoint.load(tmp_path)
