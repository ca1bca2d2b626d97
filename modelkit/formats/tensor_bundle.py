"""TensorFlow tensor bundles (checkpoints, SavedModel variables) read without TensorFlow.

A bundle is `PREFIX.index` plus data shards `PREFIX.data-NNNNN-of-MMMMM`. The
index is a LevelDB-style table (SSTable):

- a 48-byte footer: metaindex and index block handles (varint offset, varint
  size each), zero padding, then the magic number 0xdb4775248b80fb57;
- blocks, each followed by a 5-byte trailer (compression type, masked crc32c);
  a block holds prefix-compressed entries (varint shared, varint non_shared,
  varint value_length, key suffix, value) then uint32 restart offsets and their
  count;
- the index block maps separator keys to data block handles.

Values are BundleEntryProto messages; the empty key "" holds the
BundleHeaderProto. Tensor data lives at (shard_id, offset, size) and is read
on demand through mmap. Every length and offset is checked against the file,
so a corrupt index gives a ModelReadError rather than a hang or a huge
allocation.
"""

from __future__ import annotations

import mmap
import os
import struct
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from modelkit.errors import ModelReadError
from modelkit.ir import DType, LazyData

TABLE_MAGIC = 0xDB4775248B80FB57
FOOTER_SIZE = 48
BLOCK_TRAILER_SIZE = 5
# An index file bigger than this is not a checkpoint index (they hold metadata only).
MAX_INDEX_BYTES = 1 << 30
HEADER_KEY = b""


class BundleError(ValueError):
    """The index bytes are not a valid table (the caller adds the file name)."""


def _varint(buf, pos: int, end: int) -> tuple[int, int]:
    from modelkit.formats._tfproto import varint

    try:
        return varint(buf, pos, end)
    except ValueError as e:
        raise BundleError(str(e)) from None


def _snappy_decompress(data: bytes, limit: int) -> bytes:
    """Decompress a raw snappy block (TF can write snappy-compressed index blocks)."""
    n, pos = _varint(data, 0, len(data))
    if n > limit:
        raise BundleError("snappy block claims more bytes than allowed")
    out = bytearray()
    end = len(data)
    while pos < end:
        tag = data[pos]
        pos += 1
        kind = tag & 3
        if kind == 0:  # literal
            ln = tag >> 2
            if ln >= 60:
                extra = ln - 59
                if pos + extra > end:
                    raise BundleError("truncated snappy literal")
                ln = int.from_bytes(data[pos:pos + extra], "little")
                pos += extra
            ln += 1
            if pos + ln > end:
                raise BundleError("truncated snappy literal")
            out += data[pos:pos + ln]
            pos += ln
        else:
            if kind == 1:
                if pos >= end:
                    raise BundleError("truncated snappy copy")
                ln = ((tag >> 2) & 7) + 4
                off = ((tag >> 5) << 8) | data[pos]
                pos += 1
            else:
                width = 2 if kind == 2 else 4
                if pos + width > end:
                    raise BundleError("truncated snappy copy")
                ln = (tag >> 2) + 1
                off = int.from_bytes(data[pos:pos + width], "little")
                pos += width
            if off == 0 or off > len(out):
                raise BundleError("bad snappy copy offset")
            for _ in range(ln):
                out.append(out[-off])
        if len(out) > n:
            raise BundleError("snappy output longer than declared")
    if len(out) != n:
        raise BundleError("snappy output shorter than declared")
    return bytes(out)


def _read_block(buf: bytes, offset: int, size: int) -> bytes:
    if offset + size + BLOCK_TRAILER_SIZE > len(buf):
        raise BundleError(f"block at {offset} (+{size}) lies outside the file")
    data = buf[offset:offset + size]
    ctype = buf[offset + size]
    if ctype == 0:
        return data
    if ctype == 1:
        return _snappy_decompress(data, MAX_INDEX_BYTES)
    raise BundleError(f"unknown block compression type {ctype}")


def _block_entries(block: bytes):
    """Yield (key, value) of a table block, undoing the key prefix compression."""
    if len(block) < 4:
        raise BundleError("block too small")
    num_restarts = struct.unpack_from("<I", block, len(block) - 4)[0]
    restarts_start = len(block) - 4 - 4 * num_restarts
    if num_restarts == 0 or restarts_start < 0:
        raise BundleError("bad restart array")
    pos = 0
    key = b""
    while pos < restarts_start:
        shared, pos = _varint(block, pos, restarts_start)
        non_shared, pos = _varint(block, pos, restarts_start)
        vlen, pos = _varint(block, pos, restarts_start)
        if shared > len(key) or pos + non_shared + vlen > restarts_start:
            raise BundleError("entry overruns its block")
        key = key[:shared] + block[pos:pos + non_shared]
        pos += non_shared
        yield key, block[pos:pos + vlen]
        pos += vlen


def read_table(buf: bytes) -> list[tuple[bytes, bytes]]:
    """Every (key, value) of an SSTable held in `buf`, in key order.

    Raises:
        BundleError: not a table, or a corrupt one.
    """
    if len(buf) < FOOTER_SIZE:
        raise BundleError("too small to be a table index")
    footer = buf[-FOOTER_SIZE:]
    magic = struct.unpack_from("<Q", footer, FOOTER_SIZE - 8)[0]
    if magic != TABLE_MAGIC:
        raise BundleError("no table magic number at the end (not a checkpoint index)")
    pos = 0
    _meta_off, pos = _varint(footer, pos, 40)
    _meta_size, pos = _varint(footer, pos, 40)
    index_off, pos = _varint(footer, pos, 40)
    index_size, pos = _varint(footer, pos, 40)
    index = _read_block(buf, index_off, index_size)
    entries: list[tuple[bytes, bytes]] = []
    for _sep, handle in _block_entries(index):
        off, p = _varint(handle, 0, len(handle))
        size, _ = _varint(handle, p, len(handle))
        entries.extend(_block_entries(_read_block(buf, off, size)))
    return entries


@dataclass
class BundleEntry:
    """One tensor of a bundle: where it lives, without its data."""

    key: str
    dtype: DType | None
    dtype_code: int
    shape: tuple[int, ...]
    shard_id: int
    offset: int
    size: int
    crc32c: int
    sliced: bool


@dataclass
class Bundle:
    """A parsed bundle index: header facts and entries in key order."""

    prefix: Path
    num_shards: int
    big_endian: bool
    version: dict
    entries: list[BundleEntry]

    def shard_path(self, shard_id: int) -> Path:
        return Path(f"{self.prefix}.data-{shard_id:05d}-of-{self.num_shards:05d}")

    def lazy(self, entry: BundleEntry) -> LazyData:
        """A LazyData that reads the entry from its shard through mmap on first use."""
        dtype = entry.dtype or DType.VARIANT
        return LazyData(lambda: self.read(entry), dtype, entry.shape,
                        nbytes=entry.size)

    def read(self, entry: BundleEntry) -> np.ndarray:
        """The values of `entry` (strings as an object array).

        Raises:
            ModelReadError: the shard is missing or too short.
        """
        path = self.shard_path(entry.shard_id)
        try:
            with open(path, "rb") as f:
                length = os.fstat(f.fileno()).st_size
                if entry.offset + entry.size > length:
                    raise ModelReadError(
                        f"data shard too short for {entry.key!r} (needs "
                        f"{entry.offset + entry.size} bytes, has {length})", str(path))
                if entry.size == 0:
                    raw = b""
                else:
                    with mmap.mmap(f.fileno(), 0, access=mmap.ACCESS_READ) as mm:
                        raw = mm[entry.offset:entry.offset + entry.size]
        except OSError as e:
            raise ModelReadError(f"cannot read data shard: {e.strerror}", str(path)) from None
        return decode_tensor(raw, entry, self.big_endian, str(path))


def decode_tensor(raw: bytes, entry: BundleEntry, big_endian: bool, where: str) -> np.ndarray:
    """Bundle bytes of one entry as an array."""
    count = 1
    for d in entry.shape:
        count *= d
    if entry.dtype == DType.STRING:
        # NOTE: strings are stored as varint lengths, a 4-byte masked crc32c of the
        # lengths, then the bytes back to back.
        lengths = []
        pos = 0
        try:
            for _ in range(count):
                n, pos = _varint(raw, pos, len(raw))
                lengths.append(n)
        except BundleError:
            raise ModelReadError(f"bad string tensor {entry.key!r}", where) from None
        pos += 4 if count else 0
        out = np.empty(count, dtype=object)
        for i, n in enumerate(lengths):
            out[i] = bytes(raw[pos:pos + n])
            pos += n
        return out.reshape(entry.shape)
    np_dtype = entry.dtype.numpy if entry.dtype else None
    if np_dtype is None or np_dtype == np.dtype(object):
        raise ModelReadError(f"cannot decode {entry.dtype} tensor {entry.key!r}", where)
    if big_endian:
        np_dtype = np_dtype.newbyteorder(">")
    if len(raw) != count * np_dtype.itemsize:
        raise ModelReadError(f"tensor {entry.key!r} has {len(raw)} bytes, its shape needs "
                             f"{count * np_dtype.itemsize}", where)
    return np.frombuffer(raw, dtype=np_dtype).reshape(entry.shape).copy()


def read_bundle(index_path: str | os.PathLike) -> Bundle:
    """Parse a bundle's `.index` file (no tensor data is read).

    Raises:
        ModelReadError: missing, unreadable or corrupt index.
    """
    from google.protobuf import message as pb_message

    from modelkit.formats import _tfproto
    index_path = Path(index_path)
    where = str(index_path)
    try:
        size = index_path.stat().st_size
        if size > MAX_INDEX_BYTES:
            raise ModelReadError("too large to be a checkpoint index", where)
        buf = index_path.read_bytes()
    except OSError as e:
        raise ModelReadError(f"cannot read checkpoint index: {e.strerror}", where) from None
    try:
        table = read_table(buf)
    except BundleError as e:
        raise ModelReadError(f"corrupt checkpoint index: {e}", where) from None
    msgs = _tfproto.extra_messages()
    header = msgs.BundleHeaderProto()
    entries: list[BundleEntry] = []
    try:
        for key, value in table:
            if key == HEADER_KEY:
                header.ParseFromString(value)
                continue
            e = msgs.BundleEntryProto()
            e.ParseFromString(value)
            dtype = _tfproto.dtype_from_code(e.dtype)
            shape = _tfproto.shape_from_proto(e.shape) or ()
            entries.append(BundleEntry(
                key.decode("utf-8", "replace"), dtype if isinstance(dtype, DType) else None,
                int(e.dtype), tuple(max(0, d or 0) for d in shape), int(e.shard_id),
                int(e.offset), int(e.size), int(e.crc32c), bool(len(e.slices))))
    except pb_message.DecodeError:
        raise ModelReadError("corrupt checkpoint index: an entry is not a BundleEntryProto",
                             where) from None
    num_shards = max(1, int(header.num_shards))
    for e in entries:
        if e.shard_id < 0 or e.shard_id >= num_shards or e.offset < 0 or e.size < 0:
            raise ModelReadError(f"corrupt checkpoint index: entry {e.key!r} points outside "
                                 f"the {num_shards} data shard(s)", where)
    prefix = index_path.with_suffix("") if index_path.suffix == ".index" else index_path
    version = {"producer": int(header.version.producer),
               "min_consumer": int(header.version.min_consumer)}
    return Bundle(prefix, num_shards, header.endianness == 1, version, entries)


OBJECT_GRAPH_KEY = "_CHECKPOINTABLE_OBJECT_GRAPH"
_VARIABLE_NODE_OPS = frozenset({"VariableV2", "Variable"})


def object_graph_names(bundle: Bundle) -> dict[str, str]:
    """Checkpoint key -> variable full name, from a TF2 bundle's object graph ({} if none)."""
    from google.protobuf import message as pb_message
    from tensorboard.compat.proto import trackable_object_graph_pb2
    entry = next((e for e in bundle.entries if e.key == OBJECT_GRAPH_KEY), None)
    if entry is None or entry.dtype != DType.STRING or entry.shape != ():
        return {}
    raw = bundle.read(entry).reshape(-1)[0]
    og = trackable_object_graph_pb2.TrackableObjectGraph()
    try:
        og.ParseFromString(raw)
    except pb_message.DecodeError:
        return {}
    names = {}
    for node in og.nodes:
        for attr in node.attributes:
            if attr.checkpoint_key and attr.full_name:
                names[attr.checkpoint_key] = attr.full_name
    return names


def attach_bundle(graph, bundle: Bundle) -> list:
    """Put every bundle entry into `graph` as a Value with lazy data.

    An entry named like a TF1 variable node (VariableV2) becomes that node's
    output data; any other entry is a Value named by its key, added to
    `graph.values`. Each Value has `meta["checkpoint_key"]` (and `full_name`
    when a TF2 object graph names it); the object graph itself is data, not a
    variable.

    Returns:
        the Values, in bundle key order.
    """
    from modelkit.ir import Value
    full_names = object_graph_names(bundle)
    nodes = {n.name: n for n in graph.nodes if n.op in _VARIABLE_NODE_OPS}
    out = []
    for entry in bundle.entries:
        data = bundle.lazy(entry)
        node = nodes.get(entry.key)
        if node is not None and node.outputs:
            v = node.outputs[0]
            v.data = data
            v.is_variable = True
            if v.dtype is None:
                v.dtype = data.dtype
            if v.shape is None:
                v.shape = data.shape
        else:
            v = Value(entry.key, data.dtype, data.shape, data=data,
                      is_variable=entry.key != OBJECT_GRAPH_KEY)
            graph.values.append(v)
        v.meta["checkpoint_key"] = entry.key
        if entry.key in full_names:
            v.meta["full_name"] = full_names[entry.key]
        if entry.sliced:
            v.meta["sliced"] = True
        out.append(v)
    return out
