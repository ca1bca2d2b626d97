"""Keras 3 `.keras` adapter: a zip of `metadata.json`, `config.json` and `model.weights.h5`.

The graph comes from `config.json` exactly as from an H5 file's `model_config`
(`keras_h5._build_graph`: one node per layer, edges from the functional
`inbound_nodes`, shapes and dtypes from the config). Weights come from
`model.weights.h5`, read lazily with h5py straight from the zip member:
Keras 3's saving_lib stores a layer's variables as `layers/<path>/vars/<i>`,
where `<path>` is the snake-cased class name made unique in `model.layers`
order (`dense`, `dense_1`), and recent versions put the layer's own name in
the `vars` group's `name` attribute. Nothing is deserialized into Python
objects: a Lambda layer (Python code in its config) and custom classes are
opaque nodes with a warning in `metadata["warnings"]`.
"""

from __future__ import annotations

import io
import json
import os
import re
import struct
import zipfile
import zlib
from pathlib import Path
from typing import Any

from modelkit.errors import ModelReadError
from modelkit.formats.keras_h5 import _NON_TRAINABLE_WEIGHTS, _build_graph, run_bounded
from modelkit.ir import DType, Graph, LazyData, Model, Node, Value

ZIP_MAGIC = b"PK\x03\x04"
CONFIG = "config.json"
METADATA = "metadata.json"
WEIGHTS = "model.weights.h5"
# JSON members larger than this are not a model config (a guard against zip bombs).
_MAX_JSON_BYTES = 256 << 20
_LOCAL_HEADER = struct.Struct("<4s5H3I2H")
# Modules whose layer classes modelkit knows to be Keras' own.
_KERAS_MODULES = ("keras.", "keras")
# Variable names of common layers, in `layer.variables` order (saving_lib's vars/<i>).
_VAR_NAMES: dict[str, tuple[str, ...]] = {
    "Dense": ("kernel", "bias"), "Conv1D": ("kernel", "bias"), "Conv2D": ("kernel", "bias"),
    "Conv3D": ("kernel", "bias"), "Conv2DTranspose": ("kernel", "bias"),
    "DepthwiseConv2D": ("kernel", "bias"), "Embedding": ("embeddings",),
    "SeparableConv2D": ("depthwise_kernel", "pointwise_kernel", "bias"),
    "PReLU": ("alpha",), "Normalization": ("mean", "variance", "count"),
}
# Layers whose every variable is state, not trained (adapted statistics).
_STATE_ONLY_LAYERS = frozenset({"Normalization"})


def sniff(path: str | os.PathLike) -> bool:
    """True for a zip file whose members include `config.json` (a Keras 3 `.keras` file)."""
    p = Path(path)
    if not p.is_file():
        return False
    try:
        with open(p, "rb") as f:
            if f.read(4) != ZIP_MAGIC:
                return False
        with zipfile.ZipFile(p) as z:
            return CONFIG in z.namelist()
    except (OSError, zipfile.BadZipFile, EOFError, struct.error):
        # NOTE: a zip too broken to list is still a .keras file by its extension;
        # load() then names what is wrong.
        return p.suffix.lower() == ".keras"


def _snake(name: str) -> str:
    """Keras' `naming.to_snake_case`: `MaxPooling2D` -> `max_pooling2d`."""
    name = re.sub(r"\W+", "", name)
    name = re.sub("(.)([A-Z][a-z]+)", r"\1_\2", name)
    return re.sub("([a-z])([A-Z])", r"\1_\2", name).lower()


class _Member(io.RawIOBase):
    """A read-only window on a stored (uncompressed) zip member, for h5py."""

    def __init__(self, path: Path, start: int, size: int) -> None:
        super().__init__()
        self._f = open(path, "rb")
        self._start, self._size, self._pos = start, size, 0

    def readable(self) -> bool:
        return True

    def seekable(self) -> bool:
        return True

    def tell(self) -> int:
        return self._pos

    def seek(self, offset: int, whence: int = 0) -> int:
        base = {0: 0, 1: self._pos, 2: self._size}[whence]
        self._pos = max(0, base + offset)
        return self._pos

    def readinto(self, b) -> int:
        n = max(0, min(len(b), self._size - self._pos))
        if not n:
            return 0
        self._f.seek(self._start + self._pos)
        got = self._f.readinto(memoryview(b)[:n]) or 0
        self._pos += got
        return got

    def close(self) -> None:
        self._f.close()
        super().close()


class _Archive:
    """The .keras zip: member listing, JSON members, and the weights file for h5py."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self.where = str(path)
        try:
            with zipfile.ZipFile(path) as z:
                self.infos = {i.filename: i for i in z.infolist()}
        except (zipfile.BadZipFile, EOFError, struct.error) as e:
            raise ModelReadError(f"not a valid .keras file: the zip archive is corrupt ({e}); "
                                 "save the model again with model.save()", self.where) from None
        except OSError as e:
            raise ModelReadError(f"cannot read: {e.strerror or e}", self.where) from None

    def _info(self, name: str) -> zipfile.ZipInfo:
        info = self.infos.get(name)
        if info is None:
            raise ModelReadError(f"the .keras archive has no {name} (members: "
                                 f"{', '.join(sorted(self.infos)) or 'none'}); it is not a "
                                 "complete Keras 3 model file", self.where)
        return info

    def read(self, name: str) -> bytes:
        info = self._info(name)
        if info.file_size > _MAX_JSON_BYTES:
            raise ModelReadError(f"{name} claims {info.file_size} bytes, too many for a "
                                 "model config", self.where)
        try:
            with zipfile.ZipFile(self.path) as z:
                return z.read(info)
        except (zipfile.BadZipFile, EOFError, OSError, struct.error, zlib.error,
                NotImplementedError) as e:
            raise ModelReadError(f"cannot read {name} from the .keras archive ({e})",
                                 self.where) from None

    def json(self, name: str) -> Any:
        raw = self.read(name)
        try:
            return json.loads(raw.decode("utf-8"))
        except UnicodeDecodeError:
            raise ModelReadError(f"{name} in the .keras archive is not UTF-8 text",
                                 self.where) from None
        except json.JSONDecodeError as e:
            raise ModelReadError(f"{name} in the .keras archive is not valid JSON ({e.msg} at "
                                 f"line {e.lineno} column {e.colno})", self.where) from None

    def open_weights(self):
        """A binary file object of model.weights.h5 (a window on the zip when stored)."""
        info = self._info(WEIGHTS)
        if info.compress_type == zipfile.ZIP_STORED:
            with open(self.path, "rb") as f:
                f.seek(info.header_offset)
                head = f.read(_LOCAL_HEADER.size)
            if len(head) < _LOCAL_HEADER.size or head[:4] != ZIP_MAGIC:
                raise ModelReadError(f"the zip entry of {WEIGHTS} is corrupt", self.where)
            fields = _LOCAL_HEADER.unpack(head)
            start = info.header_offset + _LOCAL_HEADER.size + fields[-2] + fields[-1]
            if start + info.file_size > self.path.stat().st_size:
                raise ModelReadError(f"{WEIGHTS} runs past the end of the .keras file; it is "
                                     "truncated", self.where)
            return _Member(self.path, start, info.file_size)
        z = zipfile.ZipFile(self.path)
        try:
            return z.open(info)
        except (zipfile.BadZipFile, OSError, NotImplementedError) as e:
            z.close()
            raise ModelReadError(f"cannot read {WEIGHTS} from the .keras archive ({e})",
                                 self.where) from None


def _h5_error(e: BaseException) -> str:
    text = str(e).strip()
    return text.splitlines()[0][:120] if text else type(e).__name__


class _Weights:
    """model.weights.h5 inside the archive: layer paths, variables, lazy reads."""

    def __init__(self, archive: _Archive) -> None:
        self.archive = archive
        self.by_name: dict[str, str] = {}   # layer name -> group path
        self.groups: dict[str, list[tuple[str, Any, tuple]]] = {}  # path -> [(ds path, dt, shape)]
        self.optimizer: list[dict] = []
        self._walk()

    def _walk(self) -> None:
        import h5py

        where = self.archive.where
        f = self.archive.open_weights()
        try:
            try:
                h5 = h5py.File(f, "r")
            except OSError as e:
                raise ModelReadError(f"{WEIGHTS} in the .keras archive is not a readable HDF5 "
                                     f"file ({_h5_error(e)})", where) from None
            with h5:
                limit = self.archive.infos[WEIGHTS].file_size
                found: list[tuple[str, Any]] = []
                h5.visititems(lambda n, o: found.append((n, o)))
                for name, obj in found:
                    if isinstance(name, bytes):  # NOTE: h5py gives bytes for non-UTF-8 names
                        name = name.decode("utf-8", "replace")
                    if isinstance(obj, h5py.Group) and name.endswith("vars"):
                        owner = name[:-len("/vars")] if name != "vars" else ""
                        label = obj.attrs.get("name")
                        if isinstance(label, bytes):
                            label = label.decode("utf-8", "replace")
                        if isinstance(label, str) and owner.startswith("layers/"):
                            self.by_name.setdefault(label, owner)
                    elif isinstance(obj, h5py.Dataset):
                        nbytes = int(obj.size * obj.dtype.itemsize)
                        compressed = obj.id.get_create_plist().get_nfilters() > 0
                        if nbytes > limit * (1032 if compressed else 1):
                            raise ModelReadError(f"{WEIGHTS}: dataset {name} claims {nbytes} "
                                                 "bytes, more than the file can hold; the file "
                                                 "is corrupt", where)
                        group, _, index = name.rpartition("/")
                        entry = (name, obj.dtype, tuple(int(d) for d in obj.shape))
                        if name.startswith("optimizer/"):
                            self.optimizer.append({"name": name, "dtype": str(obj.dtype),
                                                   "shape": list(obj.shape)})
                        else:
                            self.groups.setdefault(group, []).append(entry)
        except (OSError, RuntimeError, ValueError, KeyError, TypeError) as e:
            # NOTE: h5py reports a corrupt object header, B-tree, heap or datatype (an
            # unknown string encoding is a TypeError) as any of these.
            raise ModelReadError(f"{WEIGHTS} in the .keras archive is corrupt "
                                 f"({_h5_error(e)})", where) from None
        finally:
            f.close()
        for entries in self.groups.values():
            entries.sort(key=lambda e: (len(e[0]), e[0]))

    def under(self, path: str) -> list[tuple[str, Any, tuple]]:
        """Every variable at or below layer path `path`, in storage order."""
        out = list(self.groups.get(path + "/vars", ()))
        for group in sorted(self.groups):
            if group.startswith(path + "/") and group != path + "/vars":
                out += self.groups[group]
        return out

    def lazy(self, name: str, dtype, shape: tuple) -> LazyData:
        import numpy as np

        archive = self.archive

        def load():
            import h5py

            f = archive.open_weights()
            try:
                with h5py.File(f, "r") as h5:
                    return np.asarray(h5[name][()])
            except (OSError, RuntimeError, KeyError, ValueError) as e:
                raise ModelReadError(f"cannot read weight {name} from {WEIGHTS}: "
                                     f"{_h5_error(e)}", archive.where) from None
            finally:
                f.close()

        try:
            dt = DType.from_numpy(dtype)
        except ValueError:
            dt = DType.FLOAT32
        nbytes = int(np.prod(shape, dtype=np.int64)) * dtype.itemsize
        return LazyData(load, dt, shape, nbytes=nbytes)


def _layer_paths(layers: list[dict], sequential: bool) -> dict[str, str]:
    """Layer name -> `layers/<unique snake class name>`, as saving_lib assigns them."""
    used: dict[str, int] = {}
    out = {}
    for layer in layers:
        if not isinstance(layer, dict):
            continue
        cls = str(layer.get("class_name", ""))
        if sequential and cls == "InputLayer":
            continue  # NOTE: Sequential.layers leaves out its InputLayer
        base = _snake(cls)
        if base in used:
            used[base] += 1
            base = f"{base}_{used[base]}"
        else:
            used[base] = 0
        cfg = layer.get("config") if isinstance(layer.get("config"), dict) else {}
        out[str(layer.get("name") or cfg.get("name"))] = f"layers/{base}"
    return out


def _opaque_reason(node: Node) -> str | None:
    """Why a layer cannot be understood without running code from the file, or None."""
    if node.op == "Lambda":
        return "a Lambda layer (Python code)"
    module = node.meta.get("module")
    registered = node.meta.get("registered_name")
    if isinstance(registered, str) and registered and not registered.startswith("keras"):
        return f"a custom class ({registered})"
    if isinstance(module, str) and module and not module.startswith(_KERAS_MODULES):
        return f"a custom class ({module}.{node.op})"
    return None


def _var_names(node: Node, count: int) -> list[str]:
    names = list(_VAR_NAMES.get(node.op, ()))
    if node.op in ("BatchNormalization", "LayerNormalization"):
        names = (["gamma"] if node.attrs.get("scale", True) else []) + \
                (["beta"] if node.attrs.get("center", True) else [])
        if node.op == "BatchNormalization":
            names += ["moving_mean", "moving_variance"]
    if node.op in _VAR_NAMES and not node.attrs.get("use_bias", True):
        names = [n for n in names if n != "bias"]
    return names if len(names) == count else [f"vars/{i}" for i in range(count)]


def load(path: str | os.PathLike, **options) -> Model:
    """Load a Keras 3 `.keras` file without running any of it.

    Raises:
        ModelReadError: not a zip, a corrupt zip, a missing member, bad JSON, or an
            unreadable weights file.
    """
    if options:
        raise TypeError(f"unknown .keras load options: {', '.join(options)}")
    p = Path(path)
    if p.is_dir():
        raise ModelReadError("is a folder, not a .keras file", str(p))
    archive = _Archive(p)
    where = archive.where
    config = archive.json(CONFIG)
    info = archive.json(METADATA) if METADATA in archive.infos else {}
    if not isinstance(config, dict) or "class_name" not in config:
        raise ModelReadError(f"{CONFIG} in the .keras archive is not a Keras model config",
                             where)
    if not isinstance(info, dict):
        info = {}
    if hasattr(os, "fork"):
        # NOTE: a corrupt weights file can loop the HDF5 library or make it allocate
        # what a size field claims; walk it first in a child bounded by the file's size.
        size = max(p.stat().st_size, getattr(archive.infos.get(WEIGHTS), "file_size", 0))
        run_bounded(lambda: _Weights(archive), size, where)
    weights = _Weights(archive)
    warnings: list[str] = []
    compile_cfg = config.get("compile_config") if isinstance(config.get("compile_config"),
                                                             dict) else None
    metadata: dict[str, Any] = {
        "keras_version": info.get("keras_version"),
        "date_saved": info.get("date_saved"),
        "backend": None,
        "model_class": config.get("class_name"),
        "weights_only": False,
        "training_config": ({"optimizer_config": compile_cfg.get("optimizer"),
                             "loss": compile_cfg.get("loss")} if compile_cfg else None),
        "optimizer_weights": weights.optimizer,
        "members": [{"name": n, "size": i.file_size} for n, i in archive.infos.items()],
        "warnings": warnings,
    }
    inner = config.get("config")
    if not isinstance(inner, dict) or not isinstance(inner.get("layers"), list):
        graph = _opaque_model(config, weights, warnings)
    else:
        try:
            graph = _build_graph(config, None, None, where)  # type: ignore[arg-type]
        except ModelReadError as e:
            raise ModelReadError(e.message.replace("'model_config'", CONFIG), where) from None
        _attach_weights(graph, inner["layers"], config.get("class_name") == "Sequential",
                        weights, warnings)
    return Model("keras_zip", where, [graph], metadata=metadata)


def _opaque_model(config: dict, weights: _Weights, warnings: list[str]) -> Graph:
    """A model whose config lists no layers (a subclassed model): one opaque node."""
    cls = str(config.get("class_name"))
    graph = Graph(str((config.get("config") or {}).get("name", cls))
                  if isinstance(config.get("config"), dict) else cls,
                  meta={"keras_kind": cls})
    node = Node(cls, cls, "keras", index=0, meta={"opaque": True, "keras_config": config})
    for name, dtype, shape in weights.under("layers") + weights.under(""):
        v = Value(name, None, shape, data=weights.lazy(name, dtype, shape),
                  meta={"layer": cls, "trainable": True, "h5_path": name})
        v.dtype = v.data.dtype
        graph.values.append(v)
        node.append_input(v)
    out = Value(cls, None, None)
    graph.values.append(out)
    node.add_output(out)
    graph.nodes.append(node)
    graph.outputs.append(out)
    warnings.append(f"the model is a custom class ({config.get('registered_name') or cls}) "
                    "whose layers only its Python code knows: shown as one opaque node, "
                    "never run")
    return graph


def _attach_weights(graph: Graph, layers: list, sequential: bool, weights: _Weights,
                    warnings: list[str]) -> None:
    """Give each layer node its variables (const inputs) and mark opaque layers."""
    by_config = _layer_paths(layers, sequential)
    for node, layer in zip(graph.nodes, [la for la in layers if isinstance(la, dict)]):
        if isinstance(layer.get("registered_name"), str):
            node.meta["registered_name"] = layer["registered_name"]
        reason = _opaque_reason(node)
        if reason is not None:
            node.meta["opaque"] = True
            warnings.append(f"layer {node.name!r} is {reason}: shown as an opaque node, "
                            "never run")
        path = weights.by_name.get(node.name) or by_config.get(node.name)
        if path is None:
            continue
        found = weights.under(path)
        names = _var_names(node, len(found))
        if names[:1] == ["vars/0"] and any(not ds.startswith(path + "/vars/")
                                           for ds, _, _ in found):
            names = [ds[len(path) + 1:] for ds, _, _ in found]  # a nested model's layers
        trainable = bool(node.attrs.get("trainable", True))
        for (ds, dtype, shape), vname in zip(found, names):
            data = weights.lazy(ds, dtype, shape)
            w_trainable = (trainable and vname not in _NON_TRAINABLE_WEIGHTS
                           and node.op not in _STATE_ONLY_LAYERS)
            v = Value(f"{node.name}/{vname}", data.dtype, shape, data=data,
                      meta={"layer": node.name, "trainable": w_trainable, "h5_path": ds})
            graph.values.append(v)
            node.append_input(v)
