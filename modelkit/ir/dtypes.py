"""Element types shared by every format.

`DType` names an element type once and maps it to numpy, to TensorFlow's
`DataType` enum numbers and to TFLite's `TensorType` enum numbers. The numbers
are the ones in TensorFlow's `types.proto` and TFLite's `schema.fbs`; no
framework is imported to know them, and numpy only when a numpy type is asked for.
"""

from __future__ import annotations

import enum
from functools import cache
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    import numpy as np


class DType(enum.Enum):
    """An element type. The value is the canonical lower-case name."""

    FLOAT32 = "float32"
    FLOAT16 = "float16"
    BFLOAT16 = "bfloat16"
    FLOAT64 = "float64"
    FLOAT8_E4M3FN = "float8_e4m3fn"
    FLOAT8_E5M2 = "float8_e5m2"
    FLOAT8_E4M3FNUZ = "float8_e4m3fnuz"
    FLOAT8_E4M3B11FNUZ = "float8_e4m3b11fnuz"
    FLOAT8_E5M2FNUZ = "float8_e5m2fnuz"
    FLOAT4_E2M1FN = "float4_e2m1fn"
    INT2 = "int2"
    UINT2 = "uint2"
    INT4 = "int4"
    UINT4 = "uint4"
    INT8 = "int8"
    UINT8 = "uint8"
    INT16 = "int16"
    UINT16 = "uint16"
    INT32 = "int32"
    UINT32 = "uint32"
    INT64 = "int64"
    UINT64 = "uint64"
    BOOL = "bool"
    STRING = "string"
    COMPLEX64 = "complex64"
    COMPLEX128 = "complex128"
    RESOURCE = "resource"
    VARIANT = "variant"
    # TF1 legacy quantized types (QuantizeV2, QuantizedConv2D, ...).
    QINT8 = "qint8"
    QUINT8 = "quint8"
    QINT16 = "qint16"
    QUINT16 = "quint16"
    QINT32 = "qint32"

    def __str__(self) -> str:
        return self.value

    @property
    def bits(self) -> int | None:
        """Storage bits per element, or None when elements have no fixed size."""
        return _BITS.get(self)

    @property
    def is_float(self) -> bool:
        return self.value.startswith(("float", "bfloat"))

    @property
    def is_integer(self) -> bool:
        return self.value.lstrip("q").startswith(("int", "uint"))

    @property
    def is_quantized_legacy(self) -> bool:
        """True for TF1's qint8/quint8/... types."""
        return self.value.startswith(("qint", "quint"))

    def integer_range(self) -> tuple[int, int]:
        """Smallest and largest value of an integer type.

        Raises:
            ValueError: the type is not an integer type.
        """
        if not self.is_integer:
            raise ValueError(f"{self.value} is not an integer type")
        bits = self.bits
        assert bits is not None
        if self.value.lstrip("q").startswith("u"):
            return 0, (1 << bits) - 1
        return -(1 << (bits - 1)), (1 << (bits - 1)) - 1

    def nbytes(self, num_elements: int) -> int | None:
        """Bytes needed to store `num_elements` densely (sub-byte types packed)."""
        bits = self.bits
        if bits is None:
            return None
        return (num_elements * bits + 7) // 8

    @property
    def numpy(self) -> np.dtype | None:
        """The numpy dtype that holds one unpacked element, or None."""
        return _numpy_dtype(self)

    @classmethod
    def from_numpy(cls, dtype: np.dtype | type | str) -> DType:
        """The DType of a numpy dtype (ml_dtypes types included).

        Raises:
            ValueError: numpy has no such type in the table.
        """
        import numpy as np

        dt = np.dtype(dtype)
        if dt.kind in ("S", "U", "O"):
            return cls.STRING
        name = dt.name
        try:
            return cls(name)
        except ValueError:
            raise ValueError(f"no DType for numpy dtype {name}") from None

    @classmethod
    def from_tf(cls, code: int) -> DType:
        """The DType of a TensorFlow `DataType` number (`_REF` types folded).

        Raises:
            ValueError: unknown or invalid number.
        """
        if code > 100:
            code -= 100
        try:
            return _FROM_TF[code]
        except KeyError:
            raise ValueError(f"unknown TensorFlow DataType {code}") from None

    @property
    def tf(self) -> int | None:
        """TensorFlow `DataType` number, or None when TF has no such type."""
        return _TO_TF.get(self)

    @classmethod
    def from_tflite(cls, code: int) -> DType:
        """The DType of a TFLite `TensorType` number.

        Raises:
            ValueError: unknown number.
        """
        try:
            return _FROM_TFLITE[code]
        except KeyError:
            raise ValueError(f"unknown TFLite TensorType {code}") from None

    @property
    def tflite(self) -> int | None:
        """TFLite `TensorType` number, or None when TFLite has no such type."""
        return _TO_TFLITE.get(self)


_BITS = {
    DType.FLOAT32: 32, DType.FLOAT16: 16, DType.BFLOAT16: 16, DType.FLOAT64: 64,
    DType.FLOAT8_E4M3FN: 8, DType.FLOAT8_E5M2: 8, DType.FLOAT8_E4M3FNUZ: 8,
    DType.FLOAT8_E4M3B11FNUZ: 8, DType.FLOAT8_E5M2FNUZ: 8, DType.FLOAT4_E2M1FN: 4,
    DType.INT2: 2, DType.UINT2: 2, DType.INT4: 4, DType.UINT4: 4,
    DType.INT8: 8, DType.UINT8: 8, DType.INT16: 16, DType.UINT16: 16,
    DType.INT32: 32, DType.UINT32: 32, DType.INT64: 64, DType.UINT64: 64,
    DType.BOOL: 8, DType.COMPLEX64: 64, DType.COMPLEX128: 128,
    DType.QINT8: 8, DType.QUINT8: 8, DType.QINT16: 16, DType.QUINT16: 16, DType.QINT32: 32,
}

_TO_TF = {
    DType.FLOAT32: 1, DType.FLOAT64: 2, DType.INT32: 3, DType.UINT8: 4, DType.INT16: 5,
    DType.INT8: 6, DType.STRING: 7, DType.COMPLEX64: 8, DType.INT64: 9, DType.BOOL: 10,
    DType.QINT8: 11, DType.QUINT8: 12, DType.QINT32: 13, DType.BFLOAT16: 14,
    DType.QINT16: 15, DType.QUINT16: 16, DType.UINT16: 17, DType.COMPLEX128: 18,
    DType.FLOAT16: 19, DType.RESOURCE: 20, DType.VARIANT: 21, DType.UINT32: 22,
    DType.UINT64: 23, DType.FLOAT8_E5M2: 24, DType.FLOAT8_E4M3FN: 25,
    DType.FLOAT8_E4M3FNUZ: 26, DType.FLOAT8_E4M3B11FNUZ: 27, DType.FLOAT8_E5M2FNUZ: 28,
    DType.INT4: 29, DType.UINT4: 30, DType.INT2: 31, DType.UINT2: 32,
    DType.FLOAT4_E2M1FN: 33,
}
_FROM_TF = {v: k for k, v in _TO_TF.items()}

_TO_TFLITE = {
    DType.FLOAT32: 0, DType.FLOAT16: 1, DType.INT32: 2, DType.UINT8: 3, DType.INT64: 4,
    DType.STRING: 5, DType.BOOL: 6, DType.INT16: 7, DType.COMPLEX64: 8, DType.INT8: 9,
    DType.FLOAT64: 10, DType.COMPLEX128: 11, DType.UINT64: 12, DType.RESOURCE: 13,
    DType.VARIANT: 14, DType.UINT32: 15, DType.UINT16: 16, DType.INT4: 17,
    DType.BFLOAT16: 18, DType.INT2: 19, DType.UINT4: 20, DType.FLOAT8_E4M3FN: 21,
    DType.FLOAT8_E5M2: 22,
}
_FROM_TFLITE = {v: k for k, v in _TO_TFLITE.items()}

# Types numpy lacks natively; ml_dtypes (a TensorFlow and LiteRT dependency)
# provides them when installed.
_ML_DTYPES = {
    DType.BFLOAT16: "bfloat16", DType.FLOAT8_E4M3FN: "float8_e4m3fn",
    DType.FLOAT8_E5M2: "float8_e5m2", DType.FLOAT8_E4M3FNUZ: "float8_e4m3fnuz",
    DType.FLOAT8_E4M3B11FNUZ: "float8_e4m3b11fnuz", DType.FLOAT8_E5M2FNUZ: "float8_e5m2fnuz",
    DType.FLOAT4_E2M1FN: "float4_e2m1fn",
}
# Unpacked storage (numpy type names) for sub-byte integers and TF1 quantized types.
_WIDENED = {
    DType.INT2: "int8", DType.UINT2: "uint8", DType.INT4: "int8", DType.UINT4: "uint8",
    DType.QINT8: "int8", DType.QUINT8: "uint8", DType.QINT16: "int16",
    DType.QUINT16: "uint16", DType.QINT32: "int32",
}


@cache
def _numpy_dtype(dtype: DType) -> np.dtype | None:
    import numpy as np

    if dtype in _WIDENED:
        return np.dtype(_WIDENED[dtype])
    if dtype in _ML_DTYPES:
        try:
            import ml_dtypes
        except ImportError:
            return None
        return np.dtype(getattr(ml_dtypes, _ML_DTYPES[dtype], None) or np.void)
    if dtype in (DType.STRING, DType.RESOURCE, DType.VARIANT):
        return np.dtype(object)
    return np.dtype(dtype.value)
