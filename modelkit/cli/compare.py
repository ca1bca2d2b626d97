"""Run two models on the same inputs and compare their outputs with Polygraphy's
tolerance semantics.

Examples:

    modelkit compare saved_model/ model_int8.tflite --data test.npz
    modelkit compare float.tflite int8.tflite --data calib.npy --atol 0.01 --rtol 0.05
"""

from __future__ import annotations

import gc
import sys
from pathlib import Path
from typing import Optional

import typer

from modelkit.cli.main import _state, app, reporting_errors

_HELP = __doc__
SCHEMA_VERSION = 1


@app.command(help=_HELP.split("\n\n")[0] + "\n\n" + """\
Any formats (SavedModel vs its TFLite, float vs int8...). Inputs and outputs are
paired by name (ignoring ':0', 'serving_default_', '/' vs '_'), else by order.
Quantized models are compared in the float domain: inputs quantized and outputs
dequantized with each model's own parameters.

Tolerances as in Polygraphy: with B the reference, an element mismatches only
where |A - B| > atol AND |A - B| / |B| > rtol (a zero in B counts as 2.22e-16,
Polygraphy's epsilon); NaN mismatches. Exit 1 when an output mismatches;
the report names the smallest atol (at the given rtol) and rtol (at the given
atol) that would pass.""")
def compare(
    model_a: Path = typer.Argument(..., metavar="A", help="The model under test."),
    model_b: Path = typer.Argument(..., metavar="B", help="The reference model."),
    data: Path = typer.Option(..., "--data", help="Inputs: .npy, .npz or an image folder "
                              "(float domain)."),
    atol: float = typer.Option(1e-5, "--atol", help="Absolute tolerance."),
    rtol: float = typer.Option(1e-5, "--rtol", help="Relative tolerance (of |B|)."),
    mean: list[str] = typer.Option(None, "--mean", help="Normalize the inputs of both "
                                   "models first: (x - mean) / std."),
    std: list[str] = typer.Option(None, "--std", help="See --mean."),
    limit: Optional[int] = typer.Option(None, "--limit", help="Use the first N samples."),
    signature: str = typer.Option(None, "--signature", help="Signature, for both models."),
    delegates: bool = typer.Option(False, "--delegates", help="TFLite: default delegates."),
    from_a: str = typer.Option(None, "--from-a", help="Format of A, when detection fails."),
    from_b: str = typer.Option(None, "--from-b", help="Format of B, when detection fails."),
    allow_unsafe_ops: bool = typer.Option(False, "--allow-unsafe-ops", help="Run graphs "
                                          "that hold ops acting on this machine."),
    as_json: bool = typer.Option(False, "--json", help="Print the report as JSON."),
) -> None:
    """Compare the outputs of A and B on the same inputs."""
    with reporting_errors():
        from modelkit.cli.feeding import open_model, prepare_inputs
        from modelkit.convert.progress import Progress
        from modelkit.runtime.compare import check_tolerances, compare_arrays, run_pair

        check_tolerances(atol, rtol)
        progress = Progress()
        opts = dict(signature=signature, delegates=delegates,
                    allow_unsafe_ops=allow_unsafe_ops, debug=_state["debug"])
        a = open_model(model_a, from_a, **opts)
        b = open_model(model_b, from_b, **opts)
        # NOTE: the same float inputs go to both; a model's metadata normalization is
        # not applied, so that A and B see the same values.
        arrays, fed, _ = prepare_inputs(a, data, mean, std, raw=False, limit=limit,
                                        progress=progress, metadata=False)
        count = int(arrays[0].shape[0])
        with progress.counter("running both models", 2 * count) as step:
            def advance(n: int) -> None:
                for _ in range(n):
                    step()
            pairs, out_a, out_b = run_pair(a, b, arrays, progress=advance)
        results = [compare_arrays(out_a[sa.name], out_b[sb.name], atol=atol, rtol=rtol,
                                  name=sa.name, other_name=sb.name) for sa, sb in pairs]
        samples = next((int(v.shape[0]) for v in out_a.values()), 0)
        failed = [r for r in results if not r.passed]
        if as_json:
            from modelkit.cli.output import emit_json

            emit_json({"schema_version": SCHEMA_VERSION,
                       "a": {"path": str(model_a), "format": a.format},
                       "b": {"path": str(model_b), "format": b.format},
                       "data": str(data), "samples": samples, "atol": atol, "rtol": rtol,
                       "passed": not failed, "inputs": fed,
                       "outputs": [r.to_dict() for r in results]})
        else:
            for line in _lines(model_a, a.format, model_b, b.format, samples, str(data),
                               results, atol, rtol):
                print(line)
        sys.stdout.flush()
        gc.freeze()
        if failed:
            raise typer.Exit(1)


def _lines(path_a: Path, fmt_a: str, path_b: Path, fmt_b: str, samples: int, data: str,
           results: list, atol: float, rtol: float) -> list[str]:
    """The human report."""
    import math

    from modelkit.runtime.compare import REL_EPS

    out = [f"A: {path_a} ({fmt_a})", f"B: {path_b} ({fmt_b}, reference)",
           f"compared on {samples} samples from {data}; tolerance atol={atol:g}, rtol={rtol:g}"]
    for r in results:
        name = r.name if r.name == r.other_name else f"{r.name} <-> {r.other_name}"
        verdict = "PASSED" if r.passed else (f"FAILED: {r.mismatches} of {r.elements} "
                                            "elements exceed both tolerances")
        out.append(f"output {name}: {verdict}")
        out.append(f"  max abs error {r.max_abs_error:.6g}, mean abs error "
                   f"{r.mean_abs_error:.6g}, rmse {r.rmse:.6g}")
        zero = f" (B is 0 there: |A - B| / {REL_EPS:.3g})" if r.max_rel_error_at_zero else ""
        line = (f"  max rel error {r.max_rel_error:.6g}{zero}, cosine similarity "
                f"{r.cosine_similarity:.6f}")
        if r.top1_agreement is not None:
            line += f", top-1 agreement {100 * r.top1_agreement:.2f}%"
        out.append(line)
        if math.isinf(r.required_atol) and math.isinf(r.required_rtol):
            out.append("  no tolerance passes: NaN in the differences")
        else:
            out.append(f"  passes with --atol {r.required_atol:.6g} (at rtol {rtol:g}) or "
                       f"--rtol {r.required_rtol:.6g} (at atol {atol:g})")
        if r.nan_or_inf:
            out.append(f"  NaN or Inf in the outputs: {r.nonfinite_a} values of A, "
                       f"{r.nonfinite_b} of B")
    return out
