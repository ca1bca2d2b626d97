"""Lazy tensor data: shape, dtype and size without reading the bytes.

numpy is imported when values are materialized, not when this module is.
"""

from __future__ import annotations

from collections.abc import Callable
from math import prod
from typing import TYPE_CHECKING

from modelkit.ir.dtypes import DType

if TYPE_CHECKING:
    import numpy as np


class TensorData:
    """Constant data of a tensor, materialized only by `numpy()` or `tobytes()`.

    Subclasses say where the bytes live. `shape`, `dtype` and `nbytes` never
    read them.
    """

    __slots__ = ("dtype", "shape")

    def __init__(self, dtype: DType, shape: tuple[int, ...]) -> None:
        self.dtype = dtype
        self.shape = tuple(int(d) for d in shape)

    @property
    def size(self) -> int:
        """Number of elements."""
        return prod(self.shape)

    @property
    def nbytes(self) -> int:
        """Bytes the data takes in its source (packed for sub-byte types)."""
        n = self.dtype.nbytes(self.size)
        return 0 if n is None else n

    def numpy(self) -> np.ndarray:
        """The values as an array of `shape` (sub-byte types unpacked to int8/uint8)."""
        raise NotImplementedError

    def tobytes(self) -> bytes:
        """The raw stored bytes, as the source format holds them."""
        return self.numpy().tobytes()

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self.dtype}{list(self.shape)})"


def unpack_subbyte(raw: np.ndarray, dtype: DType, count: int) -> np.ndarray:
    """Unpack little-end-first packed 2- or 4-bit integers into int8/uint8."""
    import numpy as np

    bits = dtype.bits
    assert bits in (2, 4)
    per_byte = 8 // bits
    raw = np.asarray(raw, dtype=np.uint8)
    parts = [(raw >> (bits * i)) & ((1 << bits) - 1) for i in range(per_byte)]
    vals = np.stack(parts, axis=-1).reshape(-1)[:count].astype(np.int16)
    if dtype in (DType.INT2, DType.INT4):
        vals = np.where(vals >= (1 << (bits - 1)), vals - (1 << bits), vals)
    return vals.astype(dtype.numpy)


class ArrayData(TensorData):
    """Data already in memory as a numpy array."""

    __slots__ = ("array",)

    def __init__(self, array: np.ndarray, dtype: DType | None = None) -> None:
        import numpy as np

        array = np.asarray(array)
        super().__init__(dtype or DType.from_numpy(array.dtype), array.shape)
        self.array = array

    def numpy(self) -> np.ndarray:
        return self.array

    @property
    def nbytes(self) -> int:
        n = self.dtype.nbytes(self.size)
        return int(self.array.nbytes) if n is None else n


class BufferData(TensorData):
    """Data in a byte buffer (typically a memoryview of an mmap), read in place.

    `numpy()` returns a read-only view for types numpy holds natively; nothing
    is copied until the caller copies.
    """

    __slots__ = ("buffer", "offset", "length")

    def __init__(self, buffer, offset: int, length: int, dtype: DType, shape: tuple[int, ...]):
        super().__init__(dtype, shape)
        self.buffer = buffer
        self.offset = int(offset)
        self.length = int(length)

    @property
    def nbytes(self) -> int:
        return self.length

    def raw(self) -> memoryview:
        """The stored bytes as a memoryview, no copy."""
        return memoryview(self.buffer)[self.offset:self.offset + self.length]

    def tobytes(self) -> bytes:
        return bytes(self.raw())

    def numpy(self) -> np.ndarray:
        import numpy as np

        raw = np.frombuffer(self.raw(), dtype=np.uint8)
        if self.dtype.bits in (2, 4):
            return unpack_subbyte(raw, self.dtype, self.size).reshape(self.shape)
        np_dtype = self.dtype.numpy
        if np_dtype is None or np_dtype == np.dtype(object):
            raise ValueError(f"{self.dtype} data has no fixed-size numpy form")
        count = self.length // np_dtype.itemsize
        flat = raw[: count * np_dtype.itemsize].view(np_dtype)
        if count != self.size:
            # NOTE: shapes with unknown dims, or a buffer of another size than the
            # shape says; give the flat data rather than guess a shape.
            return flat
        return flat.reshape(self.shape)


class LazyData(TensorData):
    """Data produced by a loader on first use (a checkpoint variable, an HDF5 dataset)."""

    __slots__ = ("_loader", "_nbytes")

    def __init__(self, loader: Callable[[], np.ndarray], dtype: DType, shape: tuple[int, ...],
                 nbytes: int | None = None) -> None:
        super().__init__(dtype, shape)
        self._loader = loader
        self._nbytes = nbytes

    @property
    def nbytes(self) -> int:
        if self._nbytes is not None:
            return self._nbytes
        return super().nbytes

    def numpy(self) -> np.ndarray:
        import numpy as np

        return np.asarray(self._loader())
