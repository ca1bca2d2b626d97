"""check and summarize over many models in one call: files, searched folders, worker
processes, exit codes. The oracle is the same command on each model alone."""

from __future__ import annotations

import json
import os
import shutil
import time
from pathlib import Path

import pytest

from modelkit.cli.many import run_jobs, worst
from modelkit.errors import ExitCode
from modelkit.formats.discover import find_models
from modelkit.formats.registry import detect_format
from tests.check.conftest import make_broken_models
from tests.conftest import SAMPLES, run_cli

DOCSTRING_PY = '"""A Python file starting with a docstring."""\nprint("hello")\n'


@pytest.fixture(scope="module")
def tree(tmp_path_factory) -> Path:
    """models/ with TFLite files (one broken), a frozen graph, a SavedModel and a
    checkpoint in subfolders, and files that are no model."""
    root = tmp_path_factory.mktemp("many") / "models"
    (root / "sub").mkdir(parents=True)
    shutil.copy(SAMPLES / "digits_int8.tflite", root / "a_int8.tflite")
    shutil.copy(SAMPLES / "digits_float.tflite", root / "b_float.tflite")
    make_broken_models.write("softmax_output", root / "c_softmax.tflite")
    shutil.copy(SAMPLES / "digits_frozen.pb", root / "sub" / "frozen.pb")
    shutil.copytree(SAMPLES / "digits_savedmodel", root / "sub" / "saved")
    shutil.copytree(SAMPLES / "digits_ckpt", root / "sub" / "ckpt")
    (root / "notes.txt").write_text("not a model\n")
    (root / "make.py").write_text(DOCSTRING_PY)
    shutil.copy(SAMPLES / "digits_calib.npy", root / "sub" / "calib.npy")
    return root


MODELS = ["a_int8.tflite", "b_float.tflite", "c_softmax.tflite", "sub/frozen.pb",
          "sub/saved", "sub/ckpt/model.ckpt"]


def test_a_folder_is_searched_by_format(tree):
    found = [f for f in find_models(tree) if f.format]
    assert [f.path.relative_to(tree).as_posix() for f in found] == MODELS
    skipped = {f.path.name for f in find_models(tree) if not f.format}
    assert skipped == {"notes.txt", "make.py", "calib.npy"}


def test_a_docstring_python_file_is_no_graphdef_in_a_search(tree):
    """The GraphDef sniff takes a file whose first byte is 0x22 (`"`) for a GraphDef
    (field 4): named alone it is reported as unreadable, in a folder it is skipped."""
    assert detect_format(tree / "make.py") == "graphdef"
    p = run_cli("check", str(tree / "make.py"))
    assert p.returncode == 3 and p.stderr.startswith(f"modelkit: error: {tree / 'make.py'}")


def test_check_folder_json_equals_each_model_alone(tree):
    p = run_cli("check", "models", "--json", cwd=tree.parent)
    assert p.returncode == 4, p.stderr
    docs = json.loads(p.stdout)
    assert [d["model"] for d in docs] == [f"models/{m}" for m in MODELS]
    for doc in docs:
        alone = run_cli("check", doc["model"], "--json", cwd=tree.parent)
        assert json.loads(alone.stdout) == doc
        assert alone.returncode == (4 if doc["totals"]["error"] else 0)


def test_check_folder_text_one_line_per_model_and_notes_only_when_verbose(tree):
    p = run_cli("check", "models", cwd=tree.parent)
    assert p.returncode == 4
    lines = p.stdout.splitlines()
    assert [line.split(" [", 1)[0] for line in lines[:-1]] == [f"models/{m}" for m in MODELS]
    assert lines[2] == ("models/c_softmax.tflite [tflite]: 1 errors (softmax-output-params), "
                        "0 warnings, 0 infos")
    assert lines[-1] == "checked 6 models for tflite: 1 with errors, 0 unreadable"
    assert p.stderr == ""
    v = run_cli("check", "models", "-v", cwd=tree.parent)
    assert v.stdout.count("\n0 errors, 0 warnings, 0 infos\n") == 4  # full reports
    assert sorted(v.stderr.splitlines()) == [
        "modelkit: note: skipped models/make.py: not a model (a GraphDef needs a .pb or "
        ".pbtxt name when a folder is searched)",
        "modelkit: note: skipped models/notes.txt: not a model",
        "modelkit: note: skipped models/sub/calib.npy: not a model"]


def test_exit_code_precedence_unreadable_over_check_errors(tree, tmp_path):
    """3 (a model not read) outranks 4 (check errors); the unreadable one has its line."""
    bad = tmp_path / "truncated.tflite"
    bad.write_bytes((SAMPLES / "digits_int8.tflite").read_bytes()[:100])
    broken, clean = tree / "c_softmax.tflite", tree / "a_int8.tflite"
    p = run_cli("check", str(clean), str(bad), str(broken))
    assert p.returncode == 3
    errors = p.stderr.splitlines()
    assert len(errors) == 1 and errors[0].startswith(f"modelkit: error: {bad}: ")
    assert p.stdout.splitlines()[-1] == "checked 3 models for tflite: 1 with errors, 1 unreadable"
    assert run_cli("check", str(clean), str(broken)).returncode == 4
    assert run_cli("check", str(clean), str(tree / "b_float.tflite")).returncode == 0
    assert worst([4, 3, 0]) == worst([3, 4]) == ExitCode.UNREADABLE
    assert worst([4, 1]) == ExitCode.FAILURE and worst([]) == 0
    assert worst([4, 130, 2]) == ExitCode.INTERRUPTED


def test_sarif_over_many_models_one_run_per_target(tree):
    args = ("check", "models", "-t", "tflite", "-t", "micro")
    docs = json.loads(run_cli(*args, "--json", cwd=tree.parent).stdout)
    sarif = json.loads(run_cli(*args, "--format", "sarif", cwd=tree.parent).stdout)
    assert len(sarif["runs"]) == 2
    for run, target in zip(sarif["runs"], ("tflite", "micro")):
        uris = [r["locations"][0]["physicalLocation"]["artifactLocation"]["uri"]
                for r in run["results"]]
        expected = [d["model"] for d in docs if d["target"] == target for _ in d["findings"]]
        assert len(uris) == len(expected)
        # models/sub/ckpt/model.ckpt is located at its .meta, the SavedModel at its .pb
        assert {u.removesuffix(".meta").removesuffix("/saved_model.pb") for u in uris} == \
            set(expected)


def test_summarize_many_json_is_an_array_of_single_results(tree):
    a, b = str(SAMPLES / "digits_int8.tflite"), str(tree / "sub" / "frozen.pb")
    p = run_cli("summarize", a, b, "--json")
    assert p.returncode == 0, p.stderr
    docs = json.loads(p.stdout)
    assert isinstance(docs, list)
    assert docs == [json.loads(run_cli("summarize", m, "--json").stdout) for m in (a, b)]
    single = json.loads(run_cli("summarize", a, "--json").stdout)
    assert isinstance(single, dict) and single["path"] == a


def test_summarize_many_names_the_model_of_an_option_error(tree):
    p = run_cli("summarize", str(tree / "a_int8.tflite"), str(tree / "b_float.tflite"),
                "--subgraph", "1", "--json")
    assert p.returncode == 2
    docs = json.loads(p.stdout)
    assert [d["exit_code"] for d in docs] == [2, 2]
    assert [line.split(": ")[2] for line in p.stderr.splitlines()] == [
        str(tree / "a_int8.tflite"), str(tree / "b_float.tflite")]


def _pid_after(path: str, seconds: float) -> int:
    time.sleep(seconds)
    return os.getpid()


@pytest.mark.skipif((os.cpu_count() or 1) < 2, reason="one core: one worker")
def test_run_jobs_uses_worker_processes_and_keeps_the_order():
    paths = [Path(f"m{i}") for i in range(4)]
    seen: list[str] = []
    outcomes = run_jobs(_pid_after, paths, (0.5,), on_done=lambda o: seen.append(o.path))
    assert seen == [o.path for o in outcomes] == [str(p) for p in paths]
    pids = {o.value for o in outcomes}
    assert os.getpid() not in pids and 2 <= len(pids) <= min(os.cpu_count(), 4)
