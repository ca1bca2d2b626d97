"""The SavedModel adapter against TensorFlow's v1 SavedModel loader and checkpoint reader."""

from __future__ import annotations

import shutil
from pathlib import Path

import numpy as np
import pytest

import modelkit
from modelkit.errors import ExitCode, ModelReadError
from modelkit.formats import savedmodel

ROOT = Path(__file__).resolve().parents[2]
SM = ROOT / "samples" / "digits_savedmodel"


@pytest.fixture(scope="module")
def tf():
    return pytest.importorskip("tensorflow")


@pytest.fixture(scope="module")
def model():
    return savedmodel.load(SM)


@pytest.fixture(scope="module")
def tf_signatures(tf):
    """The signatures as TF's v1 loader sees them (a v1 Graph and Session)."""
    graph = tf.Graph()
    with graph.as_default(), tf.compat.v1.Session(graph=graph) as sess:
        mg = tf.compat.v1.saved_model.loader.load(sess, ["serve"], str(SM))
        return {k: mg.signature_def[k] for k in mg.signature_def}, list(mg.meta_info_def.tags)


def test_signatures_match_v1_loader(model, tf_signatures, tf):
    sigs, tags = tf_signatures
    ours = {s.key: s for s in model.signatures}
    assert set(ours) == set(sigs)
    for key, sd in sigs.items():
        s = ours[key]
        assert s.method_name == sd.method_name
        assert s.meta["tags"] == tags
        for side, theirs in (("inputs", sd.inputs), ("outputs", sd.outputs)):
            mine = {io.key: io for io in getattr(s, side)}
            assert set(mine) == set(theirs)
            for k, info in theirs.items():
                assert mine[k].tensor_name == info.name
                if info.dtype:
                    assert mine[k].dtype.value == tf.as_dtype(info.dtype).name
                    dims = [None if d.size < 0 else d.size for d in info.tensor_shape.dim]
                    assert list(mine[k].shape) == dims


def test_signature_tensors_are_graph_values(model):
    s = next(s for s in model.signatures if s.key == "serving_default")
    for io in s.inputs + s.outputs:
        assert io.value is not None and io.value.name == io.tensor_name
    assert s.inputs[0].value.producer.op == "Placeholder"


def test_variables_match_checkpoint_reader(model, tf):
    prefix = str(SM / "variables" / "variables")
    theirs = dict(tf.train.list_variables(prefix))
    reader = tf.train.load_checkpoint(prefix)
    ours = {v.meta["checkpoint_key"]: v for v in model.main.values
            if "checkpoint_key" in v.meta}
    assert set(ours) == set(theirs)
    for key, v in ours.items():
        assert list(v.shape) == list(theirs[key])
        if v.is_variable:
            np.testing.assert_array_equal(v.data.numpy(), reader.get_tensor(key))


def test_graphs_and_metadata_match_proto(model, tf):
    from tensorflow.core.protobuf import saved_model_pb2
    sm = saved_model_pb2.SavedModel.FromString((SM / "saved_model.pb").read_bytes())
    mg = sm.meta_graphs[0]
    assert [n.name for n in model.main.nodes] == [n.name for n in mg.graph_def.node]
    fn_names = [g.name for g in model.graphs[1:]]
    assert fn_names == [f.signature.name for f in mg.graph_def.library.function]
    assert model.metadata["saved_model_schema_version"] == sm.saved_model_schema_version
    assert model.metadata["meta_graphs"][0]["object_graph"]["nodes"] == \
        len(mg.object_graph_def.nodes)
    # Function graphs: inputs/outputs follow the signature's args.
    for g, f in zip(model.graphs[1:], mg.graph_def.library.function):
        assert [v.name for v in g.inputs] == [a.name for a in f.signature.input_arg]
        assert len(g.outputs) == len(f.signature.output_arg)


def test_function_library_round_trips_through_graphdef_writer(model, tf):
    """The SavedModel's graph (with its function library) rebuilds proto-equal."""
    from tensorflow.core.protobuf import saved_model_pb2

    from modelkit.formats import graphdef
    sm = saved_model_pb2.SavedModel.FromString((SM / "saved_model.pb").read_bytes())
    rebuilt = tf.compat.v1.GraphDef.FromString(graphdef.to_graphdef(model).SerializeToString())
    assert rebuilt == sm.meta_graphs[0].graph_def


def test_registry_detects_savedmodel_folder():
    assert modelkit.detect_format(SM) == "savedmodel"


def test_folder_without_saved_model_pb(tmp_path):
    (tmp_path / "variables").mkdir()
    assert not savedmodel.sniff(tmp_path)
    with pytest.raises(ModelReadError) as err:
        savedmodel.load(tmp_path)
    assert err.value.exit_code == ExitCode.UNREADABLE and "saved_model.pb" in str(err.value)


@pytest.mark.parametrize("kind", ["truncated", "garbage"])
def test_corrupt_saved_model_pb(tmp_path, kind):
    folder = tmp_path / "sm"
    shutil.copytree(SM, folder)
    data = (SM / "saved_model.pb").read_bytes()
    bad = data[: len(data) // 3] if kind == "truncated" else bytes(range(256)) * 8
    (folder / "saved_model.pb").write_bytes(bad)
    with pytest.raises(ModelReadError) as err:
        modelkit.load(folder)
    assert "saved_model.pb" in str(err.value) and "\n" not in str(err.value)
