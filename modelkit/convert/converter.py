"""Driving the TFLite converter: settings for each quantization mode, calibration,
and the converter's errors turned into one line."""

from __future__ import annotations

import re
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from modelkit import interrupts
from modelkit.analysis.tf_summary import node_name
from modelkit.convert.data import load_data
from modelkit.convert.options import ConvertOptions
from modelkit.convert.progress import Progress
from modelkit.convert.sources import GraphIO
from modelkit.errors import ConversionError, UsageError
from modelkit.runtime import TensorSpec

_ERROR_RE = re.compile(r"error:\s*(.*)")
_LOC_RE = re.compile(r"^loc\((.*?)\):\s*")


def summarize_converter_error(text: str) -> str:
    """The first meaningful `error:` line of a converter message, without MLIR noise."""
    for line in text.splitlines():
        m = _ERROR_RE.search(line)
        if not m:
            continue
        msg = m.group(1).strip()
        where = ""
        loc = _LOC_RE.match(msg)
        if loc:
            names = re.findall(r'"([^"]+)"', loc.group(1))
            msg = msg[loc.end():]
            where = " at " + " ".join(n.rstrip(":") for n in names) if names else ""
        if msg:
            return msg + where
    for line in text.splitlines():
        if line.strip():
            return line.strip()
    return "the converter failed"


def _input_stats(opts: ConvertOptions, inputs: list[str]) -> dict[str, tuple[float, float]]:
    n = len(inputs)
    mean, std = opts.mean, opts.std
    if len(mean) == 1 and n > 1:
        mean, std = mean * n, std * n
    if len(mean) != n:
        raise UsageError(f"{len(mean)} --mean/--std values for {n} inputs ({', '.join(inputs)})")
    return {node_name(i): (m, s) for i, m, s in zip(inputs, mean, std)}


class Conversion:
    """One conversion run: holds TF, the progress reporter and intermediate files."""

    def __init__(self, opts: ConvertOptions, source: str, target: str,
                 progress: Progress, workdir: Path) -> None:
        self.opts = opts
        self.source = source
        self.target = target
        self.progress = progress
        self.workdir = workdir
        self.notes: list[str] = []
        self.converter_kind = ""
        from modelkit.runtime.tfenv import import_tf

        progress.stage("loading TensorFlow")
        self.tf = import_tf(opts.debug, needed_for="converting", path=opts.src)

    @contextmanager
    def tf_errors(self, what: str) -> Iterator[None]:
        """Turn what TensorFlow and the converter raise while `what` runs into one
        ConversionError line that keeps their own message (the original is chained
        for --debug)."""
        from tensorflow.lite.python.convert_phase import ConverterError

        try:
            yield
        except (ConverterError, ValueError, TypeError, RuntimeError,
                self.tf.errors.OpError) as e:
            interrupts.check()  # NOTE: pybind11 may turn a KeyboardInterrupt into these.
            # NOTE: TF reports bad shapes, names and graphs as ValueError/TypeError from
            # its Python layer and OpError from the runtime; all name the cause.
            text = getattr(e, "message", None) or str(e)
            raise ConversionError(f"{what} failed: {summarize_converter_error(text)}",
                                  str(self.opts.src)) from e

    def note(self, text: str) -> None:
        self.notes.append(text)
        self.progress.note(text)

    # -- converters

    def _representative(self, specs: list[TensorSpec], keyed: bool):
        arrays = load_data(self.opts.data, specs, limit=self.opts.calibration_steps)  # type: ignore[arg-type]
        count = int(arrays[0].shape[0])
        progress = self.progress

        def dataset():
            with progress.counter("calibrating", count) as step:
                for i in range(count):
                    sample = [a[i:i + 1] for a in arrays]
                    yield {s.name: x for s, x in zip(specs, sample)} if keyed else sample
                    step()
        self.progress.stage(f"calibrating on {count} samples from {self.opts.data}")
        return dataset

    def configure(self, converter, specs: list[TensorSpec], keyed: bool = False) -> None:
        """Apply --quantize/--io-type/--allow-* to a converter (v1 or v2)."""
        tf, opts = self.tf, self.opts
        ops = [tf.lite.OpsSet.TFLITE_BUILTINS]
        q = opts.quantize
        if q in ("dynamic", "float16", "int8", "int16x8"):
            converter.optimizations = [tf.lite.Optimize.DEFAULT]
        if q == "float16":
            converter.target_spec.supported_types = [tf.float16]
        elif q == "int8":
            converter.representative_dataset = self._representative(specs, keyed)
            ops = [tf.lite.OpsSet.TFLITE_BUILTINS_INT8]
            io = {"int8": tf.int8, "uint8": tf.uint8, "float32": tf.float32}[opts.io_type or "int8"]
            converter.inference_input_type = io
            converter.inference_output_type = io
        elif q == "int16x8":
            converter.representative_dataset = self._representative(specs, keyed)
            ops = [tf.lite.OpsSet.EXPERIMENTAL_TFLITE_BUILTINS_ACTIVATIONS_INT16_WEIGHTS_INT8]
            if opts.io_type == "int16":
                converter.inference_input_type = tf.int16
                converter.inference_output_type = tf.int16
        if opts.allow_select_tf_ops:
            ops.append(tf.lite.OpsSet.SELECT_TF_OPS)
        converter.target_spec.supported_ops = ops
        converter.allow_custom_ops = opts.allow_custom_ops

    def run_converter(self, converter) -> bytes:
        """converter.convert() with TF's logs captured; errors become ConversionError."""
        from modelkit.runtime.tfenv import quiet_native_stderr

        self.progress.stage("converting")
        from tensorflow.lite.python.convert_phase import ConverterError

        with quiet_native_stderr(self.opts.debug) as native:
            try:
                if self.opts.denylist_nodes or self.opts.denylist_ops:
                    from modelkit.convert.selective import Denylist, convert_selectively

                    return convert_selectively(
                        self.tf, converter,
                        Denylist(self.opts.denylist_nodes, self.opts.denylist_ops),
                        self.opts.io_type, path=str(self.opts.src), warn=self.progress.warn)
                return converter.convert()
            except (ConverterError, ValueError, RuntimeError, self.tf.errors.OpError) as e:
                # NOTE: ValueError/RuntimeError are how the converter reports bad
                # settings and calibration failures; both name the cause in one line.
                failure = e
        interrupts.check()
        summary = summarize_converter_error(str(failure) + "\n" + native.getvalue())
        raise ConversionError(f"the TFLite converter failed: {summary}", str(self.opts.src))

    def tflite_from_graph(self, graph_def, gio: GraphIO, specs: list[TensorSpec]) -> bytes:
        """Frozen graph -> TFLite with the TF1 converter (every mode, uint8 legacy too)."""
        tf, opts = self.tf, self.opts
        path = self.workdir / "frozen.pb"
        path.write_bytes(graph_def.SerializeToString())
        shapes = {}
        for name in gio.inputs:
            shape = gio.shapes.get(name)
            if shape is not None:
                shapes[node_name(name)] = [1 if d is None else d for d in shape]
        converter = tf.compat.v1.lite.TFLiteConverter.from_frozen_graph(
            str(path), [node_name(i) for i in gio.inputs], [node_name(o) for o in gio.outputs],
            shapes or None)
        self.converter_kind = "tf.compat.v1.lite.TFLiteConverter.from_frozen_graph"
        if opts.quantize == "uint8":
            converter.inference_type = tf.uint8
            converter.quantized_input_stats = _input_stats(opts, gio.inputs)
            if opts.default_ranges is not None:
                converter.default_ranges_stats = opts.default_ranges
                self.progress.warn(
                    f"--default-ranges {opts.default_ranges[0]:g},{opts.default_ranges[1]:g} "
                    "is dummy quantization: every tensor without recorded ranges gets this "
                    "range, and ACCURACY WILL DROP, often badly. Use --quantize int8 --data "
                    "calib.npy for calibrated ranges.")
            converter.allow_custom_ops = opts.allow_custom_ops
            if opts.allow_select_tf_ops:
                converter.target_spec.supported_ops = [tf.lite.OpsSet.TFLITE_BUILTINS,
                                                       tf.lite.OpsSet.SELECT_TF_OPS]
        else:
            self.configure(converter, specs)
        return self.run_converter(converter)

    def tflite_from_savedmodel(self, specs_holder: list) -> bytes:
        """SavedModel -> TFLite; the TF1 converter when the TF2 loader cannot read it."""
        tf, opts = self.tf, self.opts
        from modelkit.runtime.tfenv import quiet_native_stderr

        with quiet_native_stderr(opts.debug):
            try:
                converter = tf.lite.TFLiteConverter.from_saved_model(
                    str(opts.src), signature_keys=[opts.signature])
                self.converter_kind = "tf.lite.TFLiteConverter.from_saved_model"
                keyed = True
            except (AttributeError, KeyError, TypeError, tf.errors.OpError) as e:
                interrupts.check()  # NOTE: never fall back because of an interrupt.
                # NOTE: TF 2.4-era Keras SavedModels fail the TF2 loader
                # ('_UserObject' object has no attribute 'add_slot'); the TF1 converter reads them.
                self.note(f"the TF2 loader cannot read this SavedModel ({type(e).__name__}); "
                          "falling back to tf.compat.v1.lite.TFLiteConverter.from_saved_model")
                converter = tf.compat.v1.lite.TFLiteConverter.from_saved_model(
                    str(opts.src), signature_key=opts.signature)
                self.converter_kind = "tf.compat.v1.lite.TFLiteConverter.from_saved_model"
                keyed = False
            except ValueError as e:
                interrupts.check()
                if "signature" in str(e).lower():
                    raise UsageError(f"no signature {opts.signature!r} in the SavedModel "
                                     f"({summarize_converter_error(str(e))})",
                                     str(opts.src)) from None
                raise ConversionError(f"cannot load the SavedModel: "
                                      f"{summarize_converter_error(str(e))}",
                                      str(opts.src)) from None
        self.configure(converter, specs_holder[0] if specs_holder else [], keyed)
        content = self.run_converter(converter)
        if keyed and self._reads_unassigned_variables(content):
            content = self._from_frozen_signature(specs_holder[0] if specs_holder else [])
        if not keyed:
            content = self._with_savedmodel_signature(content)
        return content

    def _reads_unassigned_variables(self, content: bytes) -> bool:
        """True when the converted model reads resource variables nothing assigns (a
        SavedModel written by `tf.saved_model.save` of a Keras 3 model keeps its weights
        as VAR_HANDLE/READ_VARIABLE; the interpreter then fails at invoke)."""
        from modelkit.check.variables import unassigned_reads
        from modelkit.formats.tflite import load as load_tflite

        path = self.workdir / "variables_probe.tflite"
        path.write_bytes(content)
        return bool(unassigned_reads(load_tflite(path)))

    def _from_frozen_signature(self, specs) -> bytes:
        """Convert the signature's concrete function with its variables made constants."""
        from modelkit.runtime.tf_loaders import frozen_function

        tf, opts = self.tf, self.opts
        self.note("the converter left resource variables that nothing assigns "
                  "(READ_VARIABLE); converted again from the signature with its variables "
                  "frozen")
        from modelkit.runtime.tfenv import quiet_native_stderr

        with quiet_native_stderr(opts.debug):
            # NOTE: the loaded object must outlive the function: it owns the variables.
            loaded = tf.saved_model.load(str(opts.src))
            frozen = frozen_function(loaded.signatures[opts.signature])
            converter = tf.lite.TFLiteConverter.from_concrete_functions([frozen], loaded)
        self.converter_kind = ("tf.lite.TFLiteConverter.from_concrete_functions "
                               "(the signature, variables frozen)")
        self.configure(converter, specs, True)
        return self.run_converter(converter)

    def _with_savedmodel_signature(self, content: bytes) -> bytes:
        """The v1 converter's model with the SavedModel signature's keys as its
        SignatureDef (the v1 converter writes none; its tensors are then only known as
        `StatefulPartitionedCall:1`). Unchanged when a tensor cannot be matched."""
        from modelkit.formats import registry
        from modelkit.formats.tflite import load as load_tflite
        from modelkit.formats.tflite.writer import save as save_tflite
        from modelkit.ir import Signature, SignatureIO

        opts = self.opts
        wanted = next((s for s in registry.load(opts.src, "savedmodel").signatures
                       if s.key == opts.signature), None)
        path = self.workdir / "v1_converter.tflite"
        path.write_bytes(content)
        model = load_tflite(path)
        if wanted is None or model.signatures or not model.graphs:
            return content
        graph = model.graphs[0]

        def ios(entries, values) -> list[SignatureIO] | None:
            # NOTE: the converter names a tensor `x` for TF's `x:0` and `x:1` for `x:1`.
            by_name = {v.name: v for v in values}
            out = []
            for io in sorted(entries, key=lambda e: e.key):
                name = io.tensor_name[:-2] if io.tensor_name.endswith(":0") else io.tensor_name
                v = by_name.get(name)
                if v is None:
                    return None
                out.append(SignatureIO(io.key, v.name, v.dtype, v.shape, v))
            return out

        inputs, outputs = ios(wanted.inputs, graph.inputs), ios(wanted.outputs, graph.outputs)
        if inputs is None or outputs is None:
            self.note("the TFLite model has no signature: its tensors do not match the "
                      f"SavedModel signature {opts.signature!r}")
            return content
        model.signatures = [Signature(opts.signature, inputs, outputs)]
        signed = self.workdir / "v1_converter_signed.tflite"
        save_tflite(model, signed)
        return signed.read_bytes()
