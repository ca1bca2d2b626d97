"""SavedModel adapter: a folder with saved_model.pb (or .pbtxt) and variables/.

The SavedModel message (`saved_model_schema_version = 1; repeated MetaGraphDef
meta_graphs = 2`) is not in tensorboard's protos; `_tfproto.extra_messages()`
declares it at runtime on top of tensorboard's MetaGraphDef, so old TF2/Keras 2
SavedModels and Keras 3 `model.export()` ones parse the same way, without
TensorFlow.

Graphs: for each MetaGraphDef, its graph then its library functions (the first
MetaGraph's graph is the main graph). Signatures from every MetaGraph's
SignatureDefs. Variables from `variables/variables.index`, read on demand.
"""

from __future__ import annotations

import os
from collections import Counter
from pathlib import Path

from modelkit.errors import ModelReadError
from modelkit.ir import DType, Model, Signature, SignatureIO


def _proto_file(folder: Path) -> Path | None:
    for name in ("saved_model.pb", "saved_model.pbtxt"):
        if (folder / name).is_file():
            return folder / name
    return None


def sniff(path: str | os.PathLike) -> bool:
    """True for a folder holding saved_model.pb or saved_model.pbtxt (or that file itself)."""
    p = Path(path)
    if p.is_dir():
        return _proto_file(p) is not None
    return p.name in ("saved_model.pb", "saved_model.pbtxt") and p.is_file()


def read_saved_model(path: Path):
    """Parse saved_model.pb / .pbtxt into the runtime SavedModel message.

    Raises:
        ModelReadError: unreadable or not a SavedModel.
    """
    from google.protobuf import message as pb_message
    from google.protobuf import text_format

    from modelkit.formats import _tfproto
    data = _tfproto.read_file(path)
    sm = _tfproto.extra_messages().SavedModel()
    try:
        if path.suffix == ".pbtxt":
            text_format.Parse(data.decode("utf-8"), sm)
        else:
            sm.ParseFromString(data)
    except (pb_message.DecodeError, text_format.ParseError, UnicodeDecodeError) as e:
        raise ModelReadError(f"not a SavedModel ({_tfproto._short(e)})", str(path)) from None
    if not sm.meta_graphs:
        raise ModelReadError("not a SavedModel: it holds no MetaGraphDef", str(path))
    for mg in sm.meta_graphs:
        _tfproto.check_graphdef(mg.graph_def, str(path))
    return sm


def _tensor_info(key: str, info, graph) -> SignatureIO:
    from modelkit.formats import _tfproto
    dt = _tfproto.dtype_from_code(info.dtype) if info.dtype else None
    shape = _tfproto.shape_from_proto(info.tensor_shape) if info.HasField("tensor_shape") \
        else None
    kind = info.WhichOneof("encoding")
    name = info.name if kind == "name" else ""
    io = SignatureIO(key, name, dt if isinstance(dt, DType) else None, shape)
    if name:
        io.value = graph.value(name)
    return io


def _object_graph_summary(mg) -> dict:
    og = mg.object_graph_def
    kinds = Counter(n.WhichOneof("kind") or "none" for n in og.nodes)
    return {"nodes": len(og.nodes), "kinds": dict(sorted(kinds.items())),
            "concrete_functions": len(og.concrete_functions)}


def load(path: str | os.PathLike, **options) -> Model:
    """Load a SavedModel folder into the IR (variables read lazily).

    Raises:
        ModelReadError: no saved_model.pb, or a corrupt one or corrupt variables index.
    """
    from modelkit.formats import _tfproto, checkpoint, tensor_bundle
    p = Path(path)
    folder = p if p.is_dir() else p.parent
    proto = _proto_file(folder)
    if proto is None:
        raise ModelReadError("not a SavedModel folder: no saved_model.pb or "
                             "saved_model.pbtxt in it", str(p))
    sm = read_saved_model(proto)
    graphs = []
    signatures = []
    meta_graphs = []
    for i, mg in enumerate(sm.meta_graphs):
        gs, gmeta = _tfproto.graphs_from_graphdef(mg.graph_def)
        main_index = len(graphs)
        tags = list(mg.meta_info_def.tags)
        gs[0].name = ",".join(tags) or f"meta_graph_{i}"
        gs[0].meta["meta_graph"] = i
        for g in gs:
            g.meta["meta_graph"] = i
        graphs.extend(gs)
        info = checkpoint.meta_graph_info(mg)
        info.update(gmeta)
        info["graph"] = main_index
        info["object_graph"] = _object_graph_summary(mg)
        meta_graphs.append(info)
        for key in sorted(mg.signature_def):
            sd = mg.signature_def[key]
            signatures.append(Signature(
                key,
                [_tensor_info(k, sd.inputs[k], gs[0]) for k in sorted(sd.inputs)],
                [_tensor_info(k, sd.outputs[k], gs[0]) for k in sorted(sd.outputs)],
                graph=main_index, method_name=sd.method_name,
                meta={"tags": tags, "meta_graph": i}))
    metadata: dict = {
        "saved_model_schema_version": int(sm.saved_model_schema_version),
        "meta_graphs": meta_graphs,
        "producer": meta_graphs[0].get("producer"),
        "min_consumer": meta_graphs[0].get("min_consumer"),
    }
    index = folder / "variables" / "variables.index"
    if index.is_file():
        bundle = tensor_bundle.read_bundle(index)
        tensor_bundle.attach_bundle(graphs[0], bundle)
        metadata["bundle"] = {"num_shards": bundle.num_shards, "version": bundle.version,
                              "entries": len(bundle.entries)}
    else:
        metadata["bundle"] = None
    metadata["assets"] = sorted(x.name for x in (folder / "assets").iterdir()) \
        if (folder / "assets").is_dir() else []
    # NOTE: what the GraphDef writer needs to write the first MetaGraph's graph back.
    meta = {"tf_graphdef_rest": _tfproto.graphdef_rest(sm.meta_graphs[0].graph_def)}
    return Model("savedmodel", str(p), graphs, signatures, metadata=metadata, meta=meta)
