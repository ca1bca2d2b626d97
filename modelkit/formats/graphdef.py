"""GraphDef / frozen graph adapter (.pb binary, .pbtxt text).

Reads with tensorboard's generated protobuf modules (no TensorFlow import).
Every NodeDef becomes a Node (domain "tf"); every function of the library
becomes its own Graph after the main one. `save` rebuilds the GraphDef from the
IR, so a load then save gives a proto-equal GraphDef (see `_tfproto`).
"""

from __future__ import annotations

import os
from pathlib import Path

from modelkit.errors import ModelReadError, UsageError
from modelkit.ir import Model

# Read at most this much to sniff a text GraphDef.
_SNIFF_BYTES = 4096


def _is_text_path(path: Path) -> bool:
    return path.suffix.lower() in (".pbtxt", ".txt", ".prototxt")


def sniff(path: str | os.PathLike) -> bool:
    """True when `path` parses as a GraphDef whose nodes all have a name and an op.

    Protobuf has no magic number, so a binary file is parsed (GraphDef files are
    small next to their parse cost); a text file must start like one.
    """
    p = Path(path)
    if not p.is_file():
        return False
    try:
        with open(p, "rb") as f:
            head = f.read(_SNIFF_BYTES)
    except OSError:
        return False
    if not head:
        return False
    stripped = head.lstrip()
    if stripped.startswith((b"node", b"library", b"versions")) or _is_text_path(p):
        try:
            _read(p)
        except ModelReadError:
            return False
        return True
    return _looks_binary_graphdef(head)


def _looks_binary_graphdef(head: bytes) -> bool:
    """Cheap check of the first field: a NodeDef with a name and an op, or versions/library."""
    from google.protobuf import message as pb_message

    from modelkit.formats import _tfproto
    try:
        tag, pos = _tfproto.varint(head, 0, len(head))
        if tag in (0x12, 0x22):  # library = 2, versions = 4
            return True
        if tag != 0x0A:  # node = 1, length-delimited
            return False
        length, pos = _tfproto.varint(head, pos, len(head))
    except ValueError:
        return False
    if length <= 0:
        return False
    if pos + length > len(head):
        return True  # NOTE: a huge first node (a big Const); the full load checks it.
    nd = _tfproto.pb().node_def.NodeDef()
    try:
        nd.ParseFromString(head[pos:pos + length])
    except pb_message.DecodeError:
        return False
    from google.protobuf import unknown_fields
    return bool(nd.name and nd.op) and not len(unknown_fields.UnknownFieldSet(nd))


def _read(path: Path):
    """Parse the file as a GraphDef (text when it does not parse as binary and looks like text).

    Raises:
        ModelReadError: unreadable, or not a GraphDef.
    """
    from modelkit.formats import _tfproto
    data = _tfproto.read_file(path)
    if not data:
        raise ModelReadError("the file is empty", str(path))
    if _is_text_path(path):
        return _tfproto.parse_graphdef(data, str(path), text=True)
    if not data[:64].lstrip()[:8].startswith((b"node", b"library", b"versions", b"#")):
        return _tfproto.parse_graphdef(data, str(path), text=False)
    try:
        return _tfproto.parse_graphdef(data, str(path), text=True)
    except ModelReadError as text_error:
        # NOTE: a binary GraphDef can start like text: its first node's length byte may
        # be "#" (35) or whitespace. It is one when it parses as binary.
        try:
            return _tfproto.parse_graphdef(data, str(path), text=False)
        except ModelReadError:
            raise text_error from None


def load(path: str | os.PathLike, **options) -> Model:
    """Load a GraphDef (binary or text) into the IR.

    Raises:
        ModelReadError: the file is not a readable GraphDef.
    """
    from modelkit.formats import _tfproto
    p = Path(path)
    if p.is_dir():
        raise ModelReadError("is a folder, not a GraphDef file", str(p))
    gd = _read(p)
    model = _tfproto.model_from_graphdef(gd, "graphdef", str(p))
    model.meta["text"] = _is_text_path(p)
    return model


def to_graphdef(model: Model):
    """The GraphDef message of a model loaded from any TF format (nodes rebuilt from the IR).

    Raises:
        UsageError: the model has no TensorFlow graph.
    """
    from modelkit.formats import _tfproto
    if not model.graphs or any(n.domain != "tf" for n in model.graphs[0].nodes):
        raise UsageError(f"a {model.format} model cannot be written as a GraphDef")
    return _tfproto.graphdef_from_graphs(model.graphs, model.meta.get("tf_graphdef_rest"))


def save(model: Model, path: str | os.PathLike, force: bool = False) -> None:
    """Write `model` as a GraphDef: text for .pbtxt, else binary.

    Raises:
        UsageError: the model holds no TensorFlow graph.
        OutputExistsError: `path` exists and force is False.
    """
    from google.protobuf import text_format

    from modelkit.fileio import atomic_output
    p = Path(path)
    gd = to_graphdef(model)
    sources = (model.path,) if model.path else ()
    with atomic_output(p, force=force, sources=sources) as tmp:
        if _is_text_path(p):
            tmp.write_text(text_format.MessageToString(gd), encoding="utf-8")
        else:
            tmp.write_bytes(gd.SerializeToString(deterministic=True))
