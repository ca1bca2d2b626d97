"""`modelkit diff` as a user runs it: exit codes, the text and JSON output, several
models, bad input, the git textconv recipe, and agreement with `transform --json`.

Oracles: planted edits (tests/diff/planting.py), diff(1)'s exit codes, git's own
`git diff` through the documented recipe, and the pass report of `transform --json`.
"""

from __future__ import annotations

import json
import os
import shlex
import shutil
import subprocess
from collections import Counter

import numpy as np
import pytest

import modelkit
from modelkit.ir import ArrayData, DType, Node, Value
from modelkit.ir.edit import add_node
from tests.conftest import MODELKIT, SAMPLES, run_cli
from tests.diff.planting import tflite_attribute, tflite_weight_element

FLOAT = str(SAMPLES / "digits_float.tflite")
INT8 = str(SAMPLES / "digits_int8.tflite")
FROZEN = str(SAMPLES / "digits_frozen.pb")


def _edited(tmp_path, edit, src=FLOAT, name="edited.tflite") -> str:
    model = modelkit.load(src)
    edit(model)
    out = tmp_path / name
    modelkit.save(model, out)
    return str(out)


@pytest.fixture(scope="module")
def weight_edit(tmp_path_factory):
    return _edited(tmp_path_factory.mktemp("weight"), tflite_weight_element)


@pytest.fixture(scope="module")
def attr_edit(tmp_path_factory):
    return _edited(tmp_path_factory.mktemp("attr"), tflite_attribute)


# -- exit codes ---------------------------------------------------------------------

def test_same_model_exits_0_with_no_change_lines(tmp_path):
    copy = tmp_path / "copy.tflite"
    modelkit.save(modelkit.load(FLOAT), copy)
    res = run_cli("diff", FLOAT, str(copy))
    assert res.returncode == 0, res.stderr
    lines = res.stdout.splitlines()
    assert lines[0] == f"--- {FLOAT} (tflite)" and lines[1] == f"+++ {copy} (tflite)"
    assert lines[2].startswith(" no changes;") and len(lines) == 3


def test_different_models_exit_1(weight_edit):
    res = run_cli("diff", FLOAT, weight_edit)
    assert res.returncode == 1, res.stderr
    assert res.stderr == ""


@pytest.mark.parametrize("args,message", [
    ((FLOAT,), "at least two models"),
    ((FLOAT, FLOAT, "--graph", "3"), "--graph 3 is out of range"),
    (("--textconv", FLOAT, FLOAT), "--textconv takes exactly one model"),
])
def test_usage_errors_exit_2(args, message):
    res = run_cli("diff", *args)
    assert res.returncode == 2
    assert message in res.stderr and "Traceback" not in res.stderr


def test_missing_and_truncated_files_exit_3_naming_the_file(tmp_path):
    res = run_cli("diff", FLOAT, str(tmp_path / "missing.tflite"))
    assert res.returncode == 3
    assert res.stderr.startswith(f"modelkit: error: {tmp_path / 'missing.tflite'}: ")
    bad = tmp_path / "truncated.tflite"
    bad.write_bytes((SAMPLES / "digits_int8.tflite").read_bytes()[:300])
    res = run_cli("diff", str(bad), INT8)
    assert res.returncode == 3
    assert res.stderr.startswith(f"modelkit: error: {bad}: ") and res.stdout == ""


def test_corrupt_constant_found_while_comparing_names_its_file(tmp_path):
    from modelkit.formats._tfproto import pb

    gd = pb().graph.GraphDef()
    gd.ParseFromString((SAMPLES / "digits_frozen.pb").read_bytes())
    node = next(n for n in gd.node if n.name == "conv1/kernel")
    tensor = node.attr["value"].tensor
    tensor.tensor_content = tensor.tensor_content[:100]
    bad = tmp_path / "corrupt.pb"
    bad.write_bytes(gd.SerializeToString())
    res = run_cli("diff", FROZEN, str(bad))
    assert res.returncode == 3
    assert res.stderr.splitlines() == [
        f"modelkit: error: {bad}: corrupt constant tensor data (tensor_content holds 25 "
        "values, shape needs 72)"]
    # Without weights nothing reads the data: the structure is the same.
    assert run_cli("diff", "--no-weights", FROZEN, str(bad)).returncode == 0


# -- output -------------------------------------------------------------------------

def test_text_is_one_line_per_change_with_its_location(attr_edit):
    res = run_cli("diff", FLOAT, attr_edit)
    lines = res.stdout.splitlines()
    softmax = next(n for n in modelkit.load(FLOAT).main.nodes if n.op == "SOFTMAX")
    assert len(lines) == 4
    assert lines[2] == f"~ node 0:{softmax.index} SOFTMAX '{softmax.name}': attrs.beta 1.0 -> 2.0"
    assert lines[3].startswith(" 1 change: node ~1; nodes 10 -> 10; parameters 6221 -> 6221")
    assert run_cli("diff", FLOAT, attr_edit).stdout == res.stdout


def test_json_contract(weight_edit):
    res = run_cli("diff", "--json", FLOAT, weight_edit)
    assert res.returncode == 1
    doc = json.loads(res.stdout)
    assert doc["schema_version"] == 1 and doc["same"] is False
    assert doc["a"] == {"path": FLOAT, "format": "tflite", "graphs": 1}
    (change,) = doc["changes"]
    assert set(change) == {"kind", "what", "graph", "a", "b", "fields", "details"}
    assert (change["kind"], change["what"], change["fields"]) == ("changed", "tensor",
                                                                  ["weights"])
    model = modelkit.load(FLOAT)
    w = next(n for n in model.main.nodes if n.op == "CONV_2D" and n.index == 1).inputs[1]
    assert change["a"] == {"graph": 0, "index": w.index, "name": w.name}
    stats = change["details"]["weights"]
    assert stats["changed"] == 1 and stats["elements"] == w.data.size
    assert stats["max_abs_diff"] == pytest.approx(0.125, rel=1e-6)
    assert doc["summary"]["counts"] == {"tensor": {"added": 0, "removed": 0, "changed": 1}}


def test_json_nodes_added_and_removed_have_null_sides(tmp_path):
    res = run_cli("diff", "--json", FLOAT, str(SAMPLES / "digits_int16x8.tflite"))
    doc = json.loads(res.stdout)
    added = [c for c in doc["changes"] if c["kind"] == "added"]
    assert sorted(c["b"]["op"] for c in added) == ["DEQUANTIZE", "QUANTIZE"]
    assert all(c["a"] is None and c["fields"] == [] for c in added)
    assert doc["summary"]["ops"] == {"DEQUANTIZE": 1, "QUANTIZE": 1}
    changed = [c for c in doc["changes"] if c["what"] == "node" and c["kind"] == "changed"]
    assert all(set(c["a"]) == {"graph", "index", "name", "op"} for c in changed)


def test_several_models_compare_each_step(attr_edit, weight_edit):
    res = run_cli("diff", FLOAT, attr_edit, weight_edit)
    assert res.returncode == 1
    lines = res.stdout.splitlines()
    assert [ln for ln in lines if ln.startswith("---")] == [f"--- {FLOAT} (tflite)",
                                                           f"--- {attr_edit} (tflite)"]
    assert len([ln for ln in lines if ln.startswith(" ") and "change" in ln]) == 2
    doc = json.loads(run_cli("diff", "--json", FLOAT, attr_edit, weight_edit).stdout)
    assert doc["models"] == [FLOAT, attr_edit, weight_edit]
    assert [len(s["changes"]) for s in doc["steps"]] == [1, 2]
    assert run_cli("diff", FLOAT, FLOAT, FLOAT).returncode == 0


def test_unrelated_models_still_get_a_report():
    res = run_cli("diff", str(SAMPLES / "control_flow.tflite"), FLOAT)
    assert res.returncode == 1 and "Traceback" not in res.stderr
    lines = res.stdout.splitlines()
    assert any(ln.startswith("# graph 0 (gate) and graph 0 (main): nothing matched")
               for ln in lines)
    main = modelkit.load(FLOAT).main
    assert len([ln for ln in lines if ln.startswith("+ node 0:")]) == len(main.nodes)
    assert len([ln for ln in lines if ln.startswith("- graph ")]) == 5


def test_graph_option_compares_one_graph():
    cf = str(SAMPLES / "control_flow.tflite")
    res = run_cli("diff", "--graph", "4", "--json", cf, cf)
    doc = json.loads(res.stdout)
    assert res.returncode == 0 and [(g["a"], g["b"]) for g in doc["graphs"]] == [(4, 4)]


# -- transform agreement ----------------------------------------------------------------

def _dangling(tmp_path) -> str:
    """digits_frozen.pb plus a Const and an Identity nothing reads."""
    model = modelkit.load(FROZEN)
    g = model.main
    data = ArrayData(np.ones(3, np.float32))
    c = Value("unused/const:0", DType.FLOAT32, (3,), data=data)
    add_node(g, Node("unused/const", "Const", "tf", outputs=[c],
                     attrs={"dtype": DType.FLOAT32, "value": data},
                     meta={"tf_attr_kinds": {"dtype": "type", "value": "tensor"}}))
    r = Value("unused/read:0", DType.FLOAT32, None)
    add_node(g, Node("unused/read", "Identity", "tf", inputs=[c], outputs=[r],
                     attrs={"T": DType.FLOAT32}, meta={"tf_attr_kinds": {"T": "type"}}))
    out = tmp_path / "dangling.pb"
    modelkit.save(model, out)
    return str(out)


@pytest.mark.parametrize("spec", ["remove_nodes(op=Identity)", "strip_unused_nodes",
                                  "strip_unused_nodes remove_nodes(op=Identity)"])
def test_node_changes_agree_with_the_transform_report(tmp_path, spec):
    src = _dangling(tmp_path)
    dst = str(tmp_path / "out.pb")
    res = run_cli("transform", src, dst, "-t", spec, "--inputs", "input", "--outputs",
                  "probs", "--json")
    assert res.returncode == 0, res.stderr
    report = json.loads(res.stdout)
    delta: Counter = Counter()
    for p in report["passes"]:
        delta.update(p["op_delta"])
    res = run_cli("diff", "--json", src, dst)
    doc = json.loads(res.stdout)
    nodes = [c for c in doc["changes"] if c["what"] == "node"]
    ours: Counter = Counter()
    for c in nodes:
        if c["kind"] == "removed":
            ours[c["a"]["op"]] -= 1
        elif c["kind"] == "added":
            ours[c["b"]["op"]] += 1
    assert +ours == +delta and -ours == -delta
    assert [c for c in nodes if c["kind"] == "changed"] == []
    removed = sum(1 for c in nodes if c["kind"] == "removed")
    assert removed == report["nodes_before"] - report["nodes_after"]


# -- git ------------------------------------------------------------------------------

def test_textconv_is_stable_and_names_no_path(tmp_path):
    copy = tmp_path / "copy.tflite"
    shutil.copyfile(FLOAT, copy)
    a = run_cli("diff", "--textconv", FLOAT)
    b = run_cli("diff", "--textconv", str(copy))
    assert a.returncode == 0 and a.stdout == b.stdout
    assert "copy.tflite" not in b.stdout and "digits_float" not in a.stdout
    model = modelkit.load(FLOAT)
    assert sum(ln.startswith("node 0:") for ln in a.stdout.splitlines()) == len(model.main.nodes)


def test_git_diff_shows_what_changed_through_the_recipe(tmp_path, attr_edit):
    git_exe = shutil.which("git")
    if git_exe is None:
        pytest.skip("git is not installed")
    repo = tmp_path / "repo"
    repo.mkdir()
    # NOTE: a HOME of its own, so no user or system git config takes part.
    env = {"HOME": str(tmp_path), "GIT_CONFIG_NOSYSTEM": "1", "GIT_AUTHOR_NAME": "t",
           "GIT_AUTHOR_EMAIL": "t@example.com", "GIT_COMMITTER_NAME": "t",
           "GIT_COMMITTER_EMAIL": "t@example.com", "PATH": os.environ.get("PATH", "")}

    def git(*args: str) -> subprocess.CompletedProcess:
        return subprocess.run([git_exe, *args], cwd=repo, env=env, capture_output=True,
                              text=True, timeout=120, check=True)

    git("init", "-q")
    # The recipe of docs/diff.md.
    (repo / ".gitattributes").write_text("*.tflite diff=modelkit\n")
    git("config", "diff.modelkit.textconv", f"{shlex.quote(MODELKIT)} diff --textconv")
    shutil.copyfile(FLOAT, repo / "model.tflite")
    git("add", ".")
    git("commit", "-qm", "float model")
    shutil.copyfile(attr_edit, repo / "model.tflite")
    out = git("diff", "--no-color", "-U0").stdout
    body = [ln for ln in out.splitlines() if ln[:1] in "+-" and not ln.startswith(("+++", "---"))]
    softmax = next(n for n in modelkit.load(FLOAT).main.nodes if n.op == "SOFTMAX")
    assert len(body) == 2, out
    assert body[0].startswith(f"-node 0:{softmax.index} SOFTMAX") and body[0].endswith(
        "beta=1.0; version 1")
    assert body[1].startswith(f"+node 0:{softmax.index} SOFTMAX") and body[1].endswith(
        "beta=2.0; version 1")
