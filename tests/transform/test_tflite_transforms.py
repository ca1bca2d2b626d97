"""TFLite transforms against TF's modify_model_interface and the interpreter."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from tests.conftest import SAMPLES

DATA = Path(__file__).parent / "data"
FLOAT_IO_INT8 = DATA / "digits_int8_floatio.tflite"  # made by tests/transform/make_data.py
# TensorType numbers modify_model_interface takes.
TENSOR_TYPE = {"int8": 9, "uint8": 3, "int16": 7}


def _transform(src: Path, spec: str, dst: Path):
    import modelkit
    from modelkit.formats.tflite.writer import save
    from modelkit.transform import PassContext, parse_spec, run_passes

    model, reports = run_passes(modelkit.load(src), parse_spec(spec), PassContext())
    save(model, dst, force=True)
    return reports


def _run(path: Path, x: np.ndarray):
    """Output (dequantized to float) and the IO details, feeding float `x` quantized
    with the input's own parameters."""
    from ai_edge_litert.interpreter import Interpreter

    it = Interpreter(model_path=str(path))
    it.allocate_tensors()
    i, o = it.get_input_details()[0], it.get_output_details()[0]
    if i["dtype"] != np.float32:
        s, z = i["quantization"]
        info = np.iinfo(i["dtype"])
        x = np.clip(np.round(x / s + z), info.min, info.max).astype(i["dtype"])
    it.set_tensor(i["index"], x)
    it.invoke()
    y = it.get_tensor(o["index"])
    if o["dtype"] != np.float32:
        s, z = o["quantization"]
        y = (y.astype(np.float32) - z) * s
    return y, i, o


@pytest.fixture(scope="module")
def images() -> np.ndarray:
    return np.load(SAMPLES / "digits_calib.npy")[:8].astype(np.float32)


def _oracle(src: Path, dst: Path, in_type: str, out_type: str) -> None:
    from ai_edge_litert._pywrap_modify_model_interface import modify_model_interface

    assert modify_model_interface(str(src), str(dst), TENSOR_TYPE[in_type],
                                  TENSOR_TYPE[out_type]) == 0


@pytest.mark.parametrize("src,io", [(FLOAT_IO_INT8, "int8"), (FLOAT_IO_INT8, "uint8"),
                                    (SAMPLES / "digits_int16x8.tflite", "int16")])
def test_set_io_type_matches_modify_model_interface(tmp_path, images, src, io):
    theirs, ours = tmp_path / "tf.tflite", tmp_path / "mk.tflite"
    _oracle(src, theirs, io, io)
    reports = _transform(src, f"set_io_type(type={io})", ours)
    assert reports[0].changed
    for x in images:
        x = x[None]
        want, ti, to = _run(theirs, x)
        got, mi, mo = _run(ours, x)
        assert (mi["dtype"], mo["dtype"]) == (ti["dtype"], to["dtype"])
        assert mi["quantization"] == ti["quantization"]
        assert mo["quantization"] == to["quantization"]
        np.testing.assert_array_equal(got, want)
    # The IO keeps the source's names (TF's int8 result names its input tfl.quantize).
    import modelkit

    src_model, out_model = modelkit.load(src), modelkit.load(ours)
    assert [v.name for v in out_model.main.inputs] == [v.name for v in src_model.main.inputs]
    assert [v.name for v in out_model.main.outputs] == \
        [v.name for v in src_model.main.outputs]


def test_uint8_io_is_the_int8_grid_shifted_by_128(tmp_path, images):
    u8, i8 = tmp_path / "u8.tflite", tmp_path / "i8.tflite"
    _transform(FLOAT_IO_INT8, "set_io_type(type=uint8)", u8)
    _transform(FLOAT_IO_INT8, "set_io_type(type=int8)", i8)
    base, _, _ = _run(FLOAT_IO_INT8, images[:1])
    got, ui, uo = _run(u8, images[:1])
    _, ii, io = _run(i8, images[:1])
    assert ui["dtype"] == np.uint8 and uo["dtype"] == np.uint8
    assert ui["quantization"] == (ii["quantization"][0], ii["quantization"][1] + 128)
    assert uo["quantization"] == (io["quantization"][0], io["quantization"][1] + 128)
    # within one quantization step of the output of the source
    assert np.abs(got - base).max() <= uo["quantization"][0] + 1e-7


def test_set_io_type_round_trips_through_float(tmp_path, images):
    """int8 IO -> float32 IO (adds QUANTIZE/DEQUANTIZE, which TF's tool cannot) gives
    the source's float results; the signature runner still works."""
    from ai_edge_litert.interpreter import Interpreter

    int8, back = tmp_path / "i8.tflite", tmp_path / "f.tflite"
    _transform(FLOAT_IO_INT8, "set_io_type(type=int8)", int8)
    reports = _transform(int8, "set_io_type(type=float32)", back)
    assert reports[0].op_delta == {"QUANTIZE": 1, "DEQUANTIZE": 1}
    for x in images:
        np.testing.assert_array_equal(_run(back, x[None])[0], _run(FLOAT_IO_INT8, x[None])[0])
    it = Interpreter(model_path=str(back))
    runner = it.get_signature_runner("serving_default")
    out = runner(input=images[:1])
    np.testing.assert_array_equal(next(iter(out.values())), _run(FLOAT_IO_INT8, images[:1])[0])


def test_set_io_type_uint8_on_an_int8_io_model(tmp_path, images):
    dst = tmp_path / "u8.tflite"
    reports = _transform(SAMPLES / "digits_int8.tflite", "set_io_type(type=uint8)", dst)
    assert reports[0].op_delta == {"QUANTIZE": 2}
    for x in images:
        want, wi, wo = _run(SAMPLES / "digits_int8.tflite", x[None])
        got, gi, go = _run(dst, x[None])
        assert gi["quantization"] == (wi["quantization"][0], wi["quantization"][1] + 128)
        assert go["quantization"] == (wo["quantization"][0], wo["quantization"][1] + 128)
        np.testing.assert_array_equal(got, want)


def test_set_io_type_refuses_a_float_model(tmp_path):
    import modelkit
    from modelkit.transform import PassContext, TransformError, parse_spec, run_passes

    with pytest.raises(TransformError, match="quantize the model first"):
        run_passes(modelkit.load(SAMPLES / "digits_float.tflite"),
                   parse_spec("set_io_type(type=int8)"), PassContext())


def test_strip_unused_buffers_drops_and_merges(tmp_path, images):
    """A model with a dangling constant and a duplicated one: the pass gives a
    smaller file with fewer buffers and the same results."""
    import modelkit
    from modelkit.formats.tflite.writer import save
    from modelkit.ir import ArrayData, Node, Value

    model = modelkit.load(SAMPLES / "digits_float.tflite")
    g = model.main
    consts = [v for v in g.values if v.data is not None]
    big = max(consts, key=lambda v: v.data.nbytes)
    dup = ArrayData(np.array(big.data.numpy(), copy=True))
    twin = Value(big.name + "_copy", big.dtype, big.shape, data=dup)
    total = Value("weights_doubled", big.dtype, big.shape)
    g.values += [twin, total]
    g.nodes.append(Node("weights_doubled", "ADD", "tflite", [big, twin], [total], version=1))
    g.outputs.append(total)
    g.values.append(Value("dangling", big.dtype, big.shape, data=ArrayData(dup.array + 1)))
    bloated = tmp_path / "bloated.tflite"
    save(model, bloated)
    clean = tmp_path / "clean.tflite"
    reports = _transform(bloated, "strip_unused_buffers", clean)
    assert any("merged 1 duplicate buffer" in n for n in reports[0].notes)
    assert any("removed 1 unused tensor" in n for n in reports[0].notes)
    assert clean.stat().st_size <= bloated.stat().st_size - 2 * big.data.nbytes
    from ai_edge_litert import schema_py_generated as schema

    def buffers(p):
        return schema.Model.GetRootAs(p.read_bytes()).BuffersLength()

    assert buffers(clean) == buffers(bloated) - 2
    for x in images:
        np.testing.assert_array_equal(_run(clean, x[None])[0],
                                      _run(SAMPLES / "digits_float.tflite", x[None])[0])


def test_rename_tensor_renames_io_and_signature(tmp_path, images):
    from ai_edge_litert.interpreter import Interpreter

    dst = tmp_path / "r.tflite"
    _transform(SAMPLES / "digits_float.tflite",
               "rename_tensor(old=serving_default_input:0, new=image)", dst)
    it = Interpreter(model_path=str(dst))
    assert it.get_input_details()[0]["name"] == "image"
    sig = it.get_signature_list()["serving_default"]
    runner = it.get_signature_runner("serving_default")
    out = runner(**{sig["inputs"][0]: images[:1]})
    np.testing.assert_array_equal(next(iter(out.values())),
                                  _run(SAMPLES / "digits_float.tflite", images[:1])[0])
