"""`modelkit convert --max-drop/--min-sqnr/--recipe`: the precision search and recipes,
printed as `convert` prints (report on stdout, progress on stderr)."""

from __future__ import annotations

import gc
import sys

from modelkit.cli.output import emit_json


def _print(result, as_json: bool) -> None:
    if as_json:
        emit_json(result.to_dict())
    else:
        for line in result.lines():
            print(line)
    sys.stdout.flush()


def run(opts, adv, as_json: bool) -> None:
    """Run the search (or apply a recipe) and print its report; when no model keeps the
    budget the report is printed, then the error is raised (exit 1, nothing written).

    Raises:
        ModelkitError: as `modelkit.advisor.advise.advise` and `apply_recipe`.
    """
    from modelkit import interrupts
    from modelkit.advisor.advise import BudgetError, advise, apply_recipe

    with interrupts.recording():
        if adv.recipe is not None:
            _print(apply_recipe(opts, adv.recipe), as_json)
            return
        try:
            report = advise(opts, adv)
        except BudgetError as e:
            interrupts.check()
            report = getattr(e, "report", None)
            if report is not None:
                _print(report, as_json)
            raise
    _print(report, as_json)
    # NOTE: as convert: TensorFlow's heap makes the exit-time collection slow.
    gc.freeze()
