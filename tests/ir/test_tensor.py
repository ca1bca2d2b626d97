"""Lazy tensor data and graph edges."""

import numpy as np

from modelkit.ir import BufferData, DType, Node, Value
from modelkit.ir.tensor import unpack_subbyte


def test_buffer_view_is_zero_copy():
    raw = bytearray(np.arange(6, dtype=np.float32).tobytes())
    data = BufferData(raw, 0, len(raw), DType.FLOAT32, (2, 3))
    arr = data.numpy()
    np.testing.assert_array_equal(arr, np.arange(6, dtype=np.float32).reshape(2, 3))
    raw[0:4] = np.float32(9).tobytes()
    assert data.numpy()[0, 0] == 9  # a view on the buffer, not a copy


def test_int4_unpacking_low_nibble_first():
    # 0x21 -> 1, 2; 0xF7 -> 7, -1 (0xF is -1 in two's complement int4).
    vals = unpack_subbyte(np.array([0x21, 0xF7], np.uint8), DType.INT4, 4)
    np.testing.assert_array_equal(vals, [1, 2, 7, -1])


def test_set_input_keeps_consumers():
    a, b, out = Value("a"), Value("b"), Value("out")
    n = Node("n", "ADD", "tflite", inputs=[a, a], outputs=[out])
    assert a.consumers == [(n, 0), (n, 1)] and out.producer is n
    n.set_input(1, b)
    assert a.consumers == [(n, 0)] and b.consumers == [(n, 1)]
    n.set_input(0, None)
    assert a.consumers == [] and n.inputs == (None, b)
