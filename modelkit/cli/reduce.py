"""Cut a failing model down to the smallest part that still fails.

Examples:

    modelkit reduce broken.tflite small.tflite --until refused
    modelkit reduce broken.tflite small.tflite --until check-error --target micro
    modelkit reduce int8.tflite small.tflite --until mismatch --reference float.tflite \\
        --data calib.npy --atol 0.05
    modelkit reduce model.tflite small.tflite --check 'python my_check.py {model}'
"""

from __future__ import annotations

from pathlib import Path
from typing import Optional

import typer

from modelkit.cli.main import _state, app, reporting_errors

_HELP = __doc__


@app.command(help=_HELP.split("\n\n")[0] + "\n\n" + """\
The failure condition is one of: --until refused (the TFLite interpreter
refuses the model or crashes; run in a child process), --until check-error
(`modelkit check` reports an error), --until mismatch (an output differs from
the tensor of the same name in --reference beyond --atol/--rtol), or --check
'CMD ... {model}' (a non-zero exit status fails; with --fail-regex, a match in
its output). A condition that does not fail on SRC is exit 1 before any work.

The search bisects the ops (the graph cut after an op, then before one), then
tries to leave out each remaining op once. Cut inputs are fed the values the
whole model computes there on --data (or on values generated once, seed 0).
DST is the smallest model that still failed; Ctrl-C writes the smallest so far
(exit 130). --artifacts DIR keeps every model tried in DIR/good and DIR/bad.""")
def reduce(
    src: Path = typer.Argument(..., help="The failing model (TFLite or GraphDef)."),
    dst: Path = typer.Argument(..., help="Where to write the reduced model."),
    until: str = typer.Option(None, "--until", help="refused|check-error|mismatch."),
    check: str = typer.Option(None, "--check", metavar="'CMD ... {model}'",
                              help="A command that fails on a failing model ({model}: its "
                              "path; {inputs}: an .npz of its input values)."),
    fail_regex: str = typer.Option(None, "--fail-regex", metavar="RE",
                                   help="Count a failure only when its output (--check) or "
                                   "message matches RE."),
    target: str = typer.Option("tflite", "--target", "-t",
                               help="check-error: the target checked."),
    reference: Path = typer.Option(None, "--reference", metavar="REF",
                                   help="mismatch: the reference model (any format)."),
    data: Path = typer.Option(None, "--data", help="Inputs: .npy, .npz or an image folder "
                              "(float domain); default: generated, seed 0."),
    limit: int = typer.Option(1, "--limit", help="Samples of --data used."),
    atol: float = typer.Option(1e-5, "--atol", help="mismatch: absolute tolerance."),
    rtol: float = typer.Option(1e-5, "--rtol", help="mismatch: relative tolerance."),
    artifacts: Path = typer.Option(None, "--artifacts", metavar="DIR",
                                   help="Keep every model tried in DIR/good and DIR/bad."),
    timeout: float = typer.Option(60.0, "--timeout", help="Seconds one run may take."),
    mode: str = typer.Option("bisect", "--mode", help="bisect (bisect the ops, then try "
                             "leaving out each op left) or linear (try leaving out each "
                             "op of the whole model)."),
    delegates: bool = typer.Option(False, "--delegates", help="TFLite: let the interpreter "
                                   "apply its default delegates (XNNPACK)."),
    fmt: Optional[str] = typer.Option(None, "--from", help="Force the input format."),
    as_json: bool = typer.Option(False, "--json", help="Print the report as JSON."),
    force: bool = typer.Option(False, "--force", help="Replace an existing DST."),
) -> None:
    """Reduce a failing model to the ops that fail."""
    with reporting_errors():
        from modelkit import api
        from modelkit.convert.progress import Progress

        result = api.reduce(src, dst, until=until, check=check, fail_regex=fail_regex,
                            target=target, reference=reference, data=data, atol=atol,
                            rtol=rtol, limit=limit, artifacts=artifacts, timeout=timeout,
                            mode=mode, delegates=delegates, format=fmt, force=force,
                            show_logs=_state["debug"], progress=Progress())
        if as_json:
            from modelkit.cli.output import emit_json

            emit_json(result.to_dict())
            return
        for line in result.lines():
            print(line)
