"""Denylist names against a real model's ops (no TensorFlow): unknown names stop with
the close ones; ops that stayed integer are named. Facts from the interpreter."""

from __future__ import annotations

import pytest

from modelkit.convert.selective import (Denylist, check_mode, check_names, left_quantized,
                                        op_outputs, parse_list, parse_ops)
from modelkit.errors import UsageError
from tests.conftest import SAMPLES


@pytest.fixture(scope="module")
def rows():
    return op_outputs((SAMPLES / "digits_float.tflite").read_bytes())


def test_op_outputs_are_the_interpreters(rows):
    from ai_edge_litert.interpreter import Interpreter

    it = Interpreter(model_path=str(SAMPLES / "digits_float.tflite"))
    details = {d["index"]: d for d in it.get_tensor_details()}
    expected = [(op["op_name"], details[op["outputs"][0]]["name"],
                 details[op["outputs"][0]]["dtype"].__name__) for op in it._get_ops_details()]
    assert rows == expected


def test_unknown_node_names_the_close_one(rows):
    names, ops = [r[1] for r in rows], [r[0] for r in rows]
    dense = next(n for n in names if "dense1" in n)
    check_names(Denylist([dense], ["FULLY_CONNECTED"]), names, ops)
    with pytest.raises(UsageError, match="did you mean") as e:
        check_names(Denylist([dense[:-3]]), names, ops)
    assert dense in str(e.value)
    with pytest.raises(UsageError, match="no LSTM op; it has CONV_2D"):
        check_names(Denylist([], ["LSTM"]), names, ops)


def test_parsing_and_modes():
    assert parse_list(" a;b , c,,") == ["a;b", "c"]
    assert parse_ops("conv_2d,Fully_Connected") == ["CONV_2D", "FULLY_CONNECTED"]
    check_mode("int8", Denylist(["x"]))
    check_mode("dynamic", Denylist())
    with pytest.raises(UsageError, match="--quantize int8"):
        check_mode("int16x8", Denylist([], ["CONV_2D"]))


def test_left_quantized_names_what_stayed_integer():
    quant = op_outputs((SAMPLES / "digits_int8.tflite").read_bytes())
    pool = next(name for op, name, _ in quant if op == "MAX_POOL_2D")
    assert left_quantized(quant, Denylist([pool], ["SOFTMAX"])) == [pool, "SOFTMAX"]
    float_rows = op_outputs((SAMPLES / "digits_float.tflite").read_bytes())
    assert left_quantized(float_rows, Denylist([float_rows[0][1]], ["CONV_2D"])) == []
