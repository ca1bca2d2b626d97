"""The pass framework: spec syntax and parameter errors as TF's TransformGraph has them,
and the op registry table against the installed TensorFlow."""

from __future__ import annotations

import pytest

from modelkit.errors import UsageError
from modelkit.transform import all_passes, get_pass, parse_spec
from tests.conftest import SAMPLES
from tests.transform.conftest import tf_transform


def test_spec_syntax_as_transform_graph_reads_it():
    spec = ('remove_nodes(op=Identity, op=CheckNumerics) '
            'strip_unused_nodes(type=float, shape="1,8,8,1")  fold_constants(ignore_errors=true)'
            ' sort_by_execution_order')
    parsed = parse_spec(spec)
    assert [n for n, _ in parsed] == ["remove_nodes", "strip_unused_nodes", "fold_constants",
                                      "sort_by_execution_order"]
    assert parsed[0][1].list("op") == ["Identity", "CheckNumerics"]
    assert parsed[1][1].str("shape") == "1,8,8,1"
    assert parsed[2][1].bool("ignore_errors") is True
    assert parse_spec("") == []


@pytest.mark.parametrize("spec", ['strip_unused_nodes(shape="1,2)', "remove_nodes(op)",
                                  "remove_nodes(op=a b)"])
def test_bad_syntax_is_a_usage_error_where_tf_fails_too(spec):
    data = (SAMPLES / "digits_frozen.pb").read_bytes()
    with pytest.raises((ValueError, RuntimeError)):
        tf_transform(data, "input", "probs", spec)
    with pytest.raises(UsageError, match="--transforms"):
        parse_spec(spec)


@pytest.mark.parametrize("spec,tf_words", [
    ("remove_nodes", "remove_nodes expects at least one 'op'"),
    ("rename_op(old_op_name=Relu)", "rename_op expects exactly one 'old_op_name' and "
                                    "'new_op_name'"),
    ("rename_node(old_node_name=a)", "rename_node expects exactly one 'old_node_name' and one "
                                     "'new_node_name' argument"),
    ("rename_attribute(old_attribute_name=a)", "rename_attribute expects exactly one "
                                               "'old_attribute_name' and one "
                                               "'new_attribute_name' argument"),
    ("remove_attribute(op_name=Mul)", "remove_attribute expects exactly one 'attribute_name' "
                                      "argument"),
    ("remove_device(ignore_errors=maybe)", "ignore_errors should be true or false, "
                                           "found maybe"),
])
def test_missing_parameters_worded_like_tf(spec, tf_words):
    data = (SAMPLES / "digits_frozen.pb").read_bytes()
    with pytest.raises((ValueError, RuntimeError), match="expects|should be"):
        tf_transform(data, "input", "probs", spec)
    name, params = parse_spec(spec)[0]
    with pytest.raises(UsageError) as e:
        get_pass(name).validate(params)
    words = str(e.value)
    # TF's own text, modulo its missing spaces ("'op'argument") and wording of pairs.
    for part in tf_words.replace("'op'", "'op' ").split("'")[1::2]:
        assert f"'{part.strip()}'" in words
    assert words.startswith(name) or "ignore_errors" in words


def test_unknown_transform_names_the_valid_ones():
    data = (SAMPLES / "digits_frozen.pb").read_bytes()
    with pytest.raises(ValueError, match="Transform 'remove_node' not recognized"):
        tf_transform(data, "input", "probs", "remove_node(op=Identity)")
    with pytest.raises(UsageError) as e:
        get_pass("remove_node")
    assert "Transform 'remove_node' not recognized" in str(e.value)
    assert "Did you mean 'remove_nodes'" in str(e.value)
    assert "strip_unused_nodes" in str(e.value)


def test_unknown_parameter_names_the_valid_ones():
    name, params = parse_spec("strip_unused_nodes(typ=float)")[0]
    with pytest.raises(UsageError, match="no parameter 'typ'.*shape.*type"):
        get_pass(name).validate(params)


def test_every_tf_transform_of_tf_is_registered():
    """The names TF 2.21 registers (TRANSFORM_FACTS.md section 2) all exist here,
    except the other stage's numeric passes, which register themselves when present."""
    mine = {"add_default_attributes", "backport_concatv2", "backport_tensor_array_v3",
            "inline_partitionedcall", "insert_logging", "merge_duplicate_nodes",
            "obfuscate_names", "remove_attribute", "remove_control_dependencies",
            "remove_device", "remove_nodes", "rename_attribute", "rename_node", "rename_op",
            "set_device", "sort_by_execution_order", "sparsify_gather", "strip_unused_nodes"}
    passes = all_passes()
    assert mine <= set(passes)
    for p in passes.values():
        assert p.doc and p.domain in ("tf", "tflite")


def test_sparsify_gather_is_refused_with_the_reason():
    from modelkit.errors import UnsupportedError
    from modelkit.transform import PassContext, run_passes

    import modelkit
    with pytest.raises(UnsupportedError, match="not supported.*checkpoint"):
        run_passes(modelkit.load(SAMPLES / "digits_frozen.pb"), parse_spec("sparsify_gather"),
                   PassContext(["input"], ["probs"]))


def test_op_registry_table_matches_tensorflow():
    """The committed table is what the installed TF's registry says.

    Other libraries loaded in the same process (LiteRT's custom ops) may add ops
    to the registry; every op of the table must be there with the same facts.
    """
    from modelkit.transform.tf import _gen_op_registry, _op_registry

    live = _gen_op_registry.collect()
    assert len(_op_registry.OPS) > 1500
    for name, (stateful, defaults, outputs) in _op_registry.OPS.items():
        assert name in live, name
        assert live[name] == (stateful, defaults, tuple(tuple(o) for o in outputs)), name


@pytest.mark.parametrize("spec,expected", [
    ("remove_nodes(op=Identity,op=CheckNumerics)",
     [("remove_nodes", {"op": ["Identity", "CheckNumerics"]})]),
    ('strip_unused_nodes(type=float,shape="1,8,8,1")sort_by_execution_order',
     [("strip_unused_nodes", {"type": ["float"], "shape": ["1,8,8,1"]}),
      ("sort_by_execution_order", {})]),
    ("remove_device()  remove_device", [("remove_device", {}), ("remove_device", {})]),
    (r'insert_logging(message="a\"b, (c)", first_n=-1)',
     [("insert_logging", {"message": [r'a\"b, (c)'], "first_n": ["-1"]})]),
])
def test_specs_tf_accepts_parse_the_same(spec, expected):
    data = (SAMPLES / "digits_frozen.pb").read_bytes()
    tf_transform(data, "input", "probs", spec)  # TF parses and runs it
    assert [(n, p.raw) for n, p in parse_spec(spec)] == expected


def test_a_pass_that_leaves_a_dangling_input_fails(tmp_path):
    """As TF's TransformGraph checks IsGraphValid after every transform."""
    import modelkit
    from modelkit.ir.edit import clone_model
    from modelkit.transform import PassContext, PassResult, TransformError, register, run_passes
    from modelkit.transform.base import _REGISTRY

    @register("_test_drop_first_consumed", doc="test only")
    def drop(model, params, ctx):
        out = clone_model(model)
        g = out.main
        victim = next(n for n in g.nodes if any(v.consumers for v in n.outputs))
        g.nodes = [n for n in g.nodes if n is not victim]
        return PassResult(out)

    try:
        with pytest.raises(TransformError, match="inputs referring to nonexistent nodes"):
            run_passes(modelkit.load(SAMPLES / "digits_frozen.pb"),
                       parse_spec("_test_drop_first_consumed"), PassContext(["input"], ["probs"]))
    finally:
        _REGISTRY.pop("_test_drop_first_consumed", None)
