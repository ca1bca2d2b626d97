"""`modelkit --version` / `-V`: the installed version, at once, without TensorFlow."""

from __future__ import annotations

import re
import subprocess
import sys
from importlib.metadata import version

import pytest

from tests.conftest import ROOT, run_cli

_PROBE = """
import atexit, sys
def report():
    mods = sorted(m for m in sys.modules if m.startswith("modelkit.cli."))
    print(",".join(mods), "tensorflow" in sys.modules, file=sys.stderr)
atexit.register(report)
sys.argv = ["modelkit"] + sys.argv[1:]
from modelkit.cli.main import main
main()
"""


@pytest.mark.parametrize("flag", ["--version", "-V"])
def test_version_prints_the_installed_version(flag):
    res = run_cli(flag)
    assert res.returncode == 0, res.stderr
    assert res.stdout == f"modelkit {version('modelkit')}\n"
    # The installed metadata is the project's own version.
    declared = re.search(r'^version = "([^"]+)"', (ROOT / "pyproject.toml").read_text(), re.M)
    assert res.stdout.split() == ["modelkit", declared.group(1)]
    assert res.stderr == ""


def test_version_imports_no_command_and_no_tensorflow():
    res = subprocess.run([sys.executable, "-c", _PROBE, "--version"], capture_output=True,
                         text=True, timeout=60)
    assert res.returncode == 0, res.stderr
    assert res.stdout.startswith("modelkit ")
    mods, tf = res.stderr.strip().splitlines()[-1].split()
    assert mods == "modelkit.cli.main" and tf == "False"
