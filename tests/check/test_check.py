"""check against the oracles: LiteRT's builtin kernels and TFLite Micro's interpreter."""

from __future__ import annotations

import json
import re

import numpy as np
import pytest

import modelkit
from modelkit.check import RULES, TARGETS, check_model
from tests.check.conftest import (ROOT, litert_failure, litert_run, make_broken_models,
                                  micro_result)
from tests.conftest import run_cli

SAMPLES = ROOT / "samples"
TFLITE_SAMPLES = sorted(SAMPLES.glob("*.tflite"))
# Rules whose models the runtime accepts but computes wrong (no runtime message).
SILENT = {"bias-scale-silent", "pool-quant-mismatch", "reshape-quant-mismatch",
          "filter-zero-point"}


def _expression(message: str) -> str:
    """The runtime's check expression: the text before values `(a != b)` or 'Node'."""
    head = re.split(r" \(|Node number|\nNode ", message, maxsplit=1)[0]
    return head.strip()


@pytest.mark.parametrize("name", sorted(make_broken_models.MAKERS))
def test_tflite_target_agrees_with_builtin_interpreter(broken, name):
    failure = litert_failure(broken[name])
    report = check_model(modelkit.load(broken[name]), "tflite")
    refusals = [f for f in report.errors if f.rule not in SILENT - {"filter-zero-point"}]
    if failure is None:
        assert not refusals, [f.message for f in refusals]
        return
    assert refusals, f"the interpreter fails ({failure}) but check finds nothing"
    first = min(refusals, key=lambda f: (f.graph, f.node if f.node is not None else -1))
    node = re.search(r"Node number (\d+)", failure)
    tensor = re.search(r"Tensor (\d+) has invalid", failure)
    if node:
        assert first.node == int(node.group(1))
    else:
        value = modelkit.load(broken[name]).graphs[0].values[int(tensor.group(1))]
        assert value.name in first.tensors
    assert first.message.startswith(_expression(failure)), (first.message, failure)


@pytest.mark.parametrize("path", TFLITE_SAMPLES + [ROOT / "tests/data/sparse_fc.tflite",
                                                   ROOT / "tests/data/mixed_int8.tflite",
                                                   ROOT / "tests/data/tconv_int8.tflite"],
                         ids=lambda p: p.name)
def test_samples_the_interpreter_prepares_have_no_error(path):
    assert litert_failure(path) is None
    assert check_model(modelkit.load(path), "tflite").errors == []


def test_custom_ops_are_errors_naming_each_op():
    path = ROOT / "tests/data/custom_ops.tflite"
    failure = litert_failure(path)
    report = check_model(modelkit.load(path), "tflite")
    ops = {f.op for f in report.errors if f.rule == "unresolved-custom-op"}
    model = modelkit.load(path)
    assert ops == {n.op for n in model.graphs[0].nodes if n.custom}
    assert f"Node number {report.errors[0].node} ({report.errors[0].op})" in failure


def test_silent_reshape_mismatch_changes_outputs(broken):
    """RESHAPE copies bytes: a different output scale changes what FC 7 reads."""
    x = np.load(SAMPLES / "digits_calib.npy")[:20]
    ref = litert_run(SAMPLES / "digits_int8.tflite", x).astype(int)
    assert np.abs(ref - litert_run(broken["reshape_output"], x).astype(int)).max() > 1


def test_silent_pool_mismatch_states_wrong_values(broken):
    """MAX_POOL_2D copies integers: its output read with its own (2x) scale is not the
    max of its input's real values (the interpreter's tensors, all preserved)."""
    from ai_edge_litert.interpreter import Interpreter, OpResolverType

    it = Interpreter(model_path=str(broken["pool_output"]), experimental_preserve_all_tensors=True,
                     experimental_op_resolver_type=OpResolverType.BUILTIN_WITHOUT_DEFAULT_DELEGATES)
    it.allocate_tensors()
    d = it.get_input_details()[0]
    x = np.load(SAMPLES / "digits_calib.npy")[:1]
    it.set_tensor(d["index"], np.clip(np.round(x / d["quantization"][0]) + d["quantization"][1],
                                      -128, 127).astype(np.int8).reshape(d["shape"]))
    it.invoke()
    pool = next(n for n in modelkit.load(broken["pool_output"]).graphs[0].nodes
                if n.op == "MAX_POOL_2D")
    xin, yout = pool.inputs[0], pool.outputs[0]
    real_in = xin.quant.dequantize(it.get_tensor(xin.index))
    real_out = yout.quant.dequantize(it.get_tensor(yout.index))
    expected = real_in.reshape(1, 3, 2, 3, 2, 16).max(axis=(2, 4))
    assert np.abs(real_out - expected).max() > float(yout.quant.scale[0])
    assert [f.node for f in check_model(modelkit.load(broken["pool_output"])).errors] == [2, 6]


def test_silent_bias_error_changes_outputs(broken):
    """What check calls silently wrong is: the interpreter's outputs move by >1 step."""
    x = np.load(SAMPLES / "digits_calib.npy")[:20]
    ref = litert_run(SAMPLES / "digits_int8.tflite", x).astype(int)
    bad = litert_run(broken["conv_bias_per_channel"], x).astype(int)
    assert np.abs(ref - bad).max() > 1
    found = check_model(modelkit.load(broken["conv_bias_per_channel"]))
    assert [(f.rule, f.node) for f in found.errors] == [("bias-scale-silent", 0)]


MICRO_CASES = sorted(make_broken_models.MAKERS) + ["digits_dynamic", "digits_fp16",
                                                   "digits_int8", "digits_float",
                                                   "digits_int16x8", "sparse_fc", "mixed_int8",
                                                   "control_flow", "tconv_int8"]


def _path(broken, name):
    if name in broken:
        return broken[name]
    return SAMPLES / f"{name}.tflite" if (SAMPLES / f"{name}.tflite").exists() else \
        ROOT / "tests/data" / f"{name}.tflite"


@pytest.mark.parametrize("name", MICRO_CASES)
def test_micro_target_agrees_with_tflite_micro(broken, name):
    path = _path(broken, name)
    failure, sizes = micro_result(path)
    report = check_model(modelkit.load(path), "micro")
    refusals = [f for f in report.errors if f.rule not in SILENT - {"pool-quant-mismatch"}]
    if failure is None:
        assert not refusals, [f.message for f in refusals]
        head, total = report.facts["arena_head_bytes"], report.facts["arena_bytes"]
        assert abs(head - sizes["head"]) <= 0.10 * sizes["head"], (head, sizes)
        assert abs(total - sizes["total"]) <= 0.25 * sizes["total"], (total, sizes)
        return
    assert refusals, f"TFLite Micro fails ({failure}) but check finds nothing"
    first = min(refusals, key=lambda f: (f.graph, f.node if f.node is not None else -1))
    if failure == "Aborted":
        assert first.message.startswith("the process aborts"), first.message
        return
    node = re.search(r"\(number (\d+)\)", failure)
    if node:
        assert first.node == int(node.group(1)), (first, failure)
    assert _expression(first.message) in failure.replace("\n", " ") or \
        first.message.splitlines()[0] in failure, (first.message, failure)


@pytest.mark.parametrize("name", ["digits_int8", "digits_float", "digits_int16x8",
                                  "digits_dynamic", "digits_fp16", "digits_uint8_legacy",
                                  "control_flow", "mixed_int8", "tconv_int8", "sparse_fc",
                                  "tconv_bias_custom"])
def test_xnnpack_partitions_agree_with_the_default_interpreter(broken, name):
    """The default interpreter applies XNNPACK; each partition it takes is one DELEGATE
    node in its execution plan."""
    from ai_edge_litert.interpreter import Interpreter

    path = _path(broken, name)
    it = Interpreter(model_path=str(path))
    it.allocate_tensors()
    delegates = sum(op["op_name"] == "DELEGATE" for op in it._get_ops_details())
    facts = check_model(modelkit.load(path), "xnnpack").facts
    assert facts["delegate_partitions"] == delegates


def test_mediapipe_custom_op_runs_under_the_default_delegate_only(tmp_path):
    """Convolution2DTransposeBias: the default interpreter (XNNPACK) runs it and gives
    the builtin TRANSPOSE_CONV's outputs; the builtin resolver without default delegates
    refuses it. So --target xnnpack takes it, and --target tflite warns (no error)."""
    from ai_edge_litert.interpreter import Interpreter, OpResolverType

    custom = ROOT / "tests/data/tconv_bias_custom.tflite"
    x = np.random.default_rng(0).normal(size=(1, 4, 4, 4)).astype(np.float32)

    def invoke(path, resolver):
        it = Interpreter(model_path=str(path), experimental_op_resolver_type=resolver)
        it.allocate_tensors()
        it.set_tensor(it.get_input_details()[0]["index"], x)
        it.invoke()
        return it.get_tensor(it.get_output_details()[0]["index"])

    builtin = OpResolverType.BUILTIN_WITHOUT_DEFAULT_DELEGATES
    want = invoke(ROOT / "tests/data/tconv_float.tflite", builtin)
    got = invoke(custom, OpResolverType.AUTO)
    np.testing.assert_allclose(got, want, rtol=1e-5, atol=1e-5)
    failure = litert_failure(custom)
    assert "unresolved custom op: Convolution2DTransposeBias" in failure

    model = modelkit.load(custom)
    xnn = check_model(model, "xnnpack")
    assert xnn.findings == [] and xnn.facts["delegated_nodes"] == 1
    tfl = check_model(model, "tflite")
    assert tfl.errors == []
    (warning,) = tfl.findings
    assert (warning.severity, warning.rule, warning.op) == (
        "warning", "default-delegate-custom-op", "Convolution2DTransposeBias")
    assert warning.message.startswith(_expression(failure))
    assert f"Node number {warning.node} ({warning.op})" in failure

    data, out = tmp_path / "x.npy", tmp_path / "out.npz"
    np.save(data, x)
    p = run_cli("run", str(custom), "--data", str(data))
    assert p.returncode == 4 and "--delegates" in p.stderr, p.stderr
    p = run_cli("run", str(custom), "--data", str(data), "--delegates", "--output", str(out))
    assert p.returncode == 0, p.stderr
    np.testing.assert_array_equal(next(iter(np.load(out).values())), got)


FIXABLE = ["fc_bias_per_tensor", "conv_bias_per_channel", "fc_bias_per_channel",
           "uint8_conv_bias", "concat_scales", "pool_output", "softmax_output",
           "logistic_output", "log_softmax_output", "int16_softmax_output",
           "int16_conv_bias", "pool_zero_point", "reshape_output"]


@pytest.mark.parametrize("name", FIXABLE)
def test_fix_makes_check_and_interpreter_pass(broken, tmp_path, name):
    src = broken[name]
    before = src.read_bytes()
    dst = tmp_path / "fixed.tflite"
    p = run_cli("fix", str(src), str(dst))
    assert p.returncode == 0, p.stdout + p.stderr
    assert src.read_bytes() == before
    assert "node" in p.stdout
    assert litert_failure(dst) is None
    assert check_model(modelkit.load(dst), "tflite").errors == []


@pytest.mark.parametrize("name,reference", [("conv_bias_per_channel", "digits_int8"),
                                            ("fc_bias_per_channel", "digits_int8")])
def test_fixed_bias_gives_the_outputs_the_file_states(broken, tmp_path, name, reference):
    """Re-quantized biases keep their real values: outputs within one step of the model
    whose biases hold those values at the kernel's scale (the original sample)."""
    dst = tmp_path / "fixed.tflite"
    assert run_cli("fix", str(broken[name]), str(dst)).returncode == 0
    x = np.load(SAMPLES / "digits_calib.npy")[:30]
    ref = litert_run(SAMPLES / f"{reference}.tflite", x).astype(int)
    got = litert_run(dst, x).astype(int)
    assert np.abs(ref - got).max() <= 1


def test_fixed_int16_bias_gives_the_stated_outputs(broken, tmp_path):
    """int16x8 (int64 bias): the broken model's float outputs move; the fixed one's are
    within one output step (1/32768) of the original model's."""
    x = np.load(SAMPLES / "digits_calib.npy")[:30]
    ref = litert_run(SAMPLES / "digits_int16x8.tflite", x)
    bad = litert_run(broken["int16_conv_bias"], x)
    step = 1 / 32768
    assert np.abs(ref - bad).max() > step
    assert [f.rule for f in check_model(modelkit.load(broken["int16_conv_bias"])).errors] == \
        ["bias-scale-silent"]
    dst = tmp_path / "fixed.tflite"
    assert run_cli("fix", str(broken["int16_conv_bias"]), str(dst)).returncode == 0
    assert np.abs(ref - litert_run(dst, x)).max() <= step * 1.01


@pytest.fixture(scope="module")
def per_tensor_reference(tmp_path_factory):
    """digits_int8 with FC 8 per-tensor and its bias at the scale the kernel reads."""
    good = make_broken_models._load("digits_int8.tflite")
    make_broken_models._per_tensor_fc(good, make_broken_models._node(good, "FULLY_CONNECTED", 1))
    good.path = None
    path = tmp_path_factory.mktemp("ref") / "good.tflite"
    modelkit.save(good, path)
    return path


def test_small_bias_mismatch_is_a_warning(broken, per_tensor_reference):
    """A 1.5x bias scale on FC 8 moves the outputs by under one step: check warns."""
    x = np.load(SAMPLES / "digits_calib.npy")[:30]
    ref = litert_run(per_tensor_reference, x).astype(int)
    got = litert_run(broken["fc_bias_per_tensor_small"], x).astype(int)
    assert np.abs(ref - got).max() <= 1
    r = check_model(modelkit.load(broken["fc_bias_per_tensor_small"]))
    assert not r.errors
    assert [(f.rule, f.node) for f in r.findings] == [("bias-scale-silent", 8)]
    assert r.findings[0].numbers["max_error_output_steps"] < 0.5


def test_fix_per_tensor_fc_matches_correct_per_tensor_model(broken, tmp_path,
                                                           per_tensor_reference):
    good = per_tensor_reference
    dst = tmp_path / "fixed.tflite"
    assert run_cli("fix", str(broken["fc_bias_per_tensor"]), str(dst)).returncode == 0
    x = np.load(SAMPLES / "digits_calib.npy")[:30]
    diff = litert_run(good, x).astype(int) - litert_run(dst, x).astype(int)
    assert np.abs(diff).max() <= 1


def test_fix_reports_what_it_cannot_fix(broken, tmp_path):
    dst = tmp_path / "x.tflite"
    p = run_cli("fix", str(broken["conv_filter_zero_point"]), str(dst))
    assert p.returncode == 1
    assert "cannot fix [filter-zero-point] graph 0 node 1" in p.stdout
    assert not dst.exists()


def test_check_cli_json_and_exit_codes(broken):
    p = run_cli("check", str(broken["softmax_output"]), "--json")
    assert p.returncode == 4
    doc = json.loads(p.stdout)
    assert doc["schema_version"] == 1 and doc["totals"]["error"] == 1
    f = doc["findings"][0]
    assert {k: f[k] for k in ("severity", "rule", "graph", "node", "op", "fix")} == {
        "severity": "error", "rule": "softmax-output-params", "graph": 0, "node": 9,
        "op": "SOFTMAX", "fix": "softmax_output_params"}
    ok = run_cli("check", str(SAMPLES / "digits_int8.tflite"), "--target", "micro", "--json")
    assert ok.returncode == 0
    assert json.loads(ok.stdout)["arena_head_bytes"] > 0


def test_tf_graph_legacy_quantized():
    report = check_model(modelkit.load(SAMPLES / "digits_legacy_quantized.pb"))
    rules = {f.rule for f in report.errors}
    assert rules == {"tf-legacy-quantized"}
    assert all("dequantize_legacy" in f.fix for f in report.errors)
    assert check_model(modelkit.load(SAMPLES / "digits_frozen.pb")).errors == []


def test_tf_rules_share_the_convert_preflight_tables():
    """The legacy ops check names are those the convert preflight refuses."""
    from modelkit.convert.preflight import check_ops

    model = modelkit.load(SAMPLES / "digits_legacy_quantized.pb")
    pre = check_ops(model.graphs[0].nodes, allow_select_tf_ops=False, allow_custom_ops=False)
    ours = check_model(model).errors
    assert {f.op for f in ours} == {f.op for f in pre if f.kind == "legacy_quantized"}
    assert sum(f.numbers["count"] for f in ours) == sum(len(f.nodes) for f in pre)
    ckpt = check_model(modelkit.load(SAMPLES / "digits_ckpt"))
    assert not ckpt.errors
    assert {f.rule for f in ckpt.findings} == {"tf-variable", "tf-training-op"}


def test_every_rule_is_documented():
    from modelkit.check.render import rules_table

    table = rules_table()
    assert table in (ROOT / "README.md").read_text(), "regenerate the README rules table"
    for r in RULES.values():
        assert set(r.targets) <= set(TARGETS) and r.source and r.summary


def test_fix_dry_run_and_clean_model_write_nothing(broken, tmp_path):
    dst = tmp_path / "out.tflite"
    p = run_cli("fix", str(broken["softmax_output"]), str(dst), "--dry-run")
    assert p.returncode == 0 and "softmax_output_params: graph 0 node 9" in p.stdout
    assert not dst.exists()
    p = run_cli("fix", str(SAMPLES / "digits_int8.tflite"), str(dst))
    assert p.returncode == 0 and not dst.exists()


def test_fix_rule_filter_leaves_other_findings(broken, tmp_path):
    """--rule limits the repairs; the other error stays and fix exits 4."""
    m = make_broken_models.softmax_output()
    make_broken_models._scale_bias(make_broken_models._node(m, "CONV_2D", 0).inputs[2], 2.0,
                                   values=True)
    m.path = None
    src = tmp_path / "two.tflite"
    modelkit.save(m, src)
    p = run_cli("fix", str(src), str(tmp_path / "out.tflite"), "--rule", "bias-scale-silent")
    assert p.returncode == 4, p.stdout + p.stderr
    after = check_model(modelkit.load(tmp_path / "out.tflite"))
    assert [f.rule for f in after.errors] == ["softmax-output-params"]


def test_check_imports_no_tensorflow():
    import subprocess
    import sys

    code = ("import sys, modelkit; from modelkit.check import check_model; "
            "check_model(modelkit.load(sys.argv[1]), 'micro'); "
            "assert 'tensorflow' not in sys.modules and 'ai_edge_litert' not in sys.modules")
    p = subprocess.run([sys.executable, "-c", code, str(SAMPLES / "digits_int8.tflite")],
                       capture_output=True, text=True, timeout=60)
    assert p.returncode == 0, p.stderr


def test_edgetpu_partition_and_integer_rules():
    """Facts from the Coral docs, applied by hand: SHAPE (op 3 of the digits model) is not
    an Edge TPU op, so ops 0-2 map to the TPU and the rest run on the CPU; a float model
    is not fully integer."""
    r = check_model(modelkit.load(SAMPLES / "digits_int8.tflite"), "edgetpu")
    part = next(f for f in r.findings if f.rule == "edgetpu-partition")
    assert (part.node, part.numbers) == (3, {"tpu_ops": 3, "cpu_ops": 7})
    assert not r.errors
    r = check_model(modelkit.load(SAMPLES / "digits_float.tflite"), "edgetpu")
    assert {f.rule for f in r.errors} == {"edgetpu-integer"}


def test_gpu_hands_back_int16_and_takes_float():
    r = check_model(modelkit.load(SAMPLES / "digits_float.tflite"), "gpu")
    assert r.facts["delegate_partitions"] == 2  # SHAPE/STRIDED_SLICE/PACK split it
    r16 = check_model(modelkit.load(SAMPLES / "digits_int16x8.tflite"), "gpu")
    assert r16.facts["delegated_nodes"] < r.facts["delegated_nodes"]


def test_tf_unknown_shape_warns_only_for_inputs_the_converter_takes(tmp_path):
    """A placeholder nothing reads (freezing a TF2 while loop leaves
    `unused_control_flow_input_N` ones) is no converter input: no shape warning for it,
    while a read placeholder with an unknown inner dim still gets one; the warned names
    are the inputs convert detects."""
    import os

    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
    import tensorflow as tf

    from modelkit.analysis.graph_io import inference_io

    v1 = tf.compat.v1
    graph = tf.Graph()
    with graph.as_default():
        x = v1.placeholder(tf.float32, [None, None], name="x")
        v1.placeholder(tf.float32, None, name="unused_control_flow_input_1")
        tf.identity(x * 2.0, name="y")
    path = tmp_path / "unused_input.pb"
    path.write_bytes(graph.as_graph_def().SerializeToString())
    model = modelkit.load(path)
    warned = [f.tensors for f in check_model(model, "tflite").of("warning")
              if f.rule == "tf-unknown-shape"]
    assert warned == [["x:0"]]
    assert inference_io(model.graphs[0])[0] == ["x:0"]
