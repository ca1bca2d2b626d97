"""`modelkit browse` on the command line: bad files fail before the app starts; light imports."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

MODELKIT = str(Path(sys.executable).with_name("modelkit"))


def _browse(path: Path, *args: str) -> subprocess.CompletedProcess:
    # NOTE: stdin is not a terminal and the timeout is short: an app that started
    # would hang or draw to stdout, and the test would fail either way.
    env = {**os.environ, "TERM": "xterm-256color"}
    return subprocess.run([MODELKIT, "browse", str(path), *args], capture_output=True,
                          text=True, timeout=60, stdin=subprocess.DEVNULL, env=env)


@pytest.mark.parametrize("name, content", [
    ("corrupted.tflite", b"\x10\x00\x00\x00TFL3" + b"\xff" * 40),
    ("unknown.bin", b"this is not a model at all\n" * 4),
    ("empty.tflite", b""),
])
def test_bad_file_exits_3_with_one_line_and_no_app(tmp_path, name, content, sample_path):
    path = tmp_path / name
    path.write_bytes(content)
    r = _browse(path)
    assert r.returncode == 3
    lines = r.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("modelkit: error: ")
    assert str(path) in lines[0]
    # Nothing drawn: no escape sequences of a started terminal app.
    assert r.stdout == "" and "\x1b[" not in r.stderr


def test_missing_file_and_wrong_forced_format(tmp_path, sample_path):
    r = _browse(tmp_path / "nope.tflite")
    assert r.returncode == 3 and "no such file" in r.stderr and r.stdout == ""
    r = _browse(sample_path, "--from", "nosuchformat")
    assert r.returncode == 2 and len(r.stderr.strip().splitlines()) == 1


def test_modelkit_and_other_commands_do_not_import_textual():
    code = ("import sys, modelkit, modelkit.cli.main as m; m._register(); "
            "bad = sorted(k for k in sys.modules if k.split('.')[0] in ('textual', 'tui')); "
            "print(bad)")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         timeout=60, check=True).stdout
    assert out.strip() == "[]"


@pytest.mark.parametrize("content, words", [
    ("{not json", "not JSON"),
    ('{"schema_version": 9, "layers": []}', "schema_version 9"),
    ('{"schema_version": 1}', 'no "layers" list'),
    ('{"layers": [1, 2, 3]}', 'no "schema_version"'),
    ('{"schema_version": 1, "layers": [1, 2, 3]}', "layer 0 is 1, not an object"),
    ('{"schema_version": 1, "layers": [{"node": "conv", "node_name": "a", "tensor_name": ""}]}',
     'layer 0 "node" is "conv", not an integer'),
    ('{"schema_version": 1, "layers": [{"node": 0, "node_name": "a", "tensor_name": "a", '
     '"rmse_scale": "high"}]}', 'layer 0 "rmse_scale" is "high", not a number'),
    ('{"schema_version": 1, "layers": [{"node_name": "a", "tensor_name": "a"}]}',
     'layer 0 has no "node"'),
])
def test_malformed_overlay_exits_2_with_one_line_and_no_app(tmp_path, sample_path, content,
                                                            words):
    overlay = tmp_path / "debug.json"
    overlay.write_text(content)
    r = _browse(sample_path, "--overlay", str(overlay))
    assert r.returncode == 2, r.stderr
    lines = r.stderr.strip().splitlines()
    assert len(lines) == 1 and str(overlay) in lines[0] and words in lines[0], lines
    assert r.stdout == "" and "\x1b[" not in r.stderr


def test_overlay_of_another_model_and_unknown_target(tmp_path, sample_path):
    overlay = tmp_path / "debug.json"
    overlay.write_text('{"schema_version": 1, "layers": [{"graph": 0, "node": 99, '
                       '"node_name": "not in this model", "tensor_name": ""}]}')
    r = _browse(sample_path, "--overlay", str(overlay))
    assert r.returncode == 2 and "another model" in r.stderr and r.stdout == ""
    check = pytest.importorskip("modelkit.check")
    r = _browse(sample_path, "--target", "nosuchtarget")
    assert r.returncode == 2 and len(r.stderr.strip().splitlines()) == 1
    for t in check.TARGETS:
        assert t in r.stderr


def _browse_in_process(monkeypatch, *args: str, run=None):
    """`modelkit browse ARGS` in this process, `ModelBrowser.run` replaced by `run`
    (by default: no app, so only what happens around it is seen)."""
    from typer.testing import CliRunner

    from modelkit.cli.main import _register, app
    from tui.app import ModelBrowser

    _register("browse")
    started = []

    def no_app(self, *a, **kw):
        started.append(self)

    monkeypatch.setattr(ModelBrowser, "run", run or no_app)
    return CliRunner().invoke(app, ["browse", *map(str, args)]), started


def test_a_crash_of_the_app_exits_1_with_one_line(monkeypatch, sample_path):
    import functools

    from textual.app import App

    from tui.widgets.details import DetailsView

    def broken(self, page):
        raise ValueError("range() arg 3 must not be zero")

    monkeypatch.setattr(DetailsView, "show", broken)
    headless = functools.partialmethod(App.run, headless=True, size=(80, 24))
    r, _ = _browse_in_process(monkeypatch, sample_path, "--graph", run=headless)
    assert r.exit_code == 1, r.output
    lines = r.stderr.strip().splitlines()
    assert len(lines) == 1, lines
    assert lines[0].startswith(f"modelkit: error: {sample_path}: the browser stopped")
    assert "ValueError: range() arg 3 must not be zero" in lines[0]


def test_q_ends_the_app_with_exit_0(monkeypatch, sample_path):
    import functools
    import gc

    from textual.app import App

    async def quit_at_once(pilot):
        await pilot.pause()
        await pilot.press("q")

    headless = functools.partialmethod(App.run, headless=True, size=(40, 12),
                                       auto_pilot=quit_at_once)
    r, _ = _browse_in_process(monkeypatch, sample_path, "--graph", run=headless)
    assert r.exit_code == 0 and r.stderr == "", r.stderr
    # The garbage collector, off until the first screen, is back as it was.
    assert gc.isenabled() and gc.get_freeze_count() == 0


@pytest.mark.parametrize("other", ["digits_int16x8.tflite", "digits_uint8_legacy.tflite"])
def test_overlay_of_the_int8_sample_on_another_model_exits_2(sample_path, other):
    """The committed debug report of digits_int8.tflite: every layer names an op by its
    index, name and type. The int16x8 model has a QUANTIZE op first (every index one
    further on; its tensors have the same names), the legacy uint8 model other names:
    no layer matches, which is an error, not an empty overlay."""
    from conftest import HERE, ROOT

    overlay = HERE / "data" / "digits_int8_debug.json"
    r = _browse(ROOT / "samples" / other, "--overlay", str(overlay))
    assert r.returncode == 2, r.stderr
    lines = r.stderr.strip().splitlines()
    assert len(lines) == 1 and str(overlay) in lines[0]
    assert "none of the overlay's 7 layers matches a node of the model" in lines[0]
    assert "another model (samples/digits_int8.tflite)" in lines[0]
    assert r.stdout == "" and "\x1b[" not in r.stderr


def test_overlay_match_is_reported_on_stderr(monkeypatch, tmp_path, sample_path):
    import json

    from conftest import HERE, ROOT

    overlay = HERE / "data" / "digits_int8_debug.json"
    r, started = _browse_in_process(monkeypatch, sample_path, "--overlay", overlay)
    assert r.exit_code == 0 and len(started) == 1
    assert r.stderr.strip() == (f"modelkit: note: {overlay}: 7 of 7 layers of the overlay "
                                "match a node of the model")
    # The float model has the same ops, names and order: all match, and the note says
    # which model the file measured.
    r, started = _browse_in_process(monkeypatch, ROOT / "samples" / "digits_float.tflite",
                                    "--overlay", overlay)
    assert r.exit_code == 0 and len(started) == 1
    assert r.stderr.strip().endswith("7 of 7 layers of the overlay match a node of the "
                                     "model; it was written for samples/digits_int8.tflite")
    # Two layers renamed: a warning, and the app opens with the other five.
    doc = json.loads(overlay.read_text())
    doc["layers"][0]["node_name"] = "renamed"
    doc["layers"][3]["op_name"] = "ADD"
    partial = tmp_path / "partial.json"
    partial.write_text(json.dumps(doc))
    r, started = _browse_in_process(monkeypatch, sample_path, "--overlay", partial)
    assert r.exit_code == 0 and len(started) == 1
    assert r.stderr.strip() == (f"modelkit: warning: {partial}: 5 of 7 layers of the overlay "
                                "match a node of the model; the other 2 (another model's?) "
                                "are not shown")
    debug = started[0].overlays.debug
    assert debug.of_node(0, doc["layers"][0]["node"]) is None
    assert debug.of_node(0, doc["layers"][1]["node"]) == doc["layers"][1]
