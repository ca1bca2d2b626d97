"""Broken TFLite files give ModelReadError naming the file: never a crash or a hang."""

from __future__ import annotations

import struct
from datetime import timedelta
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import modelkit
from modelkit.errors import ModelReadError
from modelkit.formats import tflite

ROOT = Path(__file__).resolve().parents[2]
SAMPLES = sorted((ROOT / "samples").glob("*.tflite"))
SAMPLE = ROOT / "samples" / "digits_int8.tflite"

schema = pytest.importorskip("ai_edge_litert.schema_py_generated")


def _load_error(path: Path) -> ModelReadError:
    with pytest.raises(ModelReadError) as info:
        tflite.load(path)
    message = str(info.value)
    assert str(path) in message and "\n" not in message
    return info.value


def _write(tmp_path: Path, data: bytes, name: str = "bad.tflite") -> Path:
    p = tmp_path / name
    p.write_bytes(data)
    return p


def test_empty(tmp_path):
    assert "empty" in str(_load_error(_write(tmp_path, b"")))


def test_three_bytes(tmp_path):
    _load_error(_write(tmp_path, b"TFL"))


def test_random_bytes(tmp_path):
    import random
    rng = random.Random(1)
    _load_error(_write(tmp_path, bytes(rng.randrange(256) for _ in range(4096))))


def test_wrong_magic(tmp_path):
    data = bytearray(SAMPLE.read_bytes())
    data[4:8] = b"XXXX"
    p = _write(tmp_path, bytes(data))
    assert not tflite.sniff(p)
    # The root table still verifies and says schema version 3, as in files
    # written before the identifier existed: accepted.
    assert tflite.load(p).main.nodes
    # Without the identifier and with another schema version: refused.
    root = struct.unpack_from("<I", data, 0)[0]
    model = schema.Model.GetRootAs(bytes(data), 0)
    off = model._tab.Offset(4)  # version
    struct.pack_into("<I", data, root + off, 7)
    assert "TFL3" in str(_load_error(_write(tmp_path, bytes(data), "v7.tflite")))


def test_directory(tmp_path):
    assert "folder" in str(_load_error(tmp_path))


def test_missing(tmp_path):
    assert "no such file" in str(_load_error(tmp_path / "nope.tflite"))
    with pytest.raises(ModelReadError):
        modelkit.load(tmp_path / "nope.tflite")


def test_root_offset_outside_file(tmp_path):
    data = bytearray(SAMPLE.read_bytes())
    struct.pack_into("<I", data, 0, len(data) + 100)
    assert "outside the file" in str(_load_error(_write(tmp_path, bytes(data))))


def _subgraphs_vector(data: bytes) -> int:
    """Position of the length word of Model.subgraphs, found with the generated code."""
    model = schema.Model.GetRootAs(data, 0)
    return model._tab.Vector(model._tab.Offset(8)) - 4


def test_vector_claiming_2_31_elements(tmp_path):
    data = bytearray(SAMPLE.read_bytes())
    struct.pack_into("<I", data, _subgraphs_vector(bytes(data)), 2**31)
    assert "claims 2147483648 elements" in str(_load_error(_write(tmp_path, bytes(data))))


def test_truncated_in_the_tables(tmp_path):
    data = SAMPLE.read_bytes()
    _load_error(_write(tmp_path, data[: len(data) // 2]))


def test_buffer_offset_beyond_file(tmp_path):
    """A buffer stored after the flatbuffer whose offset/size overruns the file."""
    dst = tmp_path / "ext.tflite"
    modelkit.save(modelkit.load(SAMPLE), dst, external_buffers=True)
    data = dst.read_bytes()
    _load_error(_write(tmp_path, data[: len(data) - 64], "cut.tflite"))


@settings(max_examples=100, deadline=timedelta(seconds=5),
          suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])
@given(sample=st.sampled_from(SAMPLES),
       flips=st.lists(st.tuples(st.floats(0, 1, exclude_max=True), st.integers(0, 255)),
                      min_size=1, max_size=8))
def test_random_byte_flips(tmp_path, sample, flips):
    data = bytearray(sample.read_bytes())
    for where, value in flips:
        data[int(where * len(data))] = value
    p = _write(tmp_path, bytes(data), "flipped.tflite")
    try:
        model = modelkit.load(p)
    except ModelReadError as e:
        assert str(p) in str(e)
        return
    for graph in model.graphs:
        for v in graph.values:
            if v.data is not None:
                v.data.nbytes
                v.data.raw()


@settings(max_examples=60, deadline=timedelta(seconds=5),
          suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(sample=st.sampled_from(SAMPLES), cut=st.floats(0, 1, exclude_max=True))
def test_truncated(tmp_path, sample, cut):
    data = sample.read_bytes()
    p = _write(tmp_path, data[: int(cut * len(data))], "cut.tflite")
    try:
        modelkit.load(p)
    except ModelReadError as e:
        assert str(p) in str(e)
