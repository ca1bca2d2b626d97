"""Custom metrics of `modelkit.api.debug` against TF's own QuantizationDebugger, with the
same metric functions, on the same model and data.

The setup is tests/debug/test_tf_debugger_oracle.py's (the SavedModel sample,
calibrated on its first CALIB samples, measured on MEASURE). TF's debugger given the
converter makes its own float and debug-mode models; its layer_direct_compare_metrics
read float tensors that only survive with experimental_preserve_all_tensors, which
TF sets when the debugger is given the models rather than the converter (measured:
the converter form gives values near 1e34). So the oracle is a second TF debugger on
the models the first one made, with all three kinds of metrics; both run the debug
model with the default XNNPACK delegate, as modelkit does.
"""

from __future__ import annotations

import csv
import io

import numpy as np
import pytest

import modelkit.api as mk
from tests.debug.test_tf_debugger_oracle import CALIB, DATA, MEASURE, SRC


def rmse(diffs):
    return float(np.sqrt(np.mean(diffs.astype(np.float64) ** 2)))


def worst_step(diffs):
    return float(np.max(np.abs(diffs)))


def mean_abs(float_values, quant_values, scale, zero_point):
    real = (quant_values.astype(np.int32) - zero_point) * scale
    return float(np.mean(np.abs(real - float_values)))


def top1(float_outputs, quant_outputs):
    return float(np.argmax(float_outputs[0]) == np.argmax(quant_outputs[0]))


def max_out(float_outputs, quant_outputs):
    return float(np.max(np.abs(float_outputs[0] - quant_outputs[0])))


LAYER = {"rmse": rmse, "worst": worst_step}
DIRECT = {"mean_abs": mean_abs}
MODEL = {"top1": top1, "max_out": max_out}


@pytest.fixture(scope="module")
def ours():
    return mk.debug(SRC, None, DATA, samples=MEASURE, calibration_steps=CALIB,
                    layer_debug_metrics=LAYER, layer_direct_compare_metrics=DIRECT,
                    model_debug_metrics=MODEL)


@pytest.fixture(scope="module")
def tf_debugger():
    import tensorflow as tf

    x = np.load(DATA)
    converter = tf.lite.TFLiteConverter.from_saved_model(str(SRC))
    converter.optimizations = [tf.lite.Optimize.DEFAULT]
    converter.representative_dataset = lambda: ([x[i:i + 1]] for i in range(CALIB))
    dataset = lambda: ([x[i:i + 1]] for i in range(MEASURE))  # noqa: E731
    maker = tf.lite.experimental.QuantizationDebugger(
        converter=converter, debug_dataset=dataset,
        debug_options=tf.lite.experimental.QuantizationDebugOptions(
            model_debug_metrics=MODEL))
    debugger = tf.lite.experimental.QuantizationDebugger(
        quant_debug_model_content=maker.get_debug_quantized_model(),
        float_model_content=maker.float_model, debug_dataset=dataset,
        debug_options=tf.lite.experimental.QuantizationDebugOptions(
            layer_debug_metrics=LAYER, layer_direct_compare_metrics=DIRECT,
            model_debug_metrics=MODEL))
    debugger.run()
    buf = io.StringIO()
    debugger.layer_statistics_dump(buf)
    return buf.getvalue(), debugger.model_statistics


def test_csv_has_tfs_layout(ours, tf_debugger):
    tf_csv, _ = tf_debugger
    assert ours.to_csv(extra=False).splitlines()[0] == tf_csv.splitlines()[0]
    assert ours.to_csv().splitlines()[0].startswith(tf_csv.splitlines()[0] + ",node,")


@pytest.mark.parametrize("metric", ["rmse", "worst", "mean_abs"])
def test_layer_metrics_are_tfs(ours, tf_debugger, metric):
    tf_rows = list(csv.DictReader(io.StringIO(tf_debugger[0])))
    by_name = {layer.tensor_name: layer for layer in ours.layers}
    assert sorted(by_name) == sorted(r["tensor_name"] for r in tf_rows)
    for row in tf_rows:
        got = by_name[row["tensor_name"]].metrics[metric]
        assert got == pytest.approx(float(row[metric]), rel=1e-5, abs=1e-9), row["tensor_name"]


def test_model_metrics_are_tfs(ours, tf_debugger):
    _, tf_stats = tf_debugger
    assert set(ours.model_metrics) == set(tf_stats) == set(MODEL)
    for name, value in tf_stats.items():
        assert ours.model_metrics[name] == pytest.approx(float(value), rel=1e-5, abs=1e-7)


def test_metrics_are_in_the_json_and_the_table(ours):
    doc = ours.to_dict()
    assert doc["model_metrics"] == ours.model_metrics
    for row, layer in zip(doc["layers"], ours.ranked()):
        assert row["metrics"] == layer.metrics
    pandas = pytest.importorskip("pandas")
    frame = ours.to_pandas()
    assert isinstance(frame, pandas.DataFrame)
    by_name = frame.set_index("tensor_name")
    for layer in ours.layers:
        assert by_name.loc[layer.tensor_name, "rmse"] == pytest.approx(layer.metrics["rmse"])
