"""TF checkpoint adapter: `.meta` graph plus `.index`/`.data-*` tensor bundle.

The path may be the checkpoint prefix, its `.index`, `.meta` or `.data-*` file,
the `checkpoint` state file, or a folder holding one (or a single `.index`). The
graph comes from the `.meta` MetaGraphDef; the variables from the bundle
(names, dtypes and shapes without reading values; values on demand). A TF2
object-based checkpoint (no `.meta`) loads as a graph of variables only.

`freeze()` turns a checkpoint with a `.meta` into a frozen GraphDef with the
TensorFlow module its caller imported.
"""

from __future__ import annotations

import os
import re
from pathlib import Path

from modelkit.errors import ModelReadError, UsageError
from modelkit.ir import Graph, Model

_DATA_RE = re.compile(r"\.data-\d{5}-of-\d{5}$")
# A state file names a few checkpoints; anything bigger is something else.
_MAX_STATE_BYTES = 1 << 20
_STATE_RE = re.compile(r'^\s*model_checkpoint_path\s*:\s*"((?:[^"\\]|\\.)*)"', re.M)


def _state_prefix(folder: Path, name: str = "checkpoint") -> Path | None:
    """The prefix named by the state file `name` in `folder`, or None."""
    state = folder / name
    if not state.is_file():
        return None
    try:
        with open(state, "rb") as f:
            text = f.read(_MAX_STATE_BYTES).decode("utf-8", "replace")
    except OSError:
        return None
    m = _STATE_RE.search(text)
    if not m:
        return None
    named = Path(m.group(1).encode().decode("unicode_escape"))
    candidates = [named] if named.is_absolute() else [folder / named]
    # NOTE: the state file often holds the absolute path where the checkpoint was
    # written; after a copy or move the files sit beside it instead.
    candidates.append(folder / named.name)
    for c in candidates:
        if Path(f"{c}.index").is_file() or Path(f"{c}.meta").is_file():
            return c
    return candidates[0]


def is_state_file(path: Path) -> bool:
    """True for a checkpoint state file (the `checkpoint` text file a Saver or
    CheckpointManager writes beside the checkpoints, naming the latest)."""
    try:
        if not path.is_file() or path.stat().st_size > _MAX_STATE_BYTES:
            return False
        with open(path, "rb") as f:
            head = f.read(_MAX_STATE_BYTES)
    except OSError:
        return False
    return _STATE_RE.search(head.decode("utf-8", "replace")) is not None


def resolve_prefix(path: str | os.PathLike) -> Path | None:
    """The checkpoint prefix for any accepted spelling of `path`, or None."""
    p = Path(path)
    if is_state_file(p):
        return _state_prefix(p.parent, p.name)
    if p.is_dir():
        prefix = _state_prefix(p)
        if prefix is not None:
            return prefix
        indexes = sorted(p.glob("*.index"))
        if len(indexes) == 1:
            return indexes[0].with_suffix("")
        metas = sorted(p.glob("*.meta"))
        if len(metas) == 1 and not indexes:
            return metas[0].with_suffix("")
        return None
    name = p.name
    if name.endswith((".index", ".meta")):
        return p.with_suffix("")
    if _DATA_RE.search(name):
        return p.with_name(_DATA_RE.sub("", name))
    if Path(f"{p}.index").is_file() or Path(f"{p}.meta").is_file():
        return p
    return None


def sniff(path: str | os.PathLike) -> bool:
    """True for a checkpoint folder, `.index` (table magic), `.meta` or prefix."""
    from modelkit.formats import tensor_bundle
    p = Path(path)
    if p.is_dir():
        if (p / "saved_model.pb").exists() or (p / "saved_model.pbtxt").exists():
            return False
        return resolve_prefix(p) is not None
    if p.name == "checkpoint" or p.suffix == "":
        if is_state_file(p):
            return True
    if p.suffix == ".index":
        try:
            with open(p, "rb") as f:
                f.seek(0, os.SEEK_END)
                if f.tell() < tensor_bundle.FOOTER_SIZE:
                    return False
                f.seek(-8, os.SEEK_END)
                return int.from_bytes(f.read(8), "little") == tensor_bundle.TABLE_MAGIC
        except OSError:
            return False
    if p.suffix == ".meta" or _DATA_RE.search(p.name):
        return resolve_prefix(p) is not None
    if not p.exists() and p.with_name(p.name + ".index").is_file():
        return sniff(p.with_name(p.name + ".index"))
    return False


def _read_meta_graph(path: Path):
    """Parse a `.meta` file as a MetaGraphDef.

    Raises:
        ModelReadError: unreadable or not a MetaGraphDef.
    """
    from google.protobuf import message as pb_message

    from modelkit.formats import _tfproto
    data = _tfproto.read_file(path)
    mg = _tfproto.pb().meta_graph.MetaGraphDef()
    try:
        mg.ParseFromString(data)
    except pb_message.DecodeError as e:
        raise ModelReadError(f"not a MetaGraphDef ({_tfproto._short(e)})", str(path)) from None
    _tfproto.check_graphdef(mg.graph_def, str(path))
    return mg


def meta_graph_info(mg) -> dict:
    """Plain facts of a MetaGraphDef: tags, versions, collections, saver."""
    info = mg.meta_info_def
    out = {
        "tags": list(info.tags),
        "tensorflow_version": info.tensorflow_version,
        "tensorflow_git_version": info.tensorflow_git_version,
        "stripped_default_attrs": bool(info.stripped_default_attrs),
        "collections": sorted(mg.collection_def),
        "signatures": sorted(mg.signature_def),
    }
    if mg.HasField("saver_def"):
        out["saver"] = {"filename_tensor": mg.saver_def.filename_tensor_name,
                        "save_tensor": mg.saver_def.save_tensor_name,
                        "restore_op": mg.saver_def.restore_op_name}
    train_ops = []
    for key in ("train_op", "train_ops"):
        if key in mg.collection_def:
            train_ops.extend(s.split(":")[0] for s in mg.collection_def[key].node_list.value)
    if train_ops:
        out["train_ops"] = train_ops
    return out


def load(path: str | os.PathLike, **options) -> Model:
    """Load a checkpoint: the `.meta` graph (if any) plus lazily read variables.

    Raises:
        ModelReadError: no checkpoint there, or a corrupt index or meta graph.
    """
    from modelkit.formats import _tfproto, tensor_bundle
    p = Path(path)
    prefix = resolve_prefix(p)
    if prefix is None:
        raise ModelReadError("no checkpoint here (expected PREFIX.index / PREFIX.meta, or a "
                             "folder with a 'checkpoint' file)", str(p))
    index = Path(f"{prefix}.index")
    meta_path = Path(f"{prefix}.meta")
    if not index.is_file() and not meta_path.is_file():
        raise ModelReadError(f"checkpoint files missing: neither {index.name} nor "
                             f"{meta_path.name} exists", str(p))
    metadata: dict = {"prefix": str(prefix)}
    meta: dict = {}
    if meta_path.is_file():
        mg = _read_meta_graph(meta_path)
        graphs, gmeta = _tfproto.graphs_from_graphdef(mg.graph_def)
        metadata.update(gmeta)
        metadata["meta_graph"] = meta_graph_info(mg)
        meta["tf_graphdef_rest"] = _tfproto.graphdef_rest(mg.graph_def)
    else:
        graphs = [Graph("checkpoint", meta={"tf_kind": "variables"})]
    if index.is_file():
        bundle = tensor_bundle.read_bundle(index)
        metadata["bundle"] = {"num_shards": bundle.num_shards, "version": bundle.version,
                              "entries": len(bundle.entries)}
        tensor_bundle.attach_bundle(graphs[0], bundle)
    else:
        metadata["bundle"] = None
    # NOTE: a file that names the checkpoint (.index, .meta, .data-*, the state file)
    # stands for all of its files: the model's path is then the prefix.
    where = p if p.is_dir() else prefix
    return Model("checkpoint", str(where), graphs, metadata=metadata, meta=meta)


def freeze(tf, path: str | os.PathLike, outputs: list[str]) -> bytes:
    """Freeze a checkpoint with a `.meta` graph into a serialized GraphDef.

    Variables become constants; only what the outputs need is kept (so save,
    restore, optimizer and training nodes go). TensorFlow does the freezing: the
    caller imports it (`modelkit.runtime.tfenv.import_tf`), as a format adapter
    imports no runtime.

    Args:
        tf: the imported tensorflow module.
        path: checkpoint prefix, `.index`, `.meta`, state file or folder.
        outputs: output node (or tensor) names, e.g. the inference outputs
            `modelkit.analysis.tf_summary.inference_io` finds.

    Returns:
        the frozen GraphDef, serialized.

    Raises:
        ModelReadError: not a checkpoint, or no `.meta` graph.
        UsageError: an output node is not in the graph, or none can be detected.
    """
    p = Path(path)
    prefix = resolve_prefix(p)
    if prefix is None or not Path(f"{prefix}.meta").is_file():
        raise ModelReadError("freezing needs the checkpoint's .meta graph", str(p))
    if not Path(f"{prefix}.index").is_file():
        raise ModelReadError("freezing needs the checkpoint's .index and data files", str(p))
    model = load(p)
    names = {n.name for n in model.main.nodes}
    if not outputs:
        raise UsageError("freezing needs the output node names", str(p))
    outputs = [o.split(":")[0] for o in outputs]
    missing = [o for o in outputs if o not in names]
    if missing:
        raise UsageError(f"output node(s) not in the graph: {', '.join(missing)}", str(p))

    v1 = tf.compat.v1
    graph = tf.Graph()
    with graph.as_default():
        saver = v1.train.import_meta_graph(f"{prefix}.meta", clear_devices=True)
        with v1.Session(graph=graph) as session:
            if saver is not None:
                saver.restore(session, str(prefix))
            else:
                _restore_without_saver(v1, session, graph, prefix)
            graph_def = graph.as_graph_def()
            frozen = v1.graph_util.convert_variables_to_constants(session, graph_def, outputs)
    frozen = v1.graph_util.extract_sub_graph(frozen, outputs)
    return frozen.SerializeToString()


def _restore_without_saver(v1, session, graph, prefix: Path) -> None:
    """Restore every global variable by name when the meta graph has no saver."""
    var_list = graph.get_collection(v1.GraphKeys.GLOBAL_VARIABLES)
    if not var_list:
        raise UsageError("the meta graph has no saver and no variables to restore",
                         str(prefix))
    v1.train.Saver(var_list=var_list).restore(session, str(prefix))
