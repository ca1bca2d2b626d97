"""The `modelkit` entry point: what a start costs and what --help shows."""

from __future__ import annotations

import subprocess
import sys

from tests.conftest import SAMPLES, run_cli

_PROBE = """
import atexit, sys
def report():
    mods = sorted(m for m in sys.modules if m.startswith("modelkit.cli."))
    print(",".join(mods), "pydantic" in sys.modules, "tensorflow" in sys.modules,
          file=sys.stderr)
atexit.register(report)
sys.argv = ["modelkit"] + sys.argv[1:]
from modelkit.cli.main import main
main()
"""


def probe(*args) -> tuple[int, list[str], bool]:
    """Run the CLI's entry point on `args`: (exit code, stderr lines without the
    probe's, whether tensorflow was imported)."""
    import os

    res = subprocess.run([sys.executable, "-c", _PROBE, *map(str, args)],
                         capture_output=True, text=True, timeout=300,
                         env={**os.environ, "TF_CPP_MIN_LOG_LEVEL": "3"})
    lines = res.stderr.strip().splitlines()
    return res.returncode, lines[:-1], lines[-1].split()[-1] == "True"


def test_a_command_imports_only_its_own_module():
    res = subprocess.run([sys.executable, "-c", _PROBE, "--debug", "summarize", "--json",
                          str(SAMPLES / "digits_float.tflite")], capture_output=True, text=True)
    assert res.returncode == 0, res.stderr
    mods, pydantic, tf = res.stderr.strip().splitlines()[-1].split()
    assert set(mods.split(",")) == {"modelkit.cli.main", "modelkit.cli.summarize",
                                    "modelkit.cli.output"}
    assert (pydantic, tf) == ("False", "False")


def test_help_lists_every_command():
    from modelkit.cli.main import COMMANDS

    res = run_cli("--help")
    assert res.returncode == 0
    present = [c for c in COMMANDS if f" {c} " in res.stdout]
    assert "summarize" in present and "convert" in present
    # NOTE: an unknown command needs every module to name the known ones.
    res = run_cli("summarise", str(SAMPLES / "digits_float.tflite"))
    assert res.returncode == 2 and "No such command" in res.stderr


def test_flags_are_shown_as_flags():
    res = run_cli("summarize", "--help")
    assert res.returncode == 0
    line = next(x for x in res.stdout.splitlines() if "--json" in x)
    assert "<bool>" not in line and "Print JSON" in line
