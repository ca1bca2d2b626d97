"""Cut a subgraph out of a TFLite or GraphDef model.

Examples:

    modelkit extract model.tflite part.tflite --inputs conv1/Relu --outputs logits/BiasAdd
    modelkit extract frozen.pb part.pb --inputs conv1/Relu:0 --outputs dense1/Relu
    modelkit extract model.tflite part.tflite --inputs '#12' --outputs '#20,#21'
"""

from __future__ import annotations

from pathlib import Path
from typing import Optional

import typer

from modelkit.cli.main import app, reporting_errors

_HELP = __doc__
SCHEMA_VERSION = 1


@app.command(help=_HELP.split("\n\n")[0] + "\n\n" + """\
The given tensors become the new model's inputs (TFLite: graph inputs with their
dtype, shape and quantization; GraphDef: Placeholders of their dtype and shape)
and the new model ends at the given outputs; only the ops between them stay,
tensors and buffers nothing uses are dropped, and a TFLite model gets a
signature. Fed the whole model's values at the inputs, it computes exactly the
whole model's values at the outputs.

Tensors are named as the model names them (TFLite tensor names, GraphDef
`node` or `node:port`) or by '#index' (TFLite tensor index, GraphDef node
position). An unknown name, or an output that also needs an input not given,
is exit 2 naming it.""")
def extract(
    src: Path = typer.Argument(..., help="The model (TFLite or GraphDef)."),
    dst: Path = typer.Argument(..., help="Where to write the cut model (same format)."),
    inputs: str = typer.Option(None, "--inputs", metavar="T1,T2",
                               help="Tensors that become inputs (default: the model's)."),
    outputs: str = typer.Option(..., "--outputs", metavar="T3,...",
                                help="Tensors the cut model ends at."),
    fmt: Optional[str] = typer.Option(None, "--from", help="Force the input format."),
    as_json: bool = typer.Option(False, "--json", help="Print the result as JSON."),
    force: bool = typer.Option(False, "--force", help="Replace an existing DST."),
) -> None:
    """Cut the ops between --inputs and --outputs into a new model."""
    with reporting_errors():
        from modelkit.cli.feeding import comma_list
        from modelkit.cli.main import warn
        from modelkit.fileio import check_output
        from modelkit.formats import registry
        from modelkit.reduce.extract import check_destination
        from modelkit.reduce.extract import extract as cut_out

        check_output(dst, force=force, sources=(src,))
        model = registry.load(src, fmt)
        check_destination(dst, model.format)
        cut = cut_out(model, comma_list(inputs), comma_list(outputs) or [])
        registry.save(cut.model, dst, force=force)
        for note in cut.notes:
            warn(note)
        main = cut.model.graphs[0]
        ins = [{"name": v.name, "type": v.type_str()} for v in main.inputs]
        outs = [{"name": v.name, "type": v.type_str()} for v in main.outputs]
        if as_json:
            from modelkit.cli.output import emit_json

            emit_json({"schema_version": SCHEMA_VERSION, "model": str(src), "output": str(dst),
                       "format": model.format, "original_op_count": len(model.graphs[0].nodes),
                       "op_count": len(main.nodes),
                       "ops": [{"index": n.index, "op": n.op, "name": n.name}
                               for n in cut.nodes],
                       "inputs": ins, "outputs": outs, "notes": cut.notes})
            return
        print(f"wrote {dst}: {len(main.nodes)} of {len(model.graphs[0].nodes)} nodes of {src}")
        for v in main.inputs:
            print(f"input  {v.name}  {v.type_str()}")
        for v in main.outputs:
            print(f"output {v.name}  {v.type_str()}")
