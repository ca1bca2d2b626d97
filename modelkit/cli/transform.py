"""`modelkit transform SRC DST --transforms SPEC`: graph_transforms passes and TFLite rewrites.

Examples:

    modelkit transform frozen.pb clean.pb --transforms \\
        'strip_unused_nodes fold_constants(ignore_errors=true) remove_nodes(op=Identity)'
    modelkit transform model.tflite model_u8.tflite --transforms 'set_io_type(type=uint8)'
    modelkit transform --list
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Optional

import typer

from modelkit.cli.main import app, reporting_errors


@app.command(help=__doc__.split("\n\n")[0] + "\n\n" + """\
SPEC has transform_graph's syntax: names separated by spaces, each with
optional parameters in parentheses, values quoted when they hold commas,
parameters repeatable, e.g. 'remove_nodes(op=Identity, op=CheckNumerics)
strip_unused_nodes(type=float, shape="1,224,224,3")'.

TF graphs (.pb, .pbtxt, SavedModel, checkpoint, Keras: the last three are
frozen first) are written as .pb or .pbtxt by DST's extension; .tflite models
as .tflite. What each pass changed goes to stderr; --list names every transform
and its parameters.""")
def transform(
    src: Optional[Path] = typer.Argument(None, help="Model to transform (never modified)."),
    dst: Optional[Path] = typer.Argument(None, help="Output: .pb/.pbtxt for TF graphs, "
                                         ".tflite for TFLite models."),
    transforms: str = typer.Option(None, "--transforms", "-t",
                                   help="The passes, in transform_graph's syntax."),
    inputs: str = typer.Option(None, "--inputs", help="Input node names, comma separated "
                               "(default: the placeholders the outputs need)."),
    outputs: str = typer.Option(None, "--outputs", help="Output node names, comma separated "
                                "(default: the detected outputs)."),
    from_: str = typer.Option(None, "--from", help="Source format, when detection fails."),
    signature: str = typer.Option("serving_default", "--signature",
                                  help="SavedModel signature to freeze."),
    list_: bool = typer.Option(False, "--list", help="List every transform and exit."),
    as_json: bool = typer.Option(False, "--json", help="Print the per-pass report as JSON."),
    force: bool = typer.Option(False, "--force", "-f", help="Replace an existing output."),
) -> None:
    """Apply graph_transforms passes (TF graphs) or TFLite rewrites to SRC, write DST."""
    with reporting_errors():
        from modelkit.cli.feeding import comma_list
        from modelkit.errors import UsageError

        if list_:
            _print_list(as_json)
            return
        if src is None or dst is None:
            raise UsageError("transform needs SRC and DST (or --list)")
        if not transforms or not transforms.strip():
            raise UsageError("--transforms is required, e.g. --transforms "
                             "'strip_unused_nodes remove_nodes(op=Identity)'; "
                             "see 'modelkit transform --list'")
        result = run_transform(src, dst, transforms, inputs=comma_list(inputs),
                               outputs=comma_list(outputs), source_format=from_,
                               signature=signature, force=force)
        if as_json:
            from modelkit.cli.output import emit_json

            emit_json(result)
        sys.stdout.flush()


def _print_list(as_json: bool) -> None:
    from modelkit.transform import all_passes

    passes = sorted(all_passes().values(), key=lambda p: (p.domain != "tf", p.name))
    if as_json:
        from modelkit.cli.output import emit_json

        emit_json({"schema_version": 1, "transforms": [
            {"name": p.name, "domain": p.domain, "doc": p.doc, "needs_tf": p.needs_tf,
             "params": [{"name": q.name, "doc": q.doc, "default": q.default,
                         "required": q.required, "repeated": q.repeated} for q in p.params]}
            for p in passes]})
        return
    lines = []
    domain = None
    for p in passes:
        if p.domain != domain:
            domain = p.domain
            lines.append("TensorFlow graphs (.pb, .pbtxt, SavedModel, checkpoint, Keras):"
                         if domain == "tf" else "\nTFLite models (.tflite):")
        lines.append(f"  {p.name}: {p.doc}")
        for q in p.params:
            flags = []
            if q.required:
                flags.append("required")
            if q.repeated:
                flags.append("repeatable")
            if q.default is not None:
                flags.append(f"default {q.default}")
            extra = f" ({', '.join(flags)})" if flags else ""
            lines.append(f"      {q.name}{extra}: {q.doc}")
    print("\n".join(lines))


def run_transform(src: Path, dst: Path, spec: str, *, inputs: list[str] | None = None,
                  outputs: list[str] | None = None, source_format: str | None = None,
                  signature: str = "serving_default", force: bool = False) -> dict:
    """Parse SPEC, load SRC, run the passes (reporting each on stderr), write DST.

    Returns:
        the report (schema_version 1) as a dict.

    Raises:
        UsageError: bad spec, parameter or output path (nothing is read or written).
        ModelReadError: SRC cannot be read.
        TransformError: a pass failed (nothing is written).
    """
    from modelkit import api
    from modelkit.convert.progress import Progress

    result = api.transform(src, spec, dst, inputs=inputs, outputs=outputs,
                           format=source_format, signature=signature, force=force,
                           progress=Progress())
    return result.to_dict()
