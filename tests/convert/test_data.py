"""Representative data loading and the input/output quantization report."""

from __future__ import annotations

import numpy as np
import pytest

from modelkit.convert.data import (InputSpec, cast_values, check_data, find_nonfinite, load_data,
                                   random_inputs, read_data)
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


# -- vetting: NaN/Inf and lossy casts, counted by hand -----------------------------------

def test_nonfinite_counts_and_first_position():
    x = np.zeros((4, 2, 3), np.float32)
    x[2, 1, 0] = np.nan
    x[1, 0, 2] = -np.inf
    x[3, 1, 1] = np.inf
    x[3, 0, 0] = np.nan
    found = find_nonfinite(x)
    assert (found.nan, found.posinf, found.neginf, found.count) == (2, 1, 1, 4)
    assert found.first == (1, 0, 2)     # row-major order: sample 1 comes first
    assert found.describe() == ("4 non-finite values (2 NaN, 1 +Inf, 1 -Inf) of 24, "
                                "the first at [1, 0, 2] (sample 1)")
    assert find_nonfinite(np.ones((2, 2))) is None
    assert find_nonfinite(np.arange(4)) is None


def test_cast_to_integers_counts_fractions_range_and_nan():
    x = np.array([3.7, -2.5, 127.0, 128.0, -129.5, np.nan, 5.0])
    out, loss = cast_values(x, np.dtype(np.int8))
    assert out.dtype == np.int8 and out[0] == 3 and out[1] == -2
    # 3.7 and -2.5 are fractions; 128 and -129.5 are outside [-128, 127]; NaN.
    assert loss.changed == 5
    assert dict((why.split(",")[0], n) for n, why in loss.reasons) == {
        "not whole numbers": 2, "outside int8's range [-128": 2,
        "NaN or Inf": 1}
    _, none = cast_values(np.array([1.0, -128.0, 127.0]), np.dtype(np.int8))
    assert none is None
    _, wide = cast_values(np.array([300, -5, 7]), np.dtype(np.uint8))
    assert wide.changed == 2


def test_cast_to_narrower_floats_counts_overflow_and_underflow_not_rounding():
    # float16 holds up to 65504; 1e-9 is below its smallest subnormal (6e-8).
    x = np.array([1.0, 0.1, 65504.0, 70000.0, -1e6, 1e-9, 0.0])
    out, loss = cast_values(x, np.dtype(np.float16))
    assert out.dtype == np.float16
    assert (loss.changed, loss.overflow) == (3, 2)
    assert "2 beyond float16's largest value 65504, now Inf; 1 too small for float16, now 0" \
        in loss.describe()
    _, none = cast_values(np.array([0.1, 1 / 3]), np.dtype(np.float32))
    assert none is None


def test_cast_of_integers_a_float_cannot_hold():
    _, loss = cast_values(np.array([2 ** 24, 2 ** 24 + 1, -3], np.int64),
                          np.dtype(np.float32))
    assert loss.changed == 1
    _, flags = cast_values(np.array([0, 1, 2]), np.dtype(bool))
    assert flags.changed == 1


def test_read_data_refuses_or_reports_nan(tmp_path):
    x = np.ones((3, 4, 6, 3), np.float32)
    x[2, 0, 5, 1] = np.nan
    np.save(tmp_path / "d.npy", x)
    with pytest.raises(UsageError, match=r"array 'd' holds 1 non-finite value \(1 NaN\) of "
                       r"216, the first at \[2, 0, 5, 1\] \(sample 2\)"):
        load_data(tmp_path / "d.npy", [IMG])
    said = []
    data = read_data(tmp_path / "d.npy", [IMG], allow_nonfinite=True, warn=said.append)
    assert len(said) == 1 and "running anyway" in said[0]
    assert data.total == 3 and data.inputs[0].to_dict()["nonfinite_values"] == 1
    # --limit 2 leaves the NaN out: nothing to say.
    said.clear()
    assert read_data(tmp_path / "d.npy", [IMG], limit=2, warn=said.append).total == 3
    assert said == []


def test_read_data_refuses_values_the_cast_makes_infinite(tmp_path):
    x = np.ones((2, 4, 6, 3))
    x[1, 0, 0, 0] = 1e39
    np.save(tmp_path / "d.npy", x)
    with pytest.raises(UsageError, match="1 beyond float32's largest value"):
        load_data(tmp_path / "d.npy", [IMG])


def test_check_data_reads_without_a_model(tmp_path):
    x = np.zeros((5, 2), np.float32)
    np.savez(tmp_path / "ok.npz", x=x, y=np.arange(5))
    assert check_data(tmp_path / "ok.npz") == 5
    np.savez(tmp_path / "uneven.npz", x=x, names=np.arange(3))
    assert check_data(tmp_path / "uneven.npz") is None
    x[4, 1] = np.inf
    np.savez(tmp_path / "inf.npz", x=x, y=np.arange(5))
    with pytest.raises(UsageError, match=r"array 'x' holds 1 non-finite value \(1 \+Inf\)"):
        check_data(tmp_path / "inf.npz")
    (tmp_path / "empty.npy").write_bytes(b"")
    with pytest.raises(UsageError, match=r"the data file is empty \(0 bytes\)"):
        check_data(tmp_path / "empty.npy")
    assert check_data(None) is None
