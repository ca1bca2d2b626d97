"""What `modelkit convert` takes: the options, their parsing and the checks on their
combination that run before TensorFlow loads."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from modelkit.errors import UsageError
from modelkit.formats import registry

QUANTIZE_MODES = ("none", "dynamic", "int8", "float16", "int16x8", "uint8")
TARGETS = ("tflite", "graphdef", "savedmodel")
TARGET_EXTENSIONS = {".tflite": "tflite", ".lite": "tflite", ".pb": "graphdef",
                     ".pbtxt": "graphdef"}


@dataclass
class ConvertOptions:
    """Everything `modelkit convert` takes; see the CLI help for each option."""

    src: Path
    dst: Path
    to: str | None = None
    source_format: str | None = None
    quantize: str = "none"
    io_type: str | None = None
    data: Path | None = None
    calibration_steps: int = 100
    mean: list[float] = field(default_factory=list)
    std: list[float] = field(default_factory=list)
    default_ranges: tuple[float, float] | None = None
    inputs: list[str] | None = None
    outputs: list[str] | None = None
    input_shapes: list[tuple[int | None, ...]] | None = None
    signature: str = "serving_default"
    allow_select_tf_ops: bool = False
    allow_custom_ops: bool = False
    verify: bool = True
    preflight: bool = True
    force: bool = False
    debug: bool = False
    allow_unsafe_ops: bool = False
    dequantize_legacy: bool = False
    denylist_nodes: list[str] = field(default_factory=list)
    denylist_ops: list[str] = field(default_factory=list)



def parse_shapes(text: str) -> list[tuple[int | None, ...]]:
    """`1,224,224,3:1,10` -> [(1,224,224,3), (1,10)]; `?` or -1 for an unknown dim.

    Raises:
        UsageError: not a list of integers.
    """
    shapes = []
    for part in text.split(":"):
        dims: list[int | None] = []
        for d in part.split(","):
            d = d.strip()
            if d in ("?", "-1", "None"):
                dims.append(None)
            elif d.isdigit():
                dims.append(int(d))
            else:
                raise UsageError(f"--input-shapes {text!r}: {d!r} is not a dim; write e.g. "
                                 "1,224,224,3 (several inputs separated by ':')")
        shapes.append(tuple(dims))
    return shapes


def parse_floats(values: list[str], option: str) -> list[float]:
    """Repeatable options or comma lists -> floats.

    Raises:
        UsageError: not numbers.
    """
    out = []
    for v in values:
        for part in str(v).split(","):
            try:
                out.append(float(part))
            except ValueError:
                raise UsageError(f"{option} {v!r}: not a number") from None
    return out


def target_format(dst: Path, to: str | None) -> str:
    """The output format: --to, else the extension, else SavedModel for a suffix-less path.

    Raises:
        UsageError: unknown format or extension.
    """
    if to:
        if to not in TARGETS:
            raise UsageError(f"--to {to!r}: choose one of {', '.join(TARGETS)}")
        return to
    suffix = dst.suffix.lower()
    if suffix in TARGET_EXTENSIONS:
        return TARGET_EXTENSIONS[suffix]
    if suffix == "" or dst.is_dir():
        return "savedmodel"
    raise UsageError(f"cannot tell the output format from {dst.name!r}; use a .tflite or .pb "
                     f"name, a folder name for a SavedModel, or --to {'|'.join(TARGETS)}")


def validate(opts: ConvertOptions, source: str, target: str) -> None:
    """Reject option combinations that cannot work, before TensorFlow loads.

    Raises:
        UsageError: with what to change.
    """
    q = opts.quantize
    if q not in QUANTIZE_MODES:
        raise UsageError(f"--quantize {q!r}: choose one of {', '.join(QUANTIZE_MODES)}")
    if target != "tflite" and q != "none":
        raise UsageError(f"--quantize {q} needs a .tflite output (the output is {target})")
    if target == "tflite" and source == "tflite":
        raise UsageError("the source is already a TFLite model")
    if source == "tflite":
        raise UsageError("converting from TFLite is not supported; the source must be a "
                         "GraphDef, SavedModel, checkpoint or Keras model")
    if q in ("int8", "int16x8") and opts.data is None:
        raise UsageError(f"--quantize {q} needs representative data: add --data calib.npy "
                         "(.npy for one input, .npz with one array per input, or a folder "
                         "of images), e.g. a few hundred training samples")
    if opts.io_type is not None:
        allowed = {"int8": ("int8", "uint8", "float32"), "int16x8": ("int16", "float32")}
        if opts.io_type not in allowed.get(q, ()):
            raise UsageError(f"--io-type {opts.io_type} does not apply to --quantize {q} "
                             "(int8: int8|uint8|float32; int16x8: int16|float32)")
    if q == "uint8":
        if source not in ("graphdef", "checkpoint"):
            raise UsageError("--quantize uint8 (legacy) works on frozen graphs and "
                             "checkpoints; for this model use --quantize int8 --data ...")
        if not opts.mean or not opts.std:
            raise UsageError("--quantize uint8 needs --mean and --std per input "
                             "(real = (q - mean) / std), e.g. --mean 0 --std 255 for inputs "
                             "in [0, 1]")
        if len(opts.mean) != len(opts.std):
            raise UsageError(f"{len(opts.mean)} --mean values but {len(opts.std)} --std values")
        if any(s <= 0 for s in opts.std):
            raise UsageError("--std must be positive")
    elif opts.mean or opts.std or opts.default_ranges:
        raise UsageError("--mean, --std and --default-ranges apply to --quantize uint8 only")
    if opts.calibration_steps < 1:
        raise UsageError("--calibration-steps must be at least 1")
    if opts.denylist_nodes or opts.denylist_ops:
        from modelkit.convert.selective import Denylist, check_mode

        check_mode(q, Denylist(opts.denylist_nodes, opts.denylist_ops))
    if source in ("savedmodel", "keras_h5", "keras_zip") and (opts.inputs or opts.outputs):
        raise UsageError(f"--inputs/--outputs apply to graphs and checkpoints; a "
                         f"{registry.DESCRIPTIONS[source]} has its own inputs and outputs "
                         "(choose a SavedModel signature with --signature)")
    if opts.default_ranges is not None and opts.default_ranges[0] >= opts.default_ranges[1]:
        raise UsageError("--default-ranges MIN,MAX needs MIN < MAX")
    if opts.dequantize_legacy and source != "graphdef":
        raise UsageError("--dequantize-legacy works on frozen GraphDefs (.pb, .pbtxt), where "
                         "graph_transforms left its eight-bit ops")


def command_line(opts: ConvertOptions, *extra: str) -> str:
    """The `modelkit convert` line that repeats `opts`, with `extra` flags after DST.

    Used to print the exact command that gets past a preflight error.
    """
    import shlex

    args = ["modelkit", "convert", str(opts.src), str(opts.dst), *extra]
    if opts.dequantize_legacy and "--dequantize-legacy" not in extra:
        args.append("--dequantize-legacy")
    for flag, value, default in (("--to", opts.to, None), ("--from", opts.source_format, None),
                                 ("--quantize", opts.quantize, "none"),
                                 ("--io-type", opts.io_type, None)):
        if value is not None and value != default:
            args += [flag, str(value)]
    if opts.data is not None:
        args += ["--data", str(opts.data)]
    if opts.calibration_steps != 100:
        args += ["--calibration-steps", str(opts.calibration_steps)]
    if opts.mean:
        args += ["--mean", ",".join(f"{m:g}" for m in opts.mean)]
    if opts.std:
        args += ["--std", ",".join(f"{s:g}" for s in opts.std)]
    if opts.default_ranges is not None:
        args += ["--default-ranges", f"{opts.default_ranges[0]:g},{opts.default_ranges[1]:g}"]
    if opts.inputs:
        args += ["--inputs", ",".join(opts.inputs)]
    if opts.outputs:
        args += ["--outputs", ",".join(opts.outputs)]
    if opts.input_shapes:
        args += ["--input-shapes", ":".join(
            ",".join("?" if d is None else str(d) for d in shape) for shape in opts.input_shapes)]
    if opts.signature != "serving_default":
        args += ["--signature", opts.signature]
    if opts.denylist_nodes:
        args += ["--denylist-nodes", ",".join(opts.denylist_nodes)]
    if opts.denylist_ops:
        args += ["--denylist-ops", ",".join(opts.denylist_ops)]
    for flag, on in (("--allow-select-tf-ops", opts.allow_select_tf_ops),
                     ("--allow-custom-ops", opts.allow_custom_ops),
                     ("--allow-unsafe-ops", opts.allow_unsafe_ops),
                     ("--no-verify", not opts.verify), ("--no-preflight", not opts.preflight),
                     ("--force", opts.force)):
        if on:
            args.append(flag)
    return shlex.join(args)
