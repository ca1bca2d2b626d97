"""`modelkit reduce` on a 220-op int8 model with one broken op: the result holds the
broken op and still fails when the interpreter runs it again (the oracle), within
the promised number of condition runs."""

from __future__ import annotations

import json
import math
import os
import signal
import subprocess
import sys

import numpy as np
import pytest

from tests.conftest import MODELKIT, ROOT, SAMPLES, run_cli


def _interpreter(path, preserve=False):
    from ai_edge_litert.interpreter import Interpreter, OpResolverType

    return Interpreter(model_path=str(path), experimental_preserve_all_tensors=preserve,
                       experimental_op_resolver_type=OpResolverType
                       .BUILTIN_WITHOUT_DEFAULT_DELEGATES)


def _op_output_names(path) -> list[str]:
    """Per op of the file, the name of its first output (the interpreter's view)."""
    it = _interpreter(path)
    names = {t["index"]: t["name"] for t in it.get_tensor_details()}
    return [names[int(op["outputs"][0])] for op in it._get_ops_details()]


def _bound(report) -> int:
    return 2 * math.ceil(math.log2(report["original_op_count"])) + report["ops_after_bisect"]


def _reduce_json(*args, timeout=300):
    res = run_cli("reduce", *args, "--json", timeout=timeout)
    assert res.returncode == 0, res.stderr
    return json.loads(res.stdout), res


def test_refusal_reduces_to_the_refused_op(deep, tmp_path):
    dst = tmp_path / "small.tflite"
    report, res = _reduce_json(str(deep["refused"]), str(dst), "--until", "refused")
    assert report["original_op_count"] == deep["ops"] == 220
    assert 1 <= report["op_count"] <= 3
    kept = {o["index"]: o for o in report["original_ops"]}
    assert deep["faulty"] in kept
    src_names = _op_output_names(deep["refused"])
    assert kept[deep["faulty"]]["op"] == "FULLY_CONNECTED"
    assert kept[deep["faulty"]]["names"] == src_names[deep["faulty"]].split(";")
    assert report["runs"] <= _bound(report)
    assert report["runs"] == len(report["iterations"])
    # the oracle: the interpreter refuses the written model for the same reason
    it = _interpreter(dst)
    with pytest.raises(RuntimeError, match=r"scale_diff / output_scale <= 0\.02"):
        it.allocate_tensors()
    assert len(it._get_ops_details()) == report["op_count"]
    assert src_names[deep["faulty"]] in _op_output_names(dst)
    assert "scale_diff / output_scale <= 0.02" in report["message"]
    assert report["iterations"][0]["stage"] == "original"
    assert {it["verdict"] for it in report["iterations"]} == {"fail", "pass"}
    # the whole model is refused: the cut inputs got generated values, and the log says so
    assert "generated" in report["values"] and "seed 0" in report["values"]


def test_mismatch_reduces_to_the_wrong_op_and_reproduces(deep, tmp_path):
    dst = tmp_path / "small.tflite"
    atol = 1.0
    report, _ = _reduce_json(str(deep["wrong"]), str(dst), "--until", "mismatch",
                             "--reference", str(deep["float"]), "--data", str(deep["calib"]),
                             "--atol", str(atol))
    assert 1 <= report["op_count"] <= 3
    assert deep["faulty"] in [o["index"] for o in report["original_ops"]]
    assert report["runs"] <= _bound(report)
    assert report["values"].startswith(str(deep["calib"]))

    # the oracle: the whole wrong model and the float model, every tensor kept, on the
    # first calibration sample; the cut model fed the whole model's values
    x = np.load(deep["calib"])[:1]
    whole = _interpreter(deep["wrong"], preserve=True)
    whole.allocate_tensors()
    d = whole.get_input_details()[0]
    scale, zp = d["quantization"]
    whole.set_tensor(d["index"], np.clip(np.round(x / scale) + zp, -128, 127).astype(np.int8))
    whole.invoke()
    by_name = {t["name"]: t for t in whole.get_tensor_details()}
    ref = _interpreter(deep["float"], preserve=True)
    ref.allocate_tensors()
    ref.set_tensor(ref.get_input_details()[0]["index"], x)
    ref.invoke()
    ref_by_name = {t["name"]: t["index"] for t in ref.get_tensor_details()}

    cut = _interpreter(dst)
    cut.allocate_tensors()
    for d in cut.get_input_details():
        cut.set_tensor(d["index"], whole.get_tensor(by_name[d["name"]]["index"]))
    cut.invoke()
    worst = 0.0
    for d in cut.get_output_details():
        got = cut.get_tensor(d["index"])
        # the cut computes exactly what the whole model computes there
        np.testing.assert_array_equal(got, whole.get_tensor(by_name[d["name"]]["index"]))
        s, z = d["quantization"]
        real = (got.astype(np.float64) - z) * s
        worst = max(worst, float(np.abs(real - ref.get_tensor(ref_by_name[d["name"]])).max()))
    # and it still differs from the float model beyond the tolerance
    assert worst > atol


def test_check_error_reduces_to_the_op_check_names(deep, tmp_path):
    dst = tmp_path / "small.tflite"
    report, _ = _reduce_json(str(deep["refused"]), str(dst), "--until", "check-error")
    assert [o["index"] for o in report["original_ops"]] == [deep["faulty"]]
    assert report["runs"] <= _bound(report)
    assert report["values"].startswith("none")
    res = run_cli("check", str(dst), "--json")
    assert res.returncode == 4
    findings = json.loads(res.stdout)["findings"]
    assert [f["rule"] for f in findings if f["severity"] == "error"] == ["bias-scale"]


def _broken_digits(tmp_path):
    sys.path.insert(0, str(ROOT))
    from tests.data.make_broken_models import fc_bias_per_tensor

    import modelkit

    path = tmp_path / "fc_bias.tflite"
    modelkit.save(fc_bias_per_tensor(), path)
    return path


CHECK_SCRIPT = """\
import sys
import numpy as np
from ai_edge_litert.interpreter import Interpreter, OpResolverType
it = Interpreter(model_path=sys.argv[1],
                 experimental_op_resolver_type=OpResolverType.BUILTIN_WITHOUT_DEFAULT_DELEGATES)
it.allocate_tensors()
values = np.load(sys.argv[2])
for d in it.get_input_details():
    it.set_tensor(d["index"], values[d["name"]])
it.invoke()  # an op whose input shape is computed is prepared here
print("ran")
"""


def test_check_command_with_fail_regex_and_artifacts(tmp_path):
    src = _broken_digits(tmp_path)
    script = tmp_path / "check.py"
    script.write_text(CHECK_SCRIPT)
    dst, art = tmp_path / "small.tflite", tmp_path / "art"
    # {inputs}: the values reduce feeds the model (the whole model's, at the cuts)
    report, _ = _reduce_json(str(src), str(dst), "--check",
                             f"{sys.executable} {script} {{model}} {{inputs}}",
                             "--fail-regex", r"output_scale <= 0\.02", "--artifacts", str(art))
    # digits FC 8 (the second FULLY_CONNECTED) is the refused op
    assert [(o["index"], o["op"]) for o in report["original_ops"]] == [(8, "FULLY_CONNECTED")]
    assert report["condition"]["kind"] == "check"
    tried = report["iterations"][1:]
    good = sorted(p.name for p in (art / "good").iterdir())
    bad = sorted(p.name for p in (art / "bad").iterdir())
    assert len(good) == sum(t["verdict"] == "pass" for t in tried)
    assert len(bad) == sum(t["verdict"] == "fail" for t in tried)
    # the models sorted as "bad" are those that hold the refused op
    logits = "digits_cnn_1/logits_1/MatMul;digits_cnn_1/logits_1/BiasAdd"
    assert all(logits in _op_output_names(art / "bad" / name) for name in bad)
    assert not any(logits in _op_output_names(art / "good" / name) for name in good)
    with pytest.raises(RuntimeError, match=r"output_scale <= 0\.02"):
        _interpreter(dst).allocate_tensors()


def test_condition_that_does_not_fail_on_src_is_exit_1_and_writes_nothing(tmp_path):
    dst = tmp_path / "small.tflite"
    res = run_cli("reduce", str(SAMPLES / "digits_int8.tflite"), str(dst), "--until", "refused")
    assert res.returncode == 1
    assert "does not fail on the model" in res.stderr
    assert "the interpreter loads and runs the model" in res.stderr
    assert not dst.exists()


def test_check_command_not_found_is_exit_2(tmp_path):
    res = run_cli("reduce", str(SAMPLES / "digits_int8.tflite"), str(tmp_path / "s.tflite"),
                  "--check", "no-such-command-here {model}")
    assert res.returncode == 2
    assert "command not found: no-such-command-here" in res.stderr


@pytest.mark.parametrize("args, text", [
    ([], "give one failure condition"),
    (["--until", "refused", "--check", "true {model}"], "give one failure condition"),
    (["--until", "broken"], "choose one of refused, check-error, mismatch"),
    (["--until", "mismatch"], "needs --reference"),
    (["--until", "refused", "--fail-regex", "("], "is not a regular expression"),
])
def test_usage_errors(tmp_path, args, text):
    res = run_cli("reduce", str(SAMPLES / "digits_int8.tflite"), str(tmp_path / "s.tflite"),
                  *args)
    assert res.returncode == 2
    assert text in res.stderr


def test_never_writes_over_the_source(tmp_path):
    src = _broken_digits(tmp_path)
    before = src.read_bytes()
    res = run_cli("reduce", str(src), str(src), "--until", "refused", "--force")
    assert res.returncode == 2
    assert src.read_bytes() == before


def test_ctrl_c_leaves_the_smallest_failing_model_so_far(tmp_path):
    src = SAMPLES / "digits_int8.tflite"
    dst = tmp_path / "small.tflite"
    # a condition every model fails, slowly
    check = f"{sys.executable} -c 'import sys, time; time.sleep(0.4); sys.exit(1)' {{model}}"
    proc = subprocess.Popen([MODELKIT, "reduce", str(src), str(dst), "--check", check],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                            cwd=ROOT, env={**os.environ})
    lines = []
    assert proc.stderr is not None
    for line in proc.stderr:
        lines.append(line)
        if line.startswith("modelkit: [1] "):
            proc.send_signal(signal.SIGINT)
            break
    rest = proc.communicate(timeout=60)[1]
    lines += rest.splitlines()
    assert proc.returncode == 130
    failing = [int(line.split("(")[1].split(" op")[0]) for line in lines
               if line.startswith("modelkit: [") and ": fails:" in line]
    assert failing
    import modelkit

    assert len(modelkit.load(dst).graphs[0].nodes) == min(failing) < 10
    assert any("smallest failing model found so far" in line for line in lines)


def test_graphdef_check_error(tmp_path):
    pytest.importorskip("tensorflow")
    src = SAMPLES / "digits_legacy_quantized.pb"
    dst = tmp_path / "small.pb"
    report, _ = _reduce_json(str(src), str(dst), "--until", "check-error")
    assert report["format"] == "graphdef"
    assert report["op_count"] == 1
    assert report["runs"] <= _bound(report)
    (op,) = report["original_ops"]
    res = run_cli("check", str(dst), "--json")
    assert res.returncode == 4
    errors = [f for f in json.loads(res.stdout)["findings"] if f["severity"] == "error"]
    assert [f["rule"] for f in errors] == ["tf-legacy-quantized"]
    src_errors = json.loads(run_cli("check", str(src), "--json").stdout)["findings"]
    assert op["names"][0] in {f["node_name"] for f in src_errors}


def test_refusal_deferred_to_invoke_reduces_to_the_one_op(tmp_path):
    # digits FC 8 reads a reshape whose shape is computed, so the interpreter prepares
    # it in invoke; alone (its input shape known) it is refused in allocate. Both are
    # the same refusal, and the cut before it is fed the values the ops before it
    # computed (the shape branch gets real values, not random ones).
    src = _broken_digits(tmp_path)
    dst = tmp_path / "small.tflite"
    report, _ = _reduce_json(str(src), str(dst), "--until", "refused")
    assert [(o["index"], o["op"]) for o in report["original_ops"]] == [(8, "FULLY_CONNECTED")]
    assert report["iterations"][0]["reason"].startswith("invoke: ")
    assert report["message"].startswith("prepare: ")
    with pytest.raises(RuntimeError, match=r"output_scale <= 0\.02"):
        _interpreter(dst).allocate_tensors()


def test_mode_linear_leaves_out_one_op_at_a_time(tmp_path):
    src = _broken_digits(tmp_path)
    report, _ = _reduce_json(str(src), str(tmp_path / "small.tflite"), "--until", "refused",
                             "--mode", "linear")
    assert [o["index"] for o in report["original_ops"]] == [8]
    # the run on SRC, then ops 0..9 left out in turn (only op 8 is kept)
    linear = report["iterations"][1:]
    assert [it["removed"] for it in linear] == list(range(10))
    assert [it["verdict"] for it in linear] == ["fail"] * 8 + ["pass", "fail"]


def test_output_named_for_another_format_is_usage_error(tmp_path):
    res = run_cli("reduce", str(SAMPLES / "digits_int8.tflite"), str(tmp_path / "s.pb"),
                  "--until", "refused")
    assert res.returncode == 2
    assert "the result is a tflite model, but the name says graphdef" in res.stderr


def test_check_points_to_reduce_and_the_command_it_prints_works(tmp_path):
    import shlex

    src = _broken_digits(tmp_path)
    res = run_cli("check", str(src))
    assert res.returncode == 4
    (note,) = [ln for ln in res.stderr.splitlines() if "modelkit reduce" in ln]
    argv = shlex.split(note.split(": modelkit ", 1)[1])
    assert argv[:2] == ["reduce", str(src)]
    done = run_cli(*argv, "--json")
    assert done.returncode == 0, done.stderr
    assert [o["index"] for o in json.loads(done.stdout)["original_ops"]] == [8]
    # a model without errors gets no such line
    assert "modelkit reduce" not in run_cli("check", str(SAMPLES / "digits_int8.tflite")).stderr


def test_a_cut_ends_at_every_value_that_crosses_it(tmp_path):
    # ops 0..4 of the digits model: the pooled tensor is read by SHAPE (op 3, kept) and
    # by RESHAPE (op 6, cut away), so it crosses the cut as much as the strided slice
    # PACK reads; a condition every model fails makes "cut after op 4" the first try
    art = tmp_path / "art"
    fail = f"{sys.executable} -c 'import sys; sys.exit(1)' {{model}}"
    report, _ = _reduce_json(str(SAMPLES / "digits_int8.tflite"), str(tmp_path / "s.tflite"),
                             "--check", fail, "--artifacts", str(art))
    first = report["iterations"][1]
    assert (first["stage"], first["op_range"], first["verdict"]) == ("outputs", [0, 4], "fail")
    it = _interpreter(art / "bad" / "001_outputs_5_ops.tflite")
    assert sorted(d["name"] for d in it.get_output_details()) == [
        "digits_cnn_1/flatten_1/strided_slice", "digits_cnn_1/pool_1/MaxPool2d"]
    assert [d["name"] for d in it.get_input_details()] == ["serving_default_input:0"]


def test_mismatch_against_a_savedmodel_reference(tmp_path):
    # the SavedModel is converted to a float TFLite model to read its tensors; the
    # oracle is the float TFLite model converted from it (samples/README.md), both run
    # by the interpreter keeping every tensor: the first op of the int8 model whose
    # output differs beyond the tolerance is the one reduce must keep
    pytest.importorskip("tensorflow")
    atol = 0.001
    x = np.load(SAMPLES / "digits_test.npz")["x"][:4]

    def dump(path, quantized):
        it = _interpreter(path, preserve=True)
        it.allocate_tensors()
        d = it.get_input_details()[0]
        rows = []
        for s in x:
            v = s[None]
            if quantized:
                scale, zp = d["quantization"]
                v = np.clip(np.round(v / scale) + zp, -128, 127).astype(np.int8)
            it.set_tensor(d["index"], v)
            it.invoke()
            values = {}
            for t in it.get_tensor_details():
                try:
                    a = it.get_tensor(t["index"]).astype(np.float64)
                except ValueError:
                    continue
                scale, zp = t["quantization"]
                values[t["name"]] = (a - zp) * scale if scale else a
            rows.append(values)
        return rows

    q = dump(SAMPLES / "digits_int8.tflite", True)
    f = dump(SAMPLES / "digits_float.tflite", False)
    names = _op_output_names(SAMPLES / "digits_int8.tflite")
    first = next(i for i, n in enumerate(names)
                 if max(np.abs(a[n] - b[n]).max() for a, b in zip(q, f)) > atol)
    report, _ = _reduce_json(str(SAMPLES / "digits_int8.tflite"), str(tmp_path / "s.tflite"),
                             "--until", "mismatch", "--reference",
                             str(SAMPLES / "digits_savedmodel"), "--data",
                             str(SAMPLES / "digits_test.npz"), "--limit", "4",
                             "--atol", str(atol))
    assert [o["index"] for o in report["original_ops"]] == [first]
    assert report["values"] == f"{SAMPLES / 'digits_test.npz'} (4 samples)"


def test_artifacts_that_cannot_be_written_are_refused_before_any_run(tmp_path):
    """An --artifacts path under a file, or in a folder that refuses writes, is one
    usage error naming it, before the condition runs (no '[1]' iteration line)."""
    afile = tmp_path / "afile"
    afile.write_text("x")
    fail = f"{sys.executable} -c 'import sys; sys.exit(1)' {{model}}"
    done = run_cli("reduce", str(SAMPLES / "digits_int8.tflite"), str(tmp_path / "r.tflite"),
                   "--check", fail, "--artifacts", str(afile / "art"))
    assert done.returncode == 2
    assert f"{afile} is not a folder" in done.stderr
    assert "[1]" not in done.stderr
    assert sorted(p.name for p in tmp_path.iterdir()) == ["afile"]


def test_artifacts_folder_without_write_permission(tmp_path, monkeypatch):
    import tempfile

    from modelkit.errors import UsageError
    from modelkit.reduce.reducer import _check_artifacts

    def refuse(*args, **kwargs):
        raise PermissionError(13, "Permission denied")

    monkeypatch.setattr(tempfile, "TemporaryFile", refuse)
    with pytest.raises(UsageError, match="cannot write in .*: Permission denied"):
        _check_artifacts(tmp_path / "art", False, SAMPLES / "digits_int8.tflite")
