"""The documentation: the API reference builds from the docstrings with every warning
an error, names every function of `modelkit.api`, and the walkthrough's Python blocks
run in order and hold the values they state (accuracies from samples/accuracy.json,
which TensorFlow and LiteRT measured when the samples were made)."""

from __future__ import annotations

import re
import subprocess
import sys
import tempfile

import modelkit.api as mk
from tests.conftest import ROOT

WALKTHROUGH = ROOT / "docs" / "walkthrough.md"


def test_reference_builds_strictly_and_names_every_function(tmp_path):
    site = tmp_path / "site"
    res = subprocess.run([sys.executable, "-m", "mkdocs", "build", "--strict", "-f",
                          str(ROOT / "mkdocs.yml"), "-d", str(site)],
                         cwd=ROOT, capture_output=True, text=True, timeout=300)
    assert res.returncode == 0, res.stderr
    page = (site / "api.html").read_text()
    functions = [name for name in mk.__all__ if name[0].islower()]
    assert len(functions) == 13
    for name in functions:
        assert f'id="modelkit.api.{name}"' in page, name
    for name in (n for n in mk.__all__ if n[0].isupper()):
        module = getattr(mk, name).__module__
        assert f'id="{module}.{name}"' in page, name


def test_walkthrough_runs_as_written(tmp_path, monkeypatch):
    blocks = re.findall(r"^```python\n(.*?)^```", WALKTHROUGH.read_text(), re.S | re.M)
    assert len(blocks) >= 10
    assert sum(b.count("assert ") for b in blocks) >= 20
    monkeypatch.chdir(ROOT)
    monkeypatch.setattr(tempfile, "tempdir", str(tmp_path))
    namespace: dict = {}
    for i, block in enumerate(blocks):
        exec(compile(block, f"{WALKTHROUGH.name}, python block {i + 1}", "exec"), namespace)
    # The files it wrote are under its own folder.
    assert namespace["work"].parent == tmp_path
    assert (namespace["work"] / "fixed.tflite").is_file()
