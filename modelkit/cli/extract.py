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
        from modelkit import api
        from modelkit.convert.progress import Progress

        result = api.extract(src, dst, outputs=outputs, inputs=inputs, format=fmt,
                             force=force, progress=Progress())
        if as_json:
            from modelkit.cli.output import emit_json

            emit_json(result.to_dict())
            return
        for line in result.lines():
            print(line)
