"""Legacy (TF1 eight-bit) quantization: the formulas against TF's kernels, and
dequantize_legacy against the float graphs TF's quantize_nodes started from."""

from __future__ import annotations

from collections import Counter
from pathlib import Path

import numpy as np
import pytest

from modelkit.ir import DType
from modelkit.quant.legacy import dequantize, quantize_min_first
from tests.litert_by_hand import int8_outputs
from tests.transform.conftest import (as_tf_graphdef, node_names, op_histogram, run_graph,
                                      tf_transform)
from tests.transform.test_tf_numeric import ours, quant_graph

SAMPLES = Path(__file__).resolve().parents[2] / "samples"
LEGACY = SAMPLES / "digits_legacy_quantized.pb"
FROZEN = SAMPLES / "digits_frozen.pb"


# ----------------------------------------------------------------------------- formulas

@pytest.mark.parametrize("mode", ["MIN_COMBINED", "MIN_FIRST", "SCALED"])
@pytest.mark.parametrize("qtype", ["quint8", "qint8", "qint16"])
def test_dequantize_matches_tf(mode: str, qtype: str) -> None:
    """Against tf.raw_ops.Dequantize for every mode, over many ranges: bit-exact for
    8-bit types, within 2 ulp of the range for 16-bit ones (TF's vectorized MIN_FIRST
    kernel rounds differently)."""
    import tensorflow as tf

    dtype = DType(qtype)
    np_type = {"quint8": np.uint8, "qint8": np.int8, "qint16": np.int16}[qtype]
    info = np.iinfo(np_type)
    rng = np.random.default_rng(0)
    codes = rng.integers(info.min, info.max + 1, 2000).astype(np_type)
    for lo, hi in [(-1.0, 1.0), (0.0, 6.0), (-3.7, 0.2), (-0.01, 12.3), (0.5, 0.5),
                   (-100.0, 3.0)]:
        want = tf.raw_ops.Dequantize(input=tf.constant(codes, dtype=getattr(tf, qtype)),
                                     min_range=lo, max_range=hi, mode=mode).numpy()
        got = dequantize(codes, lo, hi, dtype, mode)
        if qtype == "qint16":
            np.testing.assert_allclose(got, want, rtol=0,
                                       atol=2 * np.spacing(np.float32(max(abs(lo), abs(hi)))))
        else:
            np.testing.assert_array_equal(got, want, err_msg=f"{mode} {qtype} [{lo}, {hi}]")


def test_dequantize_scaled_per_channel_narrow_matches_tf() -> None:
    import tensorflow as tf

    rng = np.random.default_rng(1)
    codes = rng.integers(-127, 128, (3, 4, 5)).astype(np.int8)
    lo = np.array([-1.0, -2.0, -0.5, -3.0], np.float32)
    hi = np.array([1.0, 2.5, 0.25, 3.0], np.float32)
    want = tf.raw_ops.Dequantize(input=tf.constant(codes, dtype=tf.qint8), min_range=lo,
                                 max_range=hi, mode="SCALED", narrow_range=True,
                                 axis=1).numpy()
    got = dequantize(codes, lo, hi, DType.QINT8, "SCALED", narrow_range=True, axis=1)
    np.testing.assert_array_equal(got, want)


def test_quantize_min_first_matches_quantize_weights() -> None:
    """The codes of the sample's quint8 weights are what quantize_min_first gives."""
    import modelkit

    legacy = modelkit.load(LEGACY).main
    frozen = modelkit.load(FROZEN).main
    checked = 0
    for name in ("conv2/kernel", "dense1/kernel"):
        weights = frozen.node(name).attrs["value"].numpy()
        prefix = next(n.name for n in legacy.nodes
                      if n.name.startswith(name) and n.name.endswith("_quantized_const"))[
            :-len("_quantized_const")]
        codes = legacy.node(prefix + "_quantized_const").attrs["value"].numpy()
        lo = float(legacy.node(prefix + "_quantized_min").attrs["value"].numpy())
        hi = float(legacy.node(prefix + "_quantized_max").attrs["value"].numpy())
        assert (lo, hi) == (min(0.0, float(weights.min())), max(0.0, float(weights.max())))
        np.testing.assert_array_equal(quantize_min_first(weights, lo, hi, DType.QUINT8), codes)
        checked += 1
    assert checked == 2


# ----------------------------------------------------------------------------- dequantize_legacy

def _digits_images(n: int = 120) -> np.ndarray:
    data = np.load(SAMPLES / "digits_test.npz")
    return data["x"][:n].astype(np.float32).reshape(-1, 8, 8, 1)


def _run_each(graph_bytes: bytes, x: np.ndarray, inp: str, out: str) -> np.ndarray:
    """Run image by image (the legacy graph has a fixed batch of 1)."""
    import tensorflow as tf

    gd = as_tf_graphdef(graph_bytes)
    graph = tf.Graph()
    with graph.as_default():
        tf.compat.v1.import_graph_def(gd, name="")
    with tf.compat.v1.Session(graph=graph) as sess:
        return np.concatenate([sess.run(f"{out}:0", {f"{inp}:0": x[i:i + 1]})
                               for i in range(len(x))])


@pytest.fixture(scope="module")
def digits_reversed(tmp_path_factory) -> bytes:
    return ours(LEGACY, ["input"], ["probs"], "dequantize_legacy")


def test_sample_reverses_to_the_float_structure(digits_reversed: bytes) -> None:
    """Same ops and node names as the frozen float graph after TF's own folding."""
    folded = tf_transform(FROZEN.read_bytes(), ["input"], ["probs"],
                          "fold_constants(ignore_errors=true)")
    assert op_histogram(digits_reversed) == op_histogram(folded)
    assert sorted(node_names(digits_reversed)) == sorted(node_names(folded))


def test_sample_outputs_closer_to_float_than_legacy(digits_reversed: bytes) -> None:
    x = _digits_images()
    flt = _run_each(FROZEN.read_bytes(), x, "input", "probs")
    legacy = _run_each(LEGACY.read_bytes(), x, "input", "probs")
    rev = _run_each(digits_reversed, x, "input", "probs")
    err_legacy = np.abs(legacy - flt).max()
    err_rev = np.abs(rev - flt).max()
    assert err_rev < err_legacy, (err_rev, err_legacy)
    # The weights' quint8 rounding is all that is left: TF's quantize_weights alone
    # (the same codes, float ops) gives the same outputs.
    weights_only = tf_transform(FROZEN.read_bytes(), ["input"], ["probs"],
                                "fold_constants(ignore_errors=true) quantize_weights")
    ref = _run_each(weights_only.SerializeToString(), x, "input", "probs")
    np.testing.assert_allclose(rev, ref, atol=1e-5)


def test_weights_only_graph_reverses_exactly(tmp_path) -> None:
    """After quantize_weights alone, the reversed graph computes what TF computes on the
    eight-bit graph (the same dequantized weights), with the float graph's node names."""
    legacy = tf_transform(FROZEN.read_bytes(), ["input"], ["probs"],
                          "quantize_weights(minimum_size=10)")
    assert op_histogram(legacy)["Dequantize"] == 7
    path = tmp_path / "weights_only.pb"
    path.write_bytes(legacy.SerializeToString())
    rev = ours(path, ["input"], ["probs"], "dequantize_legacy")
    assert "Dequantize" not in op_histogram(rev)
    assert sorted(node_names(rev)) == sorted(node_names(FROZEN.read_bytes()))
    x = _digits_images(40)
    np.testing.assert_allclose(_run_each(rev, x, "input", "probs"),
                               _run_each(legacy.SerializeToString(), x, "input", "probs"),
                               atol=1e-6)


@pytest.fixture(scope="module")
def quant_float(tmp_path_factory) -> tuple[Path, bytes, list[str], list[str]]:
    data, ins, outs = quant_graph()
    path = tmp_path_factory.mktemp("legacy") / "quant.pb"
    path.write_bytes(data)
    return path, data, ins, outs


@pytest.mark.parametrize("spec", [
    "quantize_nodes",
    "quantize_weights(minimum_size=100) quantize_nodes",
    "quantize_nodes(fallback_min=-8, fallback_max=8)",
    "quantize_nodes strip_unused_nodes",
])
def test_round_trip_every_quantized_op(quant_float, tmp_path, spec: str) -> None:
    """TF's quantize_nodes on a graph with every op it rewrites (QuantizedConcat,
    QuantizedResizeBilinear, QuantizedAdd/Mul, Relu6, AvgPool...), then
    dequantize_legacy: the float ops come back under their names, and the outputs
    are closer to the float graph than the eight-bit graph's."""
    path, data, ins, outs = quant_float
    legacy = tf_transform(data, ins, outs, spec)
    hist = op_histogram(legacy)
    assert {"QuantizedConcat", "QuantizedResizeBilinear", "QuantizedMul", "QuantizedAdd",
            "QuantizedRelu6", "QuantizedAvgPool"} <= set(hist)
    legacy_path = tmp_path / "legacy.pb"
    legacy_path.write_bytes(legacy.SerializeToString())
    rev = ours(legacy_path, ins, outs, "dequantize_legacy")
    float_hist = op_histogram(data)
    rev_hist = op_histogram(rev)
    assert not any(op.startswith("Quantized") or op in ("QuantizeV2", "Dequantize",
                                                        "Requantize", "RequantizationRange")
                   for op in rev_hist)
    for op in ("Conv2D", "BiasAdd", "Relu6", "AvgPool", "MaxPool", "ResizeBilinear",
               "Concat", "Add", "Mul", "Relu", "Reshape", "MatMul"):
        assert rev_hist[op] == float_hist[op], op
    float_names = set(node_names(data))
    for n in as_tf_graphdef(rev).node:
        if n.op != "Const":
            assert n.name in float_names, n.name
    rng = np.random.default_rng(5)
    errs_legacy, errs_rev = [], []
    for _ in range(4):
        feeds = {"x": rng.uniform(0, 1, (1, 8, 8, 3)).astype(np.float32)}
        (f,) = run_graph(data, feeds, outs)
        (q,) = run_graph(legacy.SerializeToString(), feeds, outs)
        (r,) = run_graph(rev, feeds, outs)
        errs_legacy.append(np.abs(q - f).max())
        errs_rev.append(np.abs(r - f).max())
    assert max(errs_rev) <= max(errs_legacy), (errs_rev, errs_legacy)


def test_round_trip_quantized_input(quant_float, tmp_path) -> None:
    """input_min/input_max make the Placeholder quint8; reversing makes it float again."""
    path, data, ins, outs = quant_float
    legacy = tf_transform(data, ins, outs, "quantize_nodes(input_min=0, input_max=1)")
    assert next(n for n in legacy.node if n.name == "x").attr["dtype"].type == 12  # quint8
    legacy_path = tmp_path / "legacy_in.pb"
    legacy_path.write_bytes(legacy.SerializeToString())
    rev = ours(legacy_path, ins, outs, "dequantize_legacy")
    x_node = next(n for n in as_tf_graphdef(rev).node if n.name == "x")
    assert x_node.attr["dtype"].type == 1  # float
    feeds = {"x": np.random.default_rng(6).uniform(0, 1, (1, 8, 8, 3)).astype(np.float32)}
    (f,) = run_graph(data, feeds, outs)
    (r,) = run_graph(rev, feeds, outs)
    np.testing.assert_allclose(r, f, rtol=0.05, atol=0.05 * float(np.abs(f).max()))


def test_freeze_requantization_ranges_same_as_tf(tmp_path) -> None:
    """Ranges from an insert_logging-style log replace RequantizationRange as TF does;
    dequantize_legacy then reverses the fixed-range graph too."""
    data = LEGACY.read_bytes()
    ranges = [n.name for n in as_tf_graphdef(data).node if n.op == "RequantizationRange"]
    rng = np.random.default_rng(2)
    lines = []
    for name in ranges:
        for _ in range(20):
            lo, hi = -abs(rng.normal(2, 1)), abs(rng.normal(8, 2))
            lines.append(f"I0101 logging_ops.cc:1] ;{name}__print__;__requant_min_max:"
                         f"[{lo:.6f}][{hi:.6f}]")
    log = tmp_path / "ranges.log"
    log.write_text("noise line\n" + "\n".join(lines) + "\n")
    spec = f"freeze_requantization_ranges(min_max_log_file={log}, min_percentile=10)"
    mine = ours(LEGACY, ["input"], ["probs"], spec)
    ref = tf_transform(data, ["input"], ["probs"], spec)
    assert op_histogram(mine) == op_histogram(ref)
    assert sorted(node_names(mine)) == sorted(node_names(ref))
    assert "RequantizationRange" not in op_histogram(mine)
    frozen_consts = {n.name: n.attr["value"].tensor.float_val or n.attr["value"].tensor
                     for n in as_tf_graphdef(mine).node if n.name.endswith("/frozen_min")}
    assert len(frozen_consts) == len(ranges)
    x = _digits_images(20)
    np.testing.assert_allclose(_run_each(mine, x, "input", "probs"),
                               _run_each(ref.SerializeToString(), x, "input", "probs"),
                               atol=1e-6)
    fixed = tmp_path / "fixed.pb"
    fixed.write_bytes(mine)
    rev = ours(fixed, ["input"], ["probs"], "dequantize_legacy")
    assert Counter(op_histogram(rev)) == Counter(op_histogram(
        ours(LEGACY, ["input"], ["probs"], "dequantize_legacy")))


def test_not_legacy_is_no_change() -> None:
    import modelkit
    from modelkit.transform import PassContext, parse_spec, run_passes

    model = modelkit.load(FROZEN)
    out, reports = run_passes(model, parse_spec("dequantize_legacy"),
                              PassContext(["input"], ["probs"]))
    assert out is model and not reports[0].changed


# ----------------------------------------------------------------------------- convert

def test_convert_stops_on_legacy_ops_with_the_command_that_reverses_them(tmp_path) -> None:
    from tests.conftest import run_cli

    dst = tmp_path / "legacy.tflite"
    done = run_cli("convert", str(LEGACY), str(dst), "--quantize", "int8", "--data",
                   str(SAMPLES / "digits_calib.npy"))
    assert done.returncode == 4, done.stderr
    assert not dst.exists()
    line = next(ln for ln in done.stderr.splitlines()
                if "--dequantize-legacy" in ln and "modelkit convert" in ln)
    command = line[line.index("modelkit convert"):].rstrip("`. ")
    assert command.split()[2:] == [str(LEGACY), str(dst), "--dequantize-legacy",
                                   "--quantize", "int8", "--data",
                                   str(SAMPLES / "digits_calib.npy")]


def test_convert_dequantize_legacy_int8_agrees_with_legacy_graph(tmp_path) -> None:
    """`convert --dequantize-legacy --quantize int8`: the int8 model's outputs differ from
    the legacy graph's by no more than twice the legacy graph's own quantization error,
    and pick the same class."""
    from tests.conftest import run_cli

    dst = tmp_path / "digits_int8.tflite"
    done = run_cli("convert", str(LEGACY), str(dst), "--dequantize-legacy", "--quantize",
                   "int8", "--data", str(SAMPLES / "digits_calib.npy"), "--json")
    assert done.returncode == 0, done.stderr
    assert "dequantize_legacy" in done.stderr
    x = _digits_images(120)
    flt = _run_each(FROZEN.read_bytes(), x, "input", "probs")
    legacy = _run_each(LEGACY.read_bytes(), x, "input", "probs")
    int8 = int8_outputs(dst, x)
    legacy_error = np.abs(legacy - flt).max()
    assert np.abs(int8 - legacy).max() <= 2 * legacy_error
    assert (int8.argmax(1) == legacy.argmax(1)).mean() >= 0.99
