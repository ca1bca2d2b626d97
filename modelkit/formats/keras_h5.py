"""Keras HDF5 adapter (.h5/.hdf5): Keras 2 and Keras 3 legacy H5 files.

The root attr `model_config` (JSON) gives one Node per layer (domain "keras",
op = the layer class name, attrs = its config flattened); edges come from the
functional `inbound_nodes` (Keras 2 lists or Keras 3 `__keras_tensor__` dicts)
or from the Sequential order. Weights under `model_weights/<layer>/` become
constant input Values of their layer node, read lazily from the file. Nothing
in the file is deserialized into Python objects: a Lambda layer is a node with
its config, never code. Weights-only files (`layer_names` at the root) load as
variables.
"""

from __future__ import annotations

import json
import os
import time
from pathlib import Path
from collections.abc import Callable
from typing import Any

from modelkit.errors import ModelReadError
from modelkit.ir import DType, Graph, LazyData, Model, Node, Value

HDF5_SIGNATURE = b"\x89HDF\r\n\x1a\n"
# Layer config keys that are not attributes (the node carries them).
_SKIP_KEYS = frozenset({"name"})
# Non-trainable weights of otherwise trainable layers.
_NON_TRAINABLE_WEIGHTS = ("moving_mean", "moving_variance")
_FLATTEN_DEPTH = 4


def sniff(path: str | os.PathLike) -> bool:
    """True when the HDF5 signature is at offset 0 or at a user-block offset (512, 1024, ...)."""
    p = Path(path)
    if not p.is_file():
        return False
    try:
        with open(p, "rb") as f:
            size = os.fstat(f.fileno()).st_size
            offset = 0
            while offset + len(HDF5_SIGNATURE) <= size:
                f.seek(offset)
                if f.read(len(HDF5_SIGNATURE)) == HDF5_SIGNATURE:
                    return True
                offset = 512 if offset == 0 else offset * 2
    except OSError:
        return False
    return False


def _text(v: Any) -> str:
    return v.decode("utf-8") if isinstance(v, bytes) else str(v)


def _attr(obj, name: str, default: Any = None) -> Any:
    """An attribute's value, after checking that its stated size fits in the file.

    Raises:
        ModelReadError: the attribute claims more bytes than the whole file holds
            (its size field lies), so reading it would only allocate memory.
    """
    import h5py

    if name not in obj.attrs:
        return default
    aid = h5py.h5a.open(obj.id, name.encode())
    elements = aid.get_space().get_simple_extent_npoints()
    size = obj.file.id.get_filesize()
    if elements * aid.get_type().get_size() > size:
        raise ModelReadError(f"attribute {name!r} of {obj.name} claims {elements} elements, "
                             f"more than the {size}-byte file can hold; the file is corrupt",
                             obj.file.filename)
    return obj.attrs[name]


def _json_attr(h5, name: str, where: str) -> Any:
    if name not in h5.attrs:
        return None
    raw = _text(_attr(h5, name))
    try:
        return json.loads(raw)
    except json.JSONDecodeError as e:
        raise ModelReadError(f"root attribute {name!r} is not valid JSON ({e.msg})",
                             where) from None


def _names_attr(group, name: str) -> list[str]:
    if name not in group.attrs:
        return []
    return [_text(x) for x in list(_attr(group, name))]


def _dtype_name(cfg_dtype: Any) -> str | None:
    """The (compute) dtype of a layer config's `dtype` (a string or a DTypePolicy)."""
    if isinstance(cfg_dtype, str):
        name = cfg_dtype
    elif isinstance(cfg_dtype, dict):
        name = (cfg_dtype.get("config") or {}).get("name")
    else:
        return None
    if not isinstance(name, str):
        return None
    if name.startswith("mixed_"):
        name = name[len("mixed_"):]
    return name


def _to_dtype(name: str | None) -> DType | None:
    if name is None:
        return None
    try:
        return DType(name)
    except ValueError:
        return None


def flatten_config(config: dict) -> dict[str, Any]:
    """A layer config as flat attrs: serialized objects become their class name plus
    `key.sub` entries; `module`/`registered_name` noise is dropped."""
    out: dict[str, Any] = {}

    def walk(prefix: str, obj: Any, depth: int) -> None:
        if isinstance(obj, dict) and depth < _FLATTEN_DEPTH:
            if "class_name" in obj and "config" in obj:
                if obj["class_name"] == "DTypePolicy" or prefix.endswith("dtype"):
                    out[prefix] = _dtype_name(obj) or obj["class_name"]
                    return
                out[prefix] = obj["class_name"]
                inner = obj.get("config")
                if isinstance(inner, dict):
                    for k, v in inner.items():
                        walk(f"{prefix}.{k}", v, depth + 1)
                return
            for k, v in obj.items():
                if k in ("module", "registered_name"):
                    continue
                walk(f"{prefix}.{k}" if prefix else k, v, depth + 1)
            return
        out[prefix] = obj

    for key, value in config.items():
        if key not in _SKIP_KEYS:
            walk(key, value, 0)
    return out


def _history(arg: Any) -> list[tuple[str, int, int]]:
    """(layer, node_index, tensor_index) of every Keras tensor in a Keras 3 call argument."""
    found: list[tuple[str, int, int]] = []
    if isinstance(arg, dict):
        if arg.get("class_name") == "__keras_tensor__":
            hist = (arg.get("config") or {}).get("keras_history")
            if isinstance(hist, list) and len(hist) == 3:
                found.append((str(hist[0]), int(hist[1]), int(hist[2])))
            return found
        for v in arg.values():
            found.extend(_history(v))
    elif isinstance(arg, (list, tuple)):
        for v in arg:
            found.extend(_history(v))
    return found


def _tensor_shapes(arg: Any, into: dict) -> None:
    """Record the shape a Keras 3 call argument states for each Keras tensor."""
    if isinstance(arg, dict):
        if arg.get("class_name") == "__keras_tensor__":
            cfg = arg.get("config") or {}
            hist = cfg.get("keras_history")
            if isinstance(hist, list) and len(hist) == 3 and isinstance(cfg.get("shape"), list):
                into[(str(hist[0]), int(hist[1]), int(hist[2]))] = (
                    tuple(cfg["shape"]), cfg.get("dtype"))
            return
        for v in arg.values():
            _tensor_shapes(v, into)
    elif isinstance(arg, (list, tuple)):
        for v in arg:
            _tensor_shapes(v, into)


def _inbound(layer: dict, shapes: dict) -> list[list[tuple[str, int, int]]]:
    """Per call of the layer, the tensors it takes (Keras 2 and Keras 3 formats)."""
    calls = []
    for node in layer.get("inbound_nodes") or []:
        if isinstance(node, dict):  # Keras 3
            _tensor_shapes(node.get("args"), shapes)
            _tensor_shapes(node.get("kwargs"), shapes)
            calls.append(_history(node.get("args")) + _history(node.get("kwargs")))
        elif isinstance(node, list):  # Keras 2: [[layer, node_idx, tensor_idx, kwargs], ...]
            refs = []
            for item in node:
                if isinstance(item, list) and len(item) >= 3:
                    refs.append((str(item[0]), int(item[1]), int(item[2])))
                    if len(item) > 3:
                        refs.extend(_history(item[3]))
            calls.append(refs)
    return calls


def _value_name(layer: str, node_index: int, tensor_index: int) -> str:
    name = layer if tensor_index == 0 else f"{layer}:{tensor_index}"
    return name if node_index == 0 else f"{name}@{node_index}"


def _input_shape(cfg: dict) -> tuple | None:
    for key in ("batch_shape", "batch_input_shape"):
        if isinstance(cfg.get(key), list):
            return tuple(cfg[key])
    return None


def _conv_len(n: int | None, k: int, s: int, d: int, padding: str) -> int | None:
    if n is None:
        return None
    if padding == "same":
        return -(-n // s)
    eff = (k - 1) * d + 1
    return (n - eff) // s + 1 if n >= eff else 0


def _infer_shape(op: str, cfg: dict, inputs: list[tuple | None]) -> tuple | None:
    """The output shape a config states or implies for common layers (channels_last only)."""
    first = inputs[0] if inputs else None
    if op == "InputLayer":
        return _input_shape(cfg)
    if first is None:
        return None
    if op in ("Activation", "ReLU", "Softmax", "Dropout", "BatchNormalization", "LeakyReLU",
              "LayerNormalization", "GaussianNoise", "SpatialDropout2D", "PReLU", "ELU",
              "Rescaling", "Normalization", "ActivityRegularization"):
        return first
    if op in ("Add", "Subtract", "Multiply", "Average", "Maximum", "Minimum"):
        return first
    if op == "Dense" and isinstance(cfg.get("units"), int):
        return first[:-1] + (cfg["units"],)
    if op == "Flatten":
        rest = first[1:]
        n = 1
        for d in rest:
            if d is None:
                return (first[0], None)
            n *= d
        return (first[0], n)
    if op == "Reshape" and isinstance(cfg.get("target_shape"), list):
        return (first[0],) + tuple(cfg["target_shape"])
    if cfg.get("data_format", "channels_last") != "channels_last" or len(first) != 4:
        return None
    if op in ("GlobalAveragePooling2D", "GlobalMaxPooling2D"):
        return (first[0], first[3]) if not cfg.get("keepdims") else (first[0], 1, 1, first[3])
    if op in ("Conv2D", "DepthwiseConv2D", "MaxPooling2D", "AveragePooling2D"):
        pool = op.endswith("Pooling2D")
        k = cfg.get("pool_size" if pool else "kernel_size") or [1, 1]
        s = cfg.get("strides") or (k if pool else [1, 1])
        d = [1, 1] if pool else (cfg.get("dilation_rate") or [1, 1])
        padding = str(cfg.get("padding", "valid")).lower()
        h = _conv_len(first[1], k[0], s[0], d[0], padding)
        w = _conv_len(first[2], k[1], s[1], d[1], padding)
        if pool:
            c = first[3]
        elif op == "DepthwiseConv2D":
            c = None if first[3] is None else first[3] * int(cfg.get("depth_multiplier", 1))
        else:
            c = cfg.get("filters")
        return (first[0], h, w, c)
    return None


class _H5Reader:
    """Opens the file again for each lazy read, so no handle stays open."""

    def __init__(self, path: Path) -> None:
        self.path = path

    def lazy(self, dataset) -> LazyData:
        """A LazyData for `dataset`, read from the file on first use.

        Raises:
            ModelReadError: the dataset claims more data than the file can hold.
        """
        import numpy as np
        name = dataset.name
        path = self.path
        nbytes = int(dataset.size * dataset.dtype.itemsize)
        _check_dataset_size(dataset, nbytes, str(path))

        def load():
            import h5py
            try:
                with h5py.File(path, "r") as f:
                    return np.asarray(f[name][()])
            except (OSError, RuntimeError, KeyError, ValueError) as e:
                raise ModelReadError(f"cannot read weight {name}: {_first_line(e)}",
                                     str(path)) from None
        try:
            dtype = DType.from_numpy(dataset.dtype)
        except ValueError:
            dtype = DType.FLOAT32
        return LazyData(load, dtype, tuple(dataset.shape), nbytes=nbytes)


# At most this many bytes of data per byte of file for a compressed dataset (gzip
# peaks near 1000:1 on constant data).
_MAX_COMPRESSION_RATIO = 1032


def _check_dataset_size(dataset, nbytes: int, where: str) -> None:
    """Reject a dataset whose shape claims more data than the file can hold.

    Raises:
        ModelReadError: uncompressed data larger than the file, or compressed data
            beyond any real compression ratio.
    """
    size = dataset.file.id.get_filesize()
    filtered = dataset.id.get_create_plist().get_nfilters() > 0
    limit = size * _MAX_COMPRESSION_RATIO if filtered else size
    if nbytes > limit:
        raise ModelReadError(f"dataset {dataset.name} claims {nbytes} bytes of data, more "
                             f"than the {size}-byte file can hold; the file is corrupt", where)


def _first_line(e: BaseException) -> str:
    text = str(e).strip()
    return text.splitlines()[0][:120] if text else type(e).__name__


def _weights(group, reader: _H5Reader, layer: str, trainable: bool) -> list[Value]:
    """The weights of one layer group, in `weight_names` order, as const Values."""
    import h5py
    out = []
    names = _names_attr(group, "weight_names")
    if not names:
        # NOTE: some writers omit weight_names; take every dataset under the group.
        datasets: list = []
        group.visititems(lambda n, o: datasets.append(n) if isinstance(o, h5py.Dataset)
                         else None)
        names = sorted(datasets)
    for wname in names:
        obj = group.get(wname)
        if not isinstance(obj, h5py.Dataset):
            continue
        data = reader.lazy(obj)
        base = wname.rsplit("/", 1)[-1].split(":")[0]
        is_trainable = trainable and base not in _NON_TRAINABLE_WEIGHTS
        out.append(Value(wname, data.dtype, data.shape, data=data,
                         meta={"layer": layer, "trainable": is_trainable,
                               "h5_path": obj.name}))
    return out


def _optimizer_weights(h5) -> list[dict]:
    import h5py
    group = h5.get("optimizer_weights")
    if not isinstance(group, h5py.Group):
        return []
    found = []
    group.visititems(lambda n, o: found.append(
        {"name": n, "dtype": str(o.dtype), "shape": list(o.shape)})
        if isinstance(o, h5py.Dataset) else None)
    return found


# CPU seconds the HDF5 library may take to walk a file's metadata: a base, plus one
# second per this many bytes of file; a walk beyond that is taken as a corrupt file
# that loops the library. (Walking the metadata of a real model takes milliseconds.)
PROBE_CPU_BASE = 0.75
PROBE_BYTES_PER_CPU_SECOND = 16 << 20
# Memory the walk may add to the process: a base plus a multiple of the file size.
PROBE_MEMORY_BASE = 256 << 20
PROBE_MEMORY_PER_BYTE = 4


def load(path: str | os.PathLike, **options) -> Model:
    """Load a Keras H5 file (model or weights only) without running any of it.

    Raises:
        ModelReadError: not HDF5, or an HDF5 file that is no Keras model or weights file.
    """
    p = Path(path)
    if p.is_dir():
        raise ModelReadError("is a folder, not a Keras H5 file", str(p))
    if hasattr(os, "fork"):
        try:
            size = p.stat().st_size
        except OSError as e:
            raise ModelReadError(f"cannot read: {e.strerror}", str(p)) from None
        run_bounded(lambda: _load_here(p), size, str(p))
    return _load_here(p)


def probe_budget(size: int) -> tuple[float, float, int]:
    """(CPU seconds, wall seconds, extra bytes of memory) the metadata walk of a
    `size`-byte file may take."""
    cpu = PROBE_CPU_BASE + size / PROBE_BYTES_PER_CPU_SECOND
    return cpu, 5.0 + 4.0 * cpu, PROBE_MEMORY_BASE + PROBE_MEMORY_PER_BYTE * size


def _die_with_parent(parent: int) -> None:
    """Ask the kernel to kill this (forked) process when its parent dies (Linux)."""
    import ctypes
    import signal

    try:
        libc = ctypes.CDLL(None, use_errno=True)
        pr_set_pdeathsig = 1
        libc.prctl(pr_set_pdeathsig, int(signal.SIGKILL), 0, 0, 0)
    except (OSError, AttributeError):
        pass
    # NOTE: the parent may have died before prctl; then this process was re-parented.
    if os.getppid() != parent:
        os._exit(1)


def _limit_child(size: int) -> None:
    """CPU and address-space limits for the walk in the child process."""
    import math
    import resource
    import signal

    cpu, _, memory = probe_budget(size)
    # NOTE: SIGPROF's default action ends the process, even while the HDF5 library
    # holds the GIL; RLIMIT_CPU (whole seconds) is the backstop.
    signal.signal(signal.SIGPROF, signal.SIG_DFL)
    signal.setitimer(signal.ITIMER_PROF, cpu)
    whole = math.ceil(cpu) + 1
    resource.setrlimit(resource.RLIMIT_CPU, (whole, whole + 1))
    try:
        with open("/proc/self/status") as f:
            vm = next(int(line.split()[1]) * 1024 for line in f if line.startswith("VmSize:"))
    except (OSError, StopIteration):
        return
    soft, hard = resource.getrlimit(resource.RLIMIT_AS)
    want = vm + memory
    if hard != resource.RLIM_INFINITY:
        want = min(want, hard)
    if soft == resource.RLIM_INFINITY or want < soft:
        resource.setrlimit(resource.RLIMIT_AS, (want, hard))


def run_bounded(walk: Callable[[], object], size: int, where: str) -> None:
    """Run `walk` (a read through the HDF5 library) once in a forked child first,
    within the CPU time, memory and wall time a `size`-byte file allows.

    Some corrupt files send the HDF5 C library into an endless loop that holds the
    GIL, or make it allocate what a size field claims; nothing in this process could
    stop either, but a child can be limited and killed. The child dies with this
    process (a supervisor's SIGTERM or SIGKILL leaves no orphan). It reports
    whether the walk succeeded; on success the caller reads the file itself (the
    same bytes, the same way), on a read error this raises the child's message.

    Raises:
        ModelReadError: the walk failed, took more CPU time or memory than the
            file's size allows, or crashed.
    """
    import select
    import signal

    import h5py  # noqa: F401  NOTE: imported before the fork, so the child needs no import lock

    cpu, wall, _ = probe_budget(size)
    parent = os.getpid()
    read_end, write_end = os.pipe()
    pid = os.fork()
    if pid == 0:  # the child: walk, report, then leave without running any exit handlers
        code = 0
        try:
            os.close(read_end)
            _die_with_parent(parent)
            _limit_child(size)
            try:
                walk()
                message = b""
            except ModelReadError as e:
                message = b"E" + e.message.encode("utf-8", "replace")[:4000]
            except MemoryError:
                message = b"M"
            os.write(write_end, message)
        except BaseException:  # NOTE: the parent's own read raises it again, with a traceback.
            code = 1
        os._exit(code)
    os.close(write_end)
    reaped = False
    chunks: list[bytes] = []
    try:
        deadline = time.monotonic() + wall
        while True:
            left = deadline - time.monotonic()
            if left <= 0 or not select.select([read_end], [], [], left)[0]:
                raise ModelReadError(f"reading the HDF5 metadata did not finish in "
                                     f"{wall:.0f} s; the file is probably corrupt", where)
            chunk = os.read(read_end, 65536)
            if not chunk:  # NOTE: end-of-file: the child exited, however it exited.
                break
            chunks.append(chunk)
        _, status = os.waitpid(pid, 0)
        reaped = True
    finally:
        os.close(read_end)
        if not reaped:
            # NOTE: every way out (timeout, Ctrl-C, an error here) ends the child.
            os.kill(pid, signal.SIGKILL)
            os.waitpid(pid, 0)
    message = b"".join(chunks)
    if message.startswith(b"E"):
        raise ModelReadError(message[1:].decode("utf-8", "replace"), where)
    if message == b"M":
        raise ModelReadError(f"the HDF5 metadata asks for more memory than a "
                             f"{_human_bytes(size)} file can need; the file is corrupt", where)
    if os.WIFSIGNALED(status):
        sig = os.WTERMSIG(status)
        if sig in (signal.SIGPROF, signal.SIGXCPU, signal.SIGKILL):
            raise ModelReadError(f"reading the HDF5 metadata took over {cpu:.2g} s of CPU "
                                 f"time, far more than a {_human_bytes(size)} file needs; the "
                                 "file is corrupt (it loops the HDF5 library)", where)
        raise ModelReadError(f"the HDF5 library crashed reading it (signal {sig}); the file "
                             "is probably corrupt", where)


def _human_bytes(n: int) -> str:
    for unit, step in (("GB", 1 << 30), ("MB", 1 << 20), ("KB", 1 << 10)):
        if n >= step:
            return f"{n / step:.0f} {unit}"
    return f"{n} bytes"


def _load_here(p: Path) -> Model:
    """Read the file in this process."""
    import h5py
    where = str(p)
    try:
        h5 = h5py.File(p, "r")
    except OSError as e:
        raise ModelReadError(f"not a readable HDF5 file ({str(e).splitlines()[0][:120]})",
                             where) from None
    with h5:
        try:
            return _load_open(h5, p)
        except (OSError, RuntimeError, ValueError, KeyError, TypeError) as e:
            # NOTE: the HDF5 library reports a corrupt object header, B-tree, heap or
            # datatype as OSError, RuntimeError, ValueError or KeyError ("Unable to open
            # object") while the file is walked; h5py an unknown string encoding as
            # TypeError.
            raise ModelReadError(f"corrupt HDF5 file ({str(e).splitlines()[0][:120]})",
                                 where) from None


def _load_open(h5, p: Path) -> Model:
    import h5py
    where = str(p)
    reader = _H5Reader(p)
    config = _json_attr(h5, "model_config", where)
    metadata: dict[str, Any] = {
        "keras_version": _text(_attr(h5, "keras_version", "")) or None,
        "backend": _text(_attr(h5, "backend", "")) or None,
    }
    training = _json_attr(h5, "training_config", where)
    metadata["training_config"] = training
    metadata["optimizer_weights"] = _optimizer_weights(h5)
    weights_group = h5.get("model_weights") if config is not None else h5
    if config is None and "layer_names" not in h5.attrs:
        if isinstance(h5.get("layers"), h5py.Group) or isinstance(h5.get("vars"), h5py.Group):
            return _weights_only_v3(h5, p, metadata, reader)
        raise ModelReadError("HDF5 file is not a Keras model: no 'model_config' and no "
                             "'layer_names' attribute at the root", where)
    if not isinstance(weights_group, h5py.Group):
        weights_group = None
    if config is None:
        metadata["weights_only"] = True
        return _weights_only(h5, p, metadata, reader)
    if not isinstance(config, dict) or "class_name" not in config:
        raise ModelReadError("'model_config' is not a Keras model config", where)
    metadata["weights_only"] = False
    if weights_group is not None:
        metadata.setdefault("keras_version",
                            _text(_attr(weights_group, "keras_version", "")) or None)
    graph = _build_graph(config, weights_group, reader, where)
    metadata["model_class"] = config.get("class_name")
    return Model("keras_h5", where, [graph], metadata=metadata)


def _weights_only(h5, p: Path, metadata: dict, reader: _H5Reader) -> Model:
    import h5py
    graph = Graph(p.stem, meta={"keras_kind": "weights"})
    for layer in _names_attr(h5, "layer_names"):
        group = h5.get(layer)
        if isinstance(group, h5py.Group):
            for v in _weights(group, reader, layer, True):
                v.is_variable = True
                graph.values.append(v)
    return Model("keras_h5", str(p), [graph], metadata=metadata)


def _weights_only_v3(h5, p: Path, metadata: dict, reader: _H5Reader) -> Model:
    """A Keras 3 `.weights.h5` file: every dataset is a variable named by its path."""
    import h5py
    metadata["weights_only"] = True
    graph = Graph(p.stem, meta={"keras_kind": "weights"})
    found: list = []
    h5.visititems(lambda n, o: found.append(o) if isinstance(o, h5py.Dataset) else None)
    for ds in found:
        data = reader.lazy(ds)
        graph.values.append(Value(ds.name.lstrip("/"), data.dtype, data.shape, data=data,
                                  is_variable=True, meta={"h5_path": ds.name}))
    return Model("keras_h5", str(p), [graph], metadata=metadata)


def _layer_refs(refs: Any) -> list[tuple[str, int, int]]:
    """`input_layers`/`output_layers`: a list of [layer, node, tensor], or one such
    triple (Keras 3 writes a single input or output flat)."""
    if not isinstance(refs, list):
        return []
    if len(refs) == 3 and isinstance(refs[0], str):
        refs = [refs]
    return [(str(r[0]), int(r[1]), int(r[2])) for r in refs
            if isinstance(r, list) and len(r) == 3 and isinstance(r[0], str)]


def _build_graph(config: dict, weights_group, reader: _H5Reader, where: str) -> Graph:
    """One node per layer; Values per referenced layer output; weights as const inputs."""
    import h5py
    cfg = config.get("config") or {}
    model_class = config.get("class_name")
    layers = cfg.get("layers") if isinstance(cfg, dict) else None
    if not isinstance(layers, list):
        raise ModelReadError("'model_config' has no layer list", where)
    graph = Graph(str(cfg.get("name", "")), meta={"keras_kind": model_class})
    sequential = model_class == "Sequential"
    stated: dict[tuple[str, int, int], tuple] = {}
    calls: dict[str, list] = {}
    layer_cfgs: list[tuple[str, str, dict, dict]] = []
    for i, layer in enumerate(layers):
        if not isinstance(layer, dict):
            raise ModelReadError(f"layer #{i} of 'model_config' is not an object", where)
        lcfg = layer.get("config") if isinstance(layer.get("config"), dict) else {}
        name = str(layer.get("name") or lcfg.get("name") or f"layer_{i}")
        layer_cfgs.append((name, str(layer.get("class_name", "?")), lcfg, layer))
        calls[name] = [] if sequential else _inbound(layer, stated)

    if sequential:
        prev = None
        first_shape = None
        for name, op, lcfg, _ in layer_cfgs:
            if prev is not None:
                calls[name] = [[(prev, 0, 0)]]
            elif op != "InputLayer" and _input_shape(lcfg) is not None:
                first_shape = _input_shape(lcfg)
            prev = name
        if first_shape is not None:
            inp = Value("input", _to_dtype(_dtype_name(layer_cfgs[0][2].get("dtype"))),
                        first_shape)
            graph.values.append(inp)
            graph.inputs.append(inp)
            calls[layer_cfgs[0][0]] = [[("input", -1, 0)]]

    # Which outputs each layer has: every referenced (node_index, tensor_index), at least one.
    referenced: dict[str, set[tuple[int, int]]] = {n: set() for n, *_ in layer_cfgs}
    for refs_per_call in calls.values():
        for refs in refs_per_call:
            for layer, ni, ti in refs:
                if layer in referenced:
                    referenced[layer].add((ni, ti))
    out_refs = _layer_refs(cfg.get("output_layers"))
    for layer, ni, ti in out_refs:
        if layer in referenced:
            referenced[layer].add((ni, ti))

    values: dict[tuple[str, int, int], Value] = {}
    if graph.inputs:
        values[("input", -1, 0)] = graph.inputs[0]
    nodes: dict[str, Node] = {}
    for index, (name, op, lcfg, layer) in enumerate(layer_cfgs):
        node = Node(name, op, "keras", attrs=flatten_config(lcfg), index=index,
                    meta={"keras_config": lcfg})
        if op in ("Functional", "Sequential", "Model"):
            node.meta["nested_model"] = True
        if isinstance(layer.get("module"), str):
            node.meta["module"] = layer["module"]
        trainable = bool(lcfg.get("trainable", True))
        for refs in calls[name]:
            for ref in refs:
                v = values.get(ref)
                if v is None:
                    v = Value(_value_name(*ref) if ref[1] >= 0 else ref[0], None, None)
                    values[ref] = v
                    graph.values.append(v)
                node.append_input(v)
        in_shapes = [v.shape for v in node.inputs if v is not None]
        outs = sorted(referenced[name]) or [(0, 0)]
        dtype = _to_dtype(_dtype_name(lcfg.get("dtype")))
        for ni, ti in outs:
            key = (name, ni, ti)
            v = values.get(key)
            if v is None:
                v = Value(_value_name(*key), None, None)
                values[key] = v
                graph.values.append(v)
            if v.shape is None and key in stated:
                v.shape = tuple(stated[key][0])
                v.dtype = _to_dtype(stated[key][1]) or v.dtype
            if v.shape is None and ni == 0 and ti == 0:
                v.shape = _infer_shape(op, lcfg, in_shapes)
            if v.dtype is None:
                v.dtype = dtype
            node.add_output(v)
        if weights_group is not None and isinstance(weights_group.get(name), h5py.Group):
            for w in _weights(weights_group[name], reader, name, trainable):
                graph.values.append(w)
                node.append_input(w)
        nodes[name] = node
        graph.nodes.append(node)
        if op == "InputLayer":
            graph.inputs.extend(node.outputs[:1])

    if out_refs:
        graph.outputs = [values[ref] for ref in out_refs if ref in values]
    elif graph.nodes:
        graph.outputs = [v for v in graph.nodes[-1].outputs]
    in_refs = _layer_refs(cfg.get("input_layers"))
    if in_refs:
        found = [values.get(ref) for ref in in_refs]
        if all(v is not None for v in found):
            graph.inputs = [v for v in found if v is not None]
    return graph
