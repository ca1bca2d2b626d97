"""Bad data and labels, as users give them to convert, debug, run and compare: NaN and
Inf, empty files, labels that are not class ids or do not match the data, tolerances
that are not numbers, casts that change values. Each is checked against numpy on the
same arrays, and calibration data is refused before TensorFlow is imported."""

from __future__ import annotations

import json

import numpy as np
import pytest
from typer.testing import CliRunner

from modelkit.cli.main import _register, app
from tests.cli.test_main import probe
from tests.conftest import SAMPLES
from tests.litert_by_hand import by_hand

_register()
X = np.load(SAMPLES / "digits_test.npz")["x"][:20]
Y = np.load(SAMPLES / "digits_test.npz")["y"][:20]
INT8 = SAMPLES / "digits_int8.tflite"
FLOAT = SAMPLES / "digits_float.tflite"
FROZEN = SAMPLES / "digits_frozen.pb"

def cli(*args):
    return CliRunner().invoke(app, [*map(str, args)])


def _nonfinite_facts(x: np.ndarray) -> tuple[int, str]:
    """numpy's count of NaN/Inf and the first one's index, as the error line writes it."""
    bad = ~np.isfinite(x)
    first = np.argwhere(bad)[0]
    return int(bad.sum()), "[" + ", ".join(str(int(i)) for i in first) + "]"


@pytest.fixture(scope="module")
def bad(tmp_path_factory):
    """Data files: NaN and +Inf at known places, all NaN, empty ones, and labels."""
    d = tmp_path_factory.mktemp("bad")
    x = X.copy()
    x[7, 2, 5, 0] = np.inf
    x[12, 0, 1, 0] = np.nan
    x[12, 3, 3, 0] = -np.inf
    np.save(d / "mixed.npy", x)
    inf = X.copy()
    inf[4, 6, 6, 0] = np.inf
    np.save(d / "inf.npy", inf)
    np.save(d / "allnan.npy", np.full_like(X, np.nan))
    np.savez(d / "set.npz", x=x, y=Y)
    np.save(d / "good.npy", X)
    (d / "zero.npy").write_bytes(b"")
    np.save(d / "nosamples.npy", np.zeros((0, 8, 8, 1), np.float32))
    np.save(d / "labels.npy", Y)
    np.save(d / "nolabels.npy", np.zeros((0,), np.int64))
    return d


# -- calibration data: refused before TensorFlow ---------------------------------------

@pytest.mark.parametrize("command,data,key", [
    (["convert", FROZEN, "{out}/q.tflite", "-q", "int8", "--data"], "mixed.npy", "mixed"),
    (["convert", FROZEN, "{out}/f.tflite", "--data"], "allnan.npy", "allnan"),
    (["convert", SAMPLES / "digits_savedmodel", "{out}/q.tflite", "-q", "int8", "--data"],
     "set.npz", "x"),
    (["debug", FLOAT, "--data"], "inf.npy", "inf"),
    (["debug", FROZEN, "--data", "{bad}/good.npy", "--calibration-data"], "mixed.npy",
     "mixed"),
])
def test_nan_or_inf_calibration_data_is_refused_before_tensorflow(bad, tmp_path, command,
                                                                  data, key):
    args = [str(a).format(out=tmp_path, bad=bad) for a in command] + [bad / data]
    code, lines, tf_loaded = probe(*args)
    values = np.load(bad / data)
    values = values[key] if data.endswith(".npz") else values
    count, first = _nonfinite_facts(values)
    assert code == 2, lines
    assert len(lines) == 1, lines
    assert lines[0].startswith(f"modelkit: error: {bad / data}: array '{key}' holds {count} "
                               "non-finite value")
    assert f"the first at {first} (sample {first[1:].split(',')[0]})" in lines[0]
    assert not tf_loaded
    assert list(tmp_path.iterdir()) == []


def test_run_warns_on_nan_and_reports_it_in_json(bad):
    res = cli("run", INT8, "--data", bad / "mixed.npy", "--json")
    assert res.exit_code == 0, res.stderr
    count, first = _nonfinite_facts(np.load(bad / "mixed.npy"))
    warnings = [x for x in res.stderr.splitlines() if "non-finite" in x]
    assert len(warnings) == 1 and f"holds {count} non-finite values" in warnings[0]
    assert f"the first at {first}" in warnings[0]
    assert "RuntimeWarning" not in res.stderr
    (inp,) = json.loads(res.stdout)["inputs"]
    assert inp["nan_or_inf"] is True and inp["nonfinite_values"] == count


def test_compare_json_tells_the_truth_about_inputs_and_outputs(bad):
    """digits_dynamic turns the +Inf sample into non-finite outputs, digits_float does
    not; the counts are the interpreter's outputs counted by numpy."""
    x = np.load(bad / "inf.npy")
    a = by_hand(SAMPLES / "digits_dynamic.tflite", x)
    b = by_hand(FLOAT, x)
    res = cli("compare", SAMPLES / "digits_dynamic.tflite", FLOAT, "--data",
              bad / "inf.npy", "--json")
    assert res.exit_code in (0, 1), res.stderr
    report = json.loads(res.stdout)
    (inp,) = report["inputs"]
    assert inp["nan_or_inf"] is True
    assert inp["nonfinite_values"] == int((~np.isfinite(x)).sum())
    (out,) = report["outputs"]
    want_a, want_b = int((~np.isfinite(a)).sum()), int((~np.isfinite(b)).sum())
    assert want_a > 0      # the case this test is about
    assert (out["nonfinite_a"], out["nonfinite_b"]) == (want_a, want_b)
    assert out["nan_or_inf"] is bool(want_a or want_b)
    clean = json.loads(cli("compare", INT8, FLOAT, "--data", bad / "good.npy",
                           "--json").stdout)
    assert clean["inputs"][0]["nan_or_inf"] is False
    assert clean["outputs"][0]["nan_or_inf"] is False


# -- empty files ------------------------------------------------------------------------

@pytest.mark.parametrize("name,words", [
    ("zero.npy", "the {what} file is empty (0 bytes)"),
    ("nosamples.npy", "holds no samples"),
])
@pytest.mark.parametrize("command", ["run", "compare", "debug", "run-labels",
                                     "debug-labels"])
def test_empty_npy_is_one_line_exit_2(bad, command, name, words):
    what = "labels" if command.endswith("labels") else "data"
    if name == "nosamples.npy" and what == "labels":
        name, words = "nolabels.npy", "0 labels for 20 samples in the data"
    path = bad / name
    args = {"run": ["run", INT8, "--data", path],
            "compare": ["compare", INT8, FLOAT, "--data", path],
            "debug": ["debug", FLOAT, "--data", path],
            "run-labels": ["run", INT8, "--data", bad / "good.npy", "--labels", path],
            "debug-labels": ["debug", FLOAT, "--data", bad / "good.npy", "--labels", path],
            }[command]
    res = cli(*args)
    assert res.exit_code == 2, res.stdout + res.stderr
    assert res.stderr.count("\n") == 1 and "Aborted" not in res.stdout + res.stderr
    assert res.stderr.startswith(f"modelkit: error: {path}: ")
    assert words.format(what=what) in res.stderr


# -- labels -----------------------------------------------------------------------------

@pytest.mark.parametrize("labels,words", [
    (np.zeros((20, 0)), "labels of shape [20, 0] are neither class ids"),
    (np.random.default_rng(0).random((20, 5, 3)), "labels of shape [20, 5, 3]"),
    (np.full((20, 10), 0.1), "labels of shape [20, 10] are neither class ids"),
    (Y[:20].reshape(10, 2), "labels of shape [10, 2] are neither class ids"),
    (-np.ones(20, np.int64), "class ids >= 0"),
])
@pytest.mark.parametrize("command", ["run", "debug"])
def test_labels_that_are_not_class_ids_are_one_line(tmp_path, labels, words, command):
    path = tmp_path / "labels.npy"
    np.save(path, labels)
    np.save(tmp_path / "x.npy", X)
    args = ["run", INT8] if command == "run" else ["debug", FLOAT]
    res = cli(*args, "--data", tmp_path / "x.npy", "--labels", path)
    assert res.exit_code == 2, res.stdout + res.stderr
    assert res.stderr.count("\n") == 1 and "Traceback" not in res.stderr
    assert words in res.stderr


def test_column_of_ids_and_one_hot_labels_give_the_interpreters_accuracy(tmp_path, bad):
    want = float(np.mean(by_hand(INT8, X).argmax(1) == Y))
    for name, labels in (("column", Y[:, None]), ("onehot", np.eye(10)[Y])):
        np.save(tmp_path / f"{name}.npy", labels)
        res = cli("run", INT8, "--data", bad / "good.npy", "--labels",
                  tmp_path / f"{name}.npy", "--json")
        assert res.exit_code == 0, res.stderr
        assert json.loads(res.stdout)["outputs"][0]["accuracy"] == pytest.approx(want)


def test_label_count_must_match_the_data(tmp_path, bad):
    np.save(tmp_path / "thirty.npy", np.concatenate([Y, Y[:10]]))
    res = cli("run", INT8, "--data", bad / "good.npy", "--labels", tmp_path / "thirty.npy")
    assert res.exit_code == 2
    assert res.stderr == (f"modelkit: error: {tmp_path / 'thirty.npy'}: 30 labels for 20 "
                          "samples in the data; give one label per sample\n")
    code, lines, tf_loaded = probe("debug", FROZEN, "--data", bad / "good.npy",
                                    "--labels", tmp_path / "thirty.npy")
    assert code == 2 and len(lines) == 1 and "30 labels for 20 samples" in lines[0]
    assert not tf_loaded


def test_limit_uses_the_first_labels(bad):
    res = cli("run", INT8, "--data", bad / "good.npy", "--labels", bad / "labels.npy",
              "--limit", "5", "--json")
    assert res.exit_code == 0, res.stderr
    want = float(np.mean(by_hand(INT8, X[:5]).argmax(1) == Y[:5]))
    assert json.loads(res.stdout)["outputs"][0]["accuracy"] == pytest.approx(want)


# -- tolerances and output paths ----------------------------------------------------------

@pytest.mark.parametrize("option,value", [("--atol", "nan"), ("--rtol", "nan"),
                                          ("--atol", "-1"), ("--rtol", "-0.5")])
def test_compare_refuses_tolerances_that_are_not_numbers_at_least_0(bad, option, value):
    res = cli("compare", INT8, FLOAT, "--data", bad / "good.npy", option, value)
    assert res.exit_code == 2
    assert res.stderr.count("\n") == 1 and f"{option} {value}: a tolerance" in res.stderr
    assert res.stdout == ""


@pytest.mark.parametrize("args", [
    ["run", INT8, "-o", ""],
    ["run", INT8, "--output", "outputs.txt"],
    ["debug", FLOAT, "--csv", ""],
    ["debug", FLOAT, "--model-explorer", " "],
    ["debug", FLOAT, "--save", ""],
])
def test_output_paths_that_name_no_file_of_the_right_kind(bad, tmp_path, args):
    res = CliRunner().invoke(app, [*map(str, args), "--data", str(bad / "good.npy"),
                                   "--force"])
    assert res.exit_code == 2, res.stdout + res.stderr
    assert res.stderr.count("\n") == 1 and "Traceback" not in res.stderr


def test_lossy_cast_into_an_integer_input_is_warned(tmp_path):
    """--raw feeds int8 as numpy casts it; the warning counts what numpy's cast changed,
    and the outputs are the interpreter's on those integers (dequantized)."""
    from ai_edge_litert.interpreter import Interpreter, OpResolverType

    rng = np.random.default_rng(1)
    x = np.round(rng.uniform(-150, 150, size=(6, 8, 8, 1)), 1)
    x[0, 0, 0, 0] = 3.7
    np.save(tmp_path / "x.npy", x)
    out = tmp_path / "out.npz"
    res = cli("run", INT8, "--data", tmp_path / "x.npy", "--raw", "-o", out)
    assert res.exit_code == 0, res.stderr
    fraction = x != np.trunc(x)
    outside = (x < -128) | (x > 127)
    (line,) = [w for w in res.stderr.splitlines() if "changed when cast" in w]
    assert (f"{int((fraction | outside).sum())} of {x.size} values changed when cast from "
            "float64 to int8") in line
    assert f"{int((fraction & ~outside).sum())} not whole numbers" in line
    assert f"{int(outside.sum())} outside int8's range [-128, 127]" in line
    it = Interpreter(model_path=str(INT8),
                     experimental_op_resolver_type=OpResolverType.BUILTIN_WITHOUT_DEFAULT_DELEGATES)
    it.allocate_tensors()
    (i,), (o,) = it.get_input_details(), it.get_output_details()
    with np.errstate(invalid="ignore"):
        fed = x.astype(np.int8)
    want = []
    for sample in fed:
        it.set_tensor(i["index"], sample[None])
        it.invoke()
        want.append(it.get_tensor(o["index"])[0])
    scale, zp = o["quantization"]
    with np.load(out) as saved:
        np.testing.assert_allclose(saved["output_0"], (np.array(want, np.float64) - zp) * scale,
                                   rtol=0, atol=1e-6)


def test_float64_overflow_into_float32_is_warned(tmp_path):
    x = X[:4].astype(np.float64)
    x[1, 4, 4, 0] = 1e39
    x[2, 0, 0, 0] = -5e38
    np.save(tmp_path / "big.npy", x)
    res = cli("run", FLOAT, "--data", tmp_path / "big.npy")
    assert res.exit_code == 0, res.stderr
    want = int((np.abs(x) > np.finfo(np.float32).max).sum())
    (line,) = [w for w in res.stderr.splitlines() if "changed when cast" in w]
    assert f"{want} of {x.size} values changed when cast from float64 to float32" in line
