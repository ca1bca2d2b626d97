"""Representative data loading and the input/output quantization report."""

from __future__ import annotations

import numpy as np
import pytest

from modelkit.convert.data import InputSpec, load_data, random_inputs
from modelkit.errors import UsageError
from modelkit.ir import DType, QuantParams
from modelkit.quant.io_report import TensorIO, from_real, tensor_io, to_real

IMG = InputSpec("input", np.dtype(np.float32), (None, 4, 6, 3))


def test_npy_one_input(tmp_path):
    a = np.random.default_rng(0).random((5, 4, 6, 3))
    np.save(tmp_path / "d.npy", a)
    (got,) = load_data(tmp_path / "d.npy", [IMG], limit=3)
    assert got.dtype == np.float32 and got.shape == (3, 4, 6, 3)
    np.testing.assert_allclose(got, a[:3].astype(np.float32))


def test_npz_by_name_then_order(tmp_path):
    specs = [InputSpec("a", np.dtype(np.float32), (None, 2)),
             InputSpec("b:0", np.dtype(np.int32), (None, 3))]
    a, b = np.ones((4, 2)), np.arange(12).reshape(4, 3)
    np.savez(tmp_path / "named.npz", b=b, a=a)
    got = load_data(tmp_path / "named.npz", specs)
    np.testing.assert_array_equal(got[0], a) and np.testing.assert_array_equal(got[1], b)
    np.savez(tmp_path / "ordered.npz", first=a, second=b)
    got = load_data(tmp_path / "ordered.npz", specs)
    assert got[1].dtype == np.int32 and got[1].shape == (4, 3)


def test_npz_one_input_picks_fitting_array(tmp_path):
    np.savez(tmp_path / "t.npz", x=np.zeros((7, 4, 6, 3)), y=np.zeros(7))
    (got,) = load_data(tmp_path / "t.npz", [IMG])
    assert got.shape == (7, 4, 6, 3)


def test_wrong_shape_is_a_usage_error(tmp_path):
    np.save(tmp_path / "d.npy", np.zeros((5, 4, 4, 3)))
    with pytest.raises(UsageError, match=r"shape \[5, 4, 4, 3\].*\[\?,4,6,3\]"):
        load_data(tmp_path / "d.npy", [IMG])


def test_image_folder_resized_and_scaled(tmp_path):
    from PIL import Image

    pixels = np.full((8, 12, 3), 51, dtype=np.uint8)  # 51 / 255 = 0.2
    Image.fromarray(pixels).save(tmp_path / "a.png")
    Image.fromarray(pixels[..., 0]).save(tmp_path / "b.png")  # grayscale -> RGB
    (tmp_path / "notes.txt").write_text("not an image")
    (got,) = load_data(tmp_path, [IMG])
    assert got.shape == (2, 4, 6, 3)
    np.testing.assert_allclose(got, 0.2, atol=1e-6)


def test_random_inputs_ranges():
    f, i = random_inputs([IMG, InputSpec("ids", np.dtype(np.int32), (None, 5))], 4)
    assert f.shape == (4, 4, 6, 3) and 0 <= f.min() and f.max() <= 1
    assert i.dtype == np.int32 and i.shape == (4, 5)


def test_int8_io_round_trip_and_advice():
    # The digits int8 input: scale 1/255, zero point -128 (real in [0, 1]).
    io = TensorIO("input", "input", DType.INT8, (1, 2),
                  QuantParams([1 / 255], [-128], storage=DType.INT8))
    q = from_real(np.array([[0.0, 1.0]]), io)
    assert q.dtype == np.int8 and q.tolist() == [[-128, 127]]
    np.testing.assert_allclose(to_real(q, io), [[0.0, 1.0]], atol=1e-6)
    text = "\n".join(io.advice())
    assert "mean -128, std 255 (as uint8: mean 0)" in text
    assert "q = round(x / 0.00392157) - 128, clipped to [-128, 127], as int8" in text
    d = io.to_dict()
    assert (d["mean"], d["std"], d["real_min"], d["real_max"]) == pytest.approx((-128, 255, 0, 1))


def test_tensor_io_from_interpreter_details():
    from ai_edge_litert.interpreter import Interpreter

    from tests.conftest import SAMPLES

    it = Interpreter(model_path=str(SAMPLES / "digits_uint8_legacy.tflite"))
    detail = it.get_input_details()[0]
    io = tensor_io(detail, "input")
    scale, zp = detail["quantization"]
    assert io.dtype == DType.UINT8 and io.is_quantized
    assert float(io.quant.scale[0]) == pytest.approx(scale) and int(io.quant.zero_point[0]) == zp
    # The sample was converted with mean 0, std 255.
    mean, std = io.quant.mean_std()
    assert (float(mean[0]), float(std[0])) == pytest.approx((0.0, 255.0))
