"""Broken variants of the digits TFLite samples, made by editing the IR (no TensorFlow).

Each maker takes nothing and returns a Model whose quantization is broken the way
hand-edited or hand-quantized models are: bias scales off, nonzero filter zero
points, wrong softmax/logistic output parameters, per-channel scale counts that do
not match, concatenations of differently scaled inputs, pooling/reshape with other
output parameters than input ones. `python tests/data/make_broken_models.py OUT`
writes them all as OUT/<name>.tflite (the demo uses `fc_bias_per_tensor`);
`python tests/data/make_broken_models.py --real tests/data` remakes the committed
converter-made int8 models (mixed_int8, tconv_int8; needs TensorFlow).
"""

from __future__ import annotations

import sys
from collections.abc import Callable
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[2]
SAMPLES = ROOT / "samples"


def _load(name: str):
    import modelkit

    return modelkit.load(SAMPLES / name)


def _q(scale, zero_point, axis=None, storage=None, details=None):
    from modelkit.ir import QuantParams

    return QuantParams(np.asarray(scale, np.float64), np.asarray(zero_point, np.int64), axis,
                       storage=storage, details=dict(details or {}))


def _set_data(value, array: np.ndarray) -> None:
    from modelkit.ir import ArrayData, DType

    value.data = ArrayData(array, DType.from_numpy(array.dtype))


def _node(model, op: str, nth: int = 0):
    return [n for n in model.graphs[0].nodes if n.op == op][nth]


def _per_tensor_fc(model, fc) -> None:
    """Requantize a per-channel FULLY_CONNECTED's weights and bias to one scale each."""
    x, w, b = fc.inputs[:3]
    real_w = w.quant.dequantize(w.data.numpy())
    w_scale = float(np.abs(real_w).max() / 127.0)
    w.quant = _q([w_scale], [0], None, w.quant.storage)
    _set_data(w, np.clip(np.round(real_w / w_scale), -127, 127).astype(np.int8))
    real_b = b.quant.dequantize(b.data.numpy())
    b_scale = float(x.quant.scale[0]) * w_scale
    b.quant = _q([b_scale], [0], None, b.quant.storage)
    _set_data(b, np.round(real_b / b_scale).astype(np.int32))


def _scale_bias(b, factor: float, *, values: bool) -> None:
    """Multiply a bias' stated scale by `factor`; with `values`, requantize its ints to it."""
    real = b.quant.dequantize(b.data.numpy()).astype(np.float64)
    b.quant = _q(b.quant.scale * factor, b.quant.zero_point, b.quant.axis, b.quant.storage)
    if values:
        _set_data(b, np.round(real / b.quant.scale).astype(np.int32))


def fc_bias_per_tensor():
    """The reported case: per-tensor FC 8 whose bias scale is 20x input*weight scale.

    The builtin kernel and TFLite Micro refuse it (scale_diff / output_scale <= 0.02).
    """
    m = _load("digits_int8.tflite")
    fc = _node(m, "FULLY_CONNECTED", 1)
    _per_tensor_fc(m, fc)
    _scale_bias(fc.inputs[2], 20.0, values=True)
    return m


def fc_bias_per_tensor_small():
    """Per-tensor FC 8 with bias scale 1.5x: passes the 0.02 check, computes wrong."""
    m = _load("digits_int8.tflite")
    fc = _node(m, "FULLY_CONNECTED", 1)
    _per_tensor_fc(m, fc)
    _scale_bias(fc.inputs[2], 1.5, values=True)
    return m


def conv_bias_per_channel():
    """Per-channel CONV_2D 0 with bias ints quantized at 2x the scale the kernel uses."""
    m = _load("digits_int8.tflite")
    _scale_bias(_node(m, "CONV_2D", 0).inputs[2], 2.0, values=True)
    return m


def fc_bias_per_channel():
    """Per-channel FC 7 whose bias ints are quantized at 4x in*w[c]: silently wrong."""
    m = _load("digits_int8.tflite")
    _scale_bias(_node(m, "FULLY_CONNECTED", 0).inputs[2], 4.0, values=True)
    return m


def conv_filter_zero_point():
    """CONV_2D 1 with a nonzero filter zero point (int8 kernels require 0)."""
    m = _load("digits_int8.tflite")
    w = _node(m, "CONV_2D", 1).inputs[1]
    zp = w.quant.zero_point.copy()
    zp[3] = 5
    w.quant = _q(w.quant.scale, zp, w.quant.axis, w.quant.storage)
    return m


def conv_scale_count():
    """CONV_2D 0 whose filter has 7 scales for 8 output channels."""
    m = _load("digits_int8.tflite")
    w = _node(m, "CONV_2D", 0).inputs[1]
    w.quant = _q(w.quant.scale[:7], w.quant.zero_point[:7], w.quant.axis, w.quant.storage)
    return m


def softmax_output():
    """SOFTMAX with output scale 1/255 and zero point 0 instead of 1/256, -128."""
    m = _load("digits_int8.tflite")
    out = _node(m, "SOFTMAX").outputs[0]
    out.quant = _q([1 / 255], [0], None, out.quant.storage)
    return m


def logistic_output():
    """The SOFTMAX made a LOGISTIC whose output scale is 1/255 instead of 1/256."""
    m = _load("digits_int8.tflite")
    node = _node(m, "SOFTMAX")
    node.op, node.attrs, node.version = "LOGISTIC", {}, 2
    out = node.outputs[0]
    out.quant = _q([1 / 255], [-128], None, out.quant.storage)
    return m


def concat_scales():
    """A CONCATENATION of FC 7's output with itself, its output at another scale."""
    from modelkit.ir import EnumValue, Node, Value

    m = _load("digits_int8.tflite")
    g = m.graphs[0]
    fc = _node(m, "FULLY_CONNECTED", 0)
    a = fc.outputs[0]
    out = Value("concat_out", a.dtype, (1, 64), index=len(g.values),
                quant=_q(a.quant.scale * 1.5, a.quant.zero_point, None, a.quant.storage))
    node = Node("concat_out", "CONCATENATION", "tflite", [a, a], [out],
                attrs={"axis": 1, "fused_activation_function": EnumValue("NONE", 0)},
                index=len(g.nodes), version=1)
    g.values.append(out)
    g.nodes.insert(g.nodes.index(fc) + 1, node)
    for i, n in enumerate(g.nodes):
        n.index = i
    g.outputs.append(out)
    return m


def pool_output():
    """MAX_POOL_2D whose output has 2x the input scale: the kernel copies ints, so its
    stated values are wrong (the flatten RESHAPE after it then reads them at 2x and
    writes them at 1x: a second mismatch that happens to cancel the first)."""
    m = _load("digits_int8.tflite")
    pool = _node(m, "MAX_POOL_2D")
    x, y = pool.inputs[0], pool.outputs[0]
    y.quant = _q(x.quant.scale * 2, x.quant.zero_point, None, x.quant.storage)
    return m


def pool_zero_point():
    """MAX_POOL_2D whose output zero point is the input's + 10 (same scale)."""
    m = _load("digits_int8.tflite")
    pool = _node(m, "MAX_POOL_2D")
    x, y = pool.inputs[0], pool.outputs[0]
    y.quant = _q(x.quant.scale, x.quant.zero_point + 10, None, x.quant.storage)
    return m


def reshape_output():
    """RESHAPE (the flatten) whose output scale is 1.25x its input's: bytes are copied."""
    m = _load("digits_int8.tflite")
    node = _node(m, "RESHAPE")
    x, y = node.inputs[0], node.outputs[0]
    y.quant = _q(x.quant.scale * 1.25, x.quant.zero_point, None, x.quant.storage)
    return m


def uint8_conv_bias():
    """The uint8 legacy model with CONV_2D 1's bias scale 20x: uint8 convs check it."""
    m = _load("digits_uint8_legacy.tflite")
    _scale_bias(_node(m, "CONV_2D", 1).inputs[2], 20.0, values=True)
    return m


def int16_fc_zero_point():
    """The int16x8 model with a nonzero zero point on FC 9's input (int16 needs 0)."""
    m = _load("digits_int16x8.tflite")
    fc = _node(m, "FULLY_CONNECTED", 1)
    x = fc.inputs[0]
    x.quant = _q(x.quant.scale, [3], None, x.quant.storage)
    return m


def conv_bias_int64():
    """CONV_2D 0 of the int8 model with an int64 bias (int8 convolutions need int32)."""
    from modelkit.ir import ArrayData, DType

    m = _load("digits_int8.tflite")
    b = _node(m, "CONV_2D", 0).inputs[2]
    b.data = ArrayData(b.data.numpy().astype(np.int64), DType.INT64)
    b.dtype = DType.INT64
    return m


def fc_per_channel_axis():
    """FC 7 with one weight scale per input column (quantized dimension 1, not 0)."""
    m = _load("digits_int8.tflite")
    w = _node(m, "FULLY_CONNECTED", 0).inputs[1]
    n = w.shape[1]
    w.quant = _q(np.full(n, w.quant.scale[0]), np.zeros(n), 1, w.quant.storage)
    return m


def conv_filter_axis():
    """CONV_2D 1 with its 8 scales along the input-channel axis (3) of a 16-output filter."""
    m = _load("digits_int8.tflite")
    w = _node(m, "CONV_2D", 1).inputs[1]
    w.quant = _q(w.quant.scale[:8], w.quant.zero_point[:8], 3, w.quant.storage)
    return m


def log_softmax_output():
    """The SOFTMAX made a LOG_SOFTMAX keeping softmax's output parameters (1/256, -128)."""
    m = _load("digits_int8.tflite")
    node = _node(m, "SOFTMAX")
    node.op, node.attrs, node.version = "LOG_SOFTMAX", {}, 2
    return m


def l2_pool_int8():
    """The int8 MAX_POOL_2D made an L2_POOL_2D, which has float kernels only."""
    m = _load("digits_int8.tflite")
    node = _node(m, "MAX_POOL_2D")
    node.op, node.version = "L2_POOL_2D", 1
    return m


def int16_softmax_output():
    """The int16x8 model's SOFTMAX with output scale 1/32000 instead of 1/32768."""
    m = _load("digits_int16x8.tflite")
    y = _node(m, "SOFTMAX").outputs[0]
    y.quant = _q([1 / 32000], [0], None, y.quant.storage)
    return m


def softmax_tiny_input():
    """SOFTMAX whose input (FC 8's output) has scale 1e-9, as untrained models with tiny
    logits get: TFLite Micro's int8 softmax aborts the process (no message)."""
    m = _load("digits_int8.tflite")
    x = _node(m, "SOFTMAX").inputs[0]
    x.quant = _q([1e-9], x.quant.zero_point, None, x.quant.storage)
    return m


def int16_conv_bias():
    """The int16x8 model's CONV_2D 1 with its int64 bias ints quantized at 3x in*w[c]."""
    m = _load("digits_int16x8.tflite")
    b = _node(m, "CONV_2D", 0).inputs[2]
    real = b.quant.dequantize(b.data.numpy()).astype(np.float64)
    b.quant = _q(b.quant.scale * 3, b.quant.zero_point, b.quant.axis, b.quant.storage)
    _set_data(b, np.round(real / b.quant.scale).astype(np.int64))
    return m


def make_mixed_int8(path: str | Path) -> None:
    """tests/data/mixed_int8.tflite: a small int8 CNN from TF's own converter with the ops
    real models have (depthwise, residual ADD, average and max pooling, CONCATENATION,
    MEAN, FULLY_CONNECTED, SOFTMAX). Needs TensorFlow; the file is committed."""
    import tensorflow as tf

    rng = np.random.default_rng(0)
    inp = tf.keras.Input((16, 16, 3), batch_size=1)
    x = tf.keras.layers.Conv2D(8, 3, padding="same", activation="relu")(inp)
    y = tf.keras.layers.DepthwiseConv2D(3, padding="same", activation="relu6")(x)
    y = tf.keras.layers.Conv2D(8, 1)(y)
    x = tf.keras.layers.Add()([x, y])
    x = tf.keras.layers.Concatenate()([tf.keras.layers.AveragePooling2D(2)(x),
                                       tf.keras.layers.MaxPooling2D(2)(x)])
    x = tf.keras.layers.Conv2D(16, 3, strides=2, padding="same", activation="relu")(x)
    x = tf.keras.layers.GlobalAveragePooling2D()(x)
    out = tf.keras.layers.Softmax()(tf.keras.layers.Dense(10)(x))

    def rep():
        for _ in range(20):
            yield [rng.random((1, 16, 16, 3), dtype=np.float32)]

    conv = tf.lite.TFLiteConverter.from_keras_model(tf.keras.Model(inp, out))
    conv.optimizations = [tf.lite.Optimize.DEFAULT]
    conv.representative_dataset = rep
    conv.target_spec.supported_ops = [tf.lite.OpsSet.TFLITE_BUILTINS_INT8]
    conv.inference_input_type = conv.inference_output_type = tf.int8
    Path(path).write_bytes(conv.convert())


def make_tconv_int8(path: str | Path) -> None:
    """tests/data/tconv_int8.tflite: int8 TRANSPOSE_CONV, RELU, CONV_2D, RESHAPE,
    FULLY_CONNECTED from TF's converter (Micro requests a scratch buffer for the
    transpose convolution's accumulators). Needs TensorFlow; the file is committed."""
    import tensorflow as tf

    rng = np.random.default_rng(0)
    inp = tf.keras.Input((8, 8, 4), batch_size=1)
    x = tf.keras.layers.Conv2DTranspose(8, 3, strides=2, padding="same", activation="relu")(inp)
    x = tf.keras.layers.Conv2D(4, 3, padding="same")(x)
    out = tf.keras.layers.Dense(10)(tf.keras.layers.Reshape((16 * 16 * 4,))(x))

    def rep():
        for _ in range(10):
            yield [rng.random((1, 8, 8, 4), dtype=np.float32)]

    conv = tf.lite.TFLiteConverter.from_keras_model(tf.keras.Model(inp, out))
    conv.optimizations = [tf.lite.Optimize.DEFAULT]
    conv.representative_dataset = rep
    conv.target_spec.supported_ops = [tf.lite.OpsSet.TFLITE_BUILTINS_INT8]
    conv.inference_input_type = conv.inference_output_type = tf.int8
    Path(path).write_bytes(conv.convert())

def int16_relu6_tiny_scale():
    """The int16x8 model's CONV_2D 1 with a fused RELU6 and output scale 1e-9, as
    calibration of a dead layer gives: 6 / 1e-9 does not fit int32, both runtimes refuse."""
    from modelkit.ir import EnumValue

    m = _load("digits_int16x8.tflite")
    conv = _node(m, "CONV_2D", 0)
    conv.attrs["fused_activation_function"] = EnumValue("RELU6", 3)
    y = conv.outputs[0]
    y.quant = _q([1e-9], [0], None, y.quant.storage)
    return m


REAL_MAKERS: dict[str, Callable] = {"mixed_int8": make_mixed_int8, "tconv_int8": make_tconv_int8}

MAKERS: dict[str, Callable] = {
    f.__name__: f for f in (fc_bias_per_tensor, fc_bias_per_tensor_small, conv_bias_per_channel,
                            fc_bias_per_channel, conv_filter_zero_point, conv_scale_count,
                            softmax_output, logistic_output, concat_scales, pool_output,
                            uint8_conv_bias, int16_fc_zero_point, conv_bias_int64,
                            fc_per_channel_axis, conv_filter_axis, log_softmax_output,
                            l2_pool_int8, int16_softmax_output, int16_conv_bias,
                            pool_zero_point, reshape_output, softmax_tiny_input,
                            int16_relu6_tiny_scale)
}


def write(name: str, path: str | Path, *, force: bool = True) -> Path:
    """Make the broken model `name` and write it to `path`."""
    import modelkit

    model = MAKERS[name]()
    model.path = None
    modelkit.save(model, path, force=force)
    return Path(path)


def main(argv: list[str]) -> int:
    if len(argv) > 2 and argv[1] == "--real":
        for name in argv[3:] or list(REAL_MAKERS):
            REAL_MAKERS[name](Path(argv[2]) / f"{name}.tflite")
        return 0
    out = Path(argv[1] if len(argv) > 1 else "build/broken")
    names = argv[2:] or list(MAKERS)
    for name in names:
        print(write(name, out / f"{name}.tflite"))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
