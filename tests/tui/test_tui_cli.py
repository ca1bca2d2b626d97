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
