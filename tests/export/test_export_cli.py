"""`modelkit export` on the command line: the format from --to and OUT's name, and bad
input: one error line, exit 2 (3 for an unreadable model), nothing written."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from modelkit.errors import UsageError
from modelkit.export import formats

from .helpers import run_export

ROOT = Path(__file__).resolve().parents[2]
SAMPLE = ROOT / "samples" / "digits_int8.tflite"


def _one_error(res, *words: str) -> str:
    lines = res.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("modelkit: error: "), res.stderr
    for w in words:
        assert w in lines[0], lines[0]
    return lines[0]


@pytest.mark.parametrize("name, to, fmt", [
    ("m.html", None, "html"), ("m.HTM", None, "html"), ("m.svg", None, "svg"),
    ("m.dot", None, "dot"), ("m.gv", None, "dot"), ("m.mmd", None, "mermaid"),
    ("m.md", None, "mermaid"), ("m.json", "model-explorer", "model-explorer"),
    ("m.json", "json", "json"), ("m.graph", "dot", "dot"), ("m.html", "html", "html"),
])
def test_the_format_follows_to_and_the_name(name, to, fmt):
    assert formats.resolve(name, to) == fmt


@pytest.mark.parametrize("name, to, words", [
    ("m.json", None, "say --to model-explorer or --to json"),
    ("m.pdf", None, "cannot tell the format"),
    ("m", None, "no extension"),
    ("m.html", "svg", "--to svg, but the name says html"),
    ("m.json", "html", "ends in .json"),
    ("m.html", "png", "unknown --to 'png'; choose one of html, svg, dot, mermaid"),
])
def test_a_format_that_cannot_be_told_is_a_usage_error(name, to, words):
    with pytest.raises(UsageError, match=words.replace("(", r"\(").replace(".", r"\.")):
        formats.resolve(name, to)


def test_each_format_is_written_and_reported(tmp_path):
    for name in ("m.html", "m.svg", "m.dot", "m.mmd"):
        res = run_export(SAMPLE, tmp_path / name)
        assert res.exit_code == 0, res.stderr
        assert f"wrote {tmp_path / name}" in res.stderr and res.stdout == ""
    res = run_export(SAMPLE, tmp_path / "me.json", "--to", "model-explorer")
    assert res.exit_code == 0 and "graphs" in json.loads((tmp_path / "me.json").read_text())
    res = run_export(SAMPLE, tmp_path / "own.json", "--to", "json")
    assert json.loads((tmp_path / "own.json").read_text())["schema_version"] == 1


def test_unknown_to_and_json_without_to_exit_2_and_write_nothing(tmp_path):
    res = run_export(SAMPLE, tmp_path / "m.html", "--to", "pdf")
    assert res.exit_code == 2
    _one_error(res, "unknown --to 'pdf'")
    res = run_export(SAMPLE, tmp_path / "m.json")
    assert res.exit_code == 2
    _one_error(res, "m.json", "--to model-explorer or --to json")
    assert list(tmp_path.iterdir()) == []


def test_unwritable_out_exits_2_with_one_line_and_leaves_nothing(tmp_path):
    blocker = tmp_path / "file"
    blocker.write_text("not a folder")
    res = run_export(SAMPLE, blocker / "m.html")
    assert res.exit_code == 2
    _one_error(res, "is not a folder")
    folder = tmp_path / "folder.html"
    folder.mkdir()
    res = run_export(SAMPLE, folder)
    assert res.exit_code == 2
    _one_error(res, "is a folder")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["file", "folder.html"]
    assert list(folder.iterdir()) == []


def test_an_existing_out_is_replaced_only_with_force(tmp_path):
    out = tmp_path / "m.html"
    out.write_text("mine")
    res = run_export(SAMPLE, out)
    assert res.exit_code == 2
    _one_error(res, "already exists; pass --force")
    assert out.read_text() == "mine"
    res = run_export(SAMPLE, out, "--force")
    assert res.exit_code == 0 and out.read_text().startswith("<!DOCTYPE html>")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["m.html"]


def test_the_input_is_never_the_output(tmp_path):
    model = tmp_path / "m.svg"
    model.write_bytes(SAMPLE.read_bytes())
    res = run_export(model, model, "--force", "--from", "tflite")
    assert res.exit_code == 2
    _one_error(res, "the output is the input")
    assert model.read_bytes() == SAMPLE.read_bytes()


def test_overlay_of_another_model_exits_2_and_says_how_many_matched(tmp_path):
    overlay = tmp_path / "debug.json"
    overlay.write_text(json.dumps({"schema_version": 1, "model": "other.tflite", "layers": [
        {"graph": 0, "node": 0, "node_name": "not in this model", "tensor_name": "x"},
        {"graph": 0, "node": 99, "node_name": "nor this", "tensor_name": "y"}]}))
    res = run_export(SAMPLE, tmp_path / "m.html", "--overlay", overlay)
    assert res.exit_code == 2
    _one_error(res, str(overlay), "0 of the overlay's 2 layers match", "other.tflite")
    assert not (tmp_path / "m.html").exists()


def test_an_overlay_that_partly_matches_is_a_warning_with_the_count(tmp_path):
    import modelkit

    model = modelkit.load(SAMPLE)
    n = model.main.nodes[0]
    overlay = tmp_path / "debug.json"
    overlay.write_text(json.dumps({"schema_version": 1, "layers": [
        {"graph": 0, "node": 0, "node_name": n.name, "op_name": n.op,
         "tensor_name": n.outputs[0].name, "rmse_scale": 0.9},
        {"graph": 0, "node": 5, "node_name": "another model's", "tensor_name": "y"}]}))
    res = run_export(SAMPLE, tmp_path / "m.html", "--overlay", overlay)
    assert res.exit_code == 0, res.stderr
    assert "warning" in res.stderr and "1 of 2 layers match a node" in res.stderr


@pytest.mark.parametrize("content, words", [
    ("{not json", "not JSON"),
    ('{"schema_version": 9, "layers": []}', "schema_version 9"),
    ('{"schema_version": 1, "layers": [{"node": "x", "node_name": "a", "tensor_name": "a"}]}',
     'layer 0 "node" is "x", not an integer'),
])
def test_a_malformed_overlay_is_one_line(tmp_path, content, words):
    overlay = tmp_path / "debug.json"
    overlay.write_text(content)
    res = run_export(SAMPLE, tmp_path / "m.html", "--overlay", overlay)
    assert res.exit_code == 2
    _one_error(res, str(overlay), words)
    assert not (tmp_path / "m.html").exists()


def test_bad_target_graph_and_model(tmp_path):
    from modelkit.check import TARGETS

    res = run_export(SAMPLE, tmp_path / "m.html", "--check", "nosuch")
    assert res.exit_code == 2
    line = _one_error(res, "unknown --check target 'nosuch'")
    assert all(t in line for t in TARGETS)
    res = run_export(SAMPLE, tmp_path / "m.html", "--graph", "3")
    assert res.exit_code == 2
    _one_error(res, "--graph 3 is out of range", "1 graph")
    res = run_export(tmp_path / "missing.tflite", tmp_path / "m.html")
    assert res.exit_code == 3
    _one_error(res, "missing.tflite")
    assert list(tmp_path.iterdir()) == []


def test_mermaid_refuses_a_big_graph_and_writes_nothing(tmp_path):
    import sys

    sys.path.insert(0, str(ROOT / "tests" / "tui"))
    from synth_models import chain_model

    import modelkit

    src = tmp_path / "chain.tflite"
    modelkit.save(chain_model(400), src)
    res = run_export(src, tmp_path / "m.mmd")
    assert res.exit_code == 2
    _one_error(res, "400 nodes", "too large for Mermaid", "--to html", "--graph N")
    assert not (tmp_path / "m.mmd").exists()


def test_model_explorer_outputs_are_refused_together(tmp_path):
    # The node data file's place is taken by a folder: nothing is written, not even OUT.
    (tmp_path / "m.check.nodedata.json").mkdir()
    res = run_export(SAMPLE, tmp_path / "m.json", "--to", "model-explorer", "--check", "micro")
    assert res.exit_code == 2
    _one_error(res, "m.check.nodedata.json", "is a folder")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["m.check.nodedata.json"]
    res = run_export(SAMPLE, tmp_path / "n.json", "--to", "model-explorer", "--check", "micro")
    assert res.exit_code == 0
    assert (tmp_path / "n.json").exists() and (tmp_path / "n.check.nodedata.json").exists()


def test_a_failed_write_leaves_no_output(tmp_path, monkeypatch):
    from pathlib import Path as P

    files = [(tmp_path / "m.json", "{}"), (tmp_path / "m.debug.nodedata.json", "{}")]
    real = P.write_text

    def full_disk(self, text, *a, **kw):
        if self.name == "m.debug.nodedata.json":
            raise OSError(28, "No space left on device")
        return real(self, text, *a, **kw)

    monkeypatch.setattr(P, "write_text", full_disk)
    with pytest.raises(UsageError, match="cannot write: No space left on device"):
        formats.write(files, force=False, sources=(SAMPLE,))
    # The first file was written in its temporary place, but never renamed into OUT.
    assert list(tmp_path.iterdir()) == []


def test_many_graphs_draw_graph_0_in_svg_with_a_note(tmp_path):
    src = ROOT / "samples" / "control_flow.tflite"
    if not src.exists():
        pytest.skip("no control_flow sample")
    res = run_export(src, tmp_path / "m.svg")
    assert res.exit_code == 0
    assert "graphs; drawing graph 0 (--graph N picks another)" in res.stderr
    res = run_export(src, tmp_path / "g1.svg", "--graph", "1")
    assert res.exit_code == 0 and "graph 1" in (tmp_path / "g1.svg").read_text()
