"""The layer that loses the accuracy, and the denylist that wins it back.

A digits classifier trained here (scikit-learn's bundled digits) has an outlier
planted in its first dense layer's weights (tests/debug/outlier_model.py): float
accuracy is unchanged, int8 collapses. Oracles: Keras's own predictions for the
float model, the LiteRT interpreter for the quantized models, the interpreter's
tensor types for what stayed float.
"""

from __future__ import annotations

import numpy as np
import pytest

from modelkit.convert.progress import Progress
from modelkit.convert.selective import Denylist
from modelkit.debug.session import DebugOptions, run_debug
from tests.debug.outlier_model import build
from tests.litert_by_hand import litert_accuracy


@pytest.fixture(scope="module")
def outlier(tmp_path_factory):
    return build(tmp_path_factory.mktemp("outlier"))


@pytest.fixture(scope="module")
def plain(outlier, tmp_path_factory):
    save = tmp_path_factory.mktemp("plain") / "int8.tflite"
    report = run_debug(DebugOptions(src=outlier["model"], data=outlier["test"],
                                    labels=outlier["test"], save=save), Progress(quiet=True))
    return report, save


@pytest.fixture(scope="module")
def selective(outlier, plain, tmp_path_factory):
    report, _ = plain
    save = tmp_path_factory.mktemp("selective") / "selective.tflite"
    again = run_debug(DebugOptions(src=outlier["model"], data=outlier["test"],
                                   labels=outlier["test"],
                                   denylist=Denylist(report.suggest_denylist), save=save),
                      Progress(quiet=True))
    return again, save


def test_the_outlier_layer_ranks_first_and_is_suggested(plain):
    report, _ = plain
    worst = min(report.layers, key=lambda layer: layer.rank)
    assert worst.op_name == "FULLY_CONNECTED" and "dense1" in worst.tensor_name
    assert worst.stats["rmse_scale"] > 10
    assert len(report.suggest_denylist) == 1 and "dense1" in report.suggest_denylist[0]
    assert "--denylist-nodes" in report.convert_command


def test_accuracies_agree_with_keras_and_the_interpreter(outlier, plain):
    import keras

    report, save = plain
    data = np.load(outlier["test"])
    x, y = data["x"][:200], data["y"][:200]
    model = keras.models.load_model(outlier["model"], compile=False)
    keras_acc = float(np.mean(np.argmax(model.predict(x, verbose=0), axis=1) == y))
    assert report.accuracy["float"] == pytest.approx(keras_acc, abs=1 / 200)
    assert report.accuracy["quantized"] == pytest.approx(litert_accuracy(save, x, y))
    assert report.accuracy["quantized"] < keras_acc - 0.5


def test_denylist_wins_the_accuracy_back(outlier, plain, selective):
    report, _ = plain
    again, save = selective
    data = np.load(outlier["test"])
    x, y = data["x"][:200], data["y"][:200]
    regained = litert_accuracy(save, x, y)
    assert again.accuracy["quantized_with_denylist"] == pytest.approx(regained)
    assert again.accuracy["quantized_without_denylist"] == report.accuracy["quantized"]
    assert regained >= report.accuracy["float"] - 0.02
    # The denylisted op computes in float in the written model, the others in int8.
    from ai_edge_litert.interpreter import Interpreter

    it = Interpreter(model_path=str(save))
    details = {d["index"]: d for d in it.get_tensor_details()}
    kinds = {}
    for op in it._get_ops_details():
        out = details[op["outputs"][0]]
        kinds[out["name"]] = (op["op_name"], out["dtype"])
    assert kinds[report.suggest_denylist[0]] == ("FULLY_CONNECTED", np.float32)
    fc_int8 = [n for n, (op, dt) in kinds.items() if op == "FULLY_CONNECTED" and dt == np.int8]
    assert len(fc_int8) == 1 and "logits" in fc_int8[0]


def test_graphdef_with_denylist(tmp_path):
    """A frozen graph quantized with one layer kept in float: the written model's
    tensors (read by the interpreter) show it float and the rest int8."""
    from ai_edge_litert.interpreter import Interpreter

    from tests.conftest import SAMPLES

    save = tmp_path / "selective.tflite"
    report = run_debug(DebugOptions(
        src=SAMPLES / "digits_frozen.pb", data=SAMPLES / "digits_test.npz", samples=20,
        calibration_steps=20, denylist=Denylist(["logits/MatMul;logits/BiasAdd"]),
        save=save), Progress(quiet=True))
    assert report.quantized_model == str(save)
    assert "--denylist-nodes 'logits/MatMul;logits/BiasAdd'" in report.convert_command
    it = Interpreter(model_path=str(save))
    details = {d["index"]: d for d in it.get_tensor_details()}
    kinds: dict[str, list[str]] = {}
    for op in it._get_ops_details():
        kinds.setdefault(op["op_name"], []).append(details[op["outputs"][0]]["dtype"].__name__)
    assert kinds["FULLY_CONNECTED"] == ["int8", "float32"]
    assert kinds["CONV_2D"] == ["int8", "int8"]
    assert not [x for x in report.layers if "logits" in x.tensor_name]


def test_convert_with_the_suggested_denylist(outlier, plain, tmp_path):
    """`modelkit convert --denylist-nodes` (the command debug prints) writes a model
    that keeps the accuracy; without it int8 loses it. Accuracy by the interpreter."""
    from modelkit.convert.pipeline import ConvertOptions, convert

    report, _ = plain
    data = np.load(outlier["test"])
    x, y = data["x"], data["y"]
    outs = {}
    for name, nodes in (("plain", []), ("selective", report.suggest_denylist)):
        outs[name] = tmp_path / f"{name}.tflite"
        convert(ConvertOptions(src=outlier["model"], dst=outs[name], quantize="int8",
                               data=outlier["calib"], verify=False,
                               denylist_nodes=list(nodes)), Progress(quiet=True))
    assert litert_accuracy(outs["plain"], x, y) < 0.5
    assert litert_accuracy(outs["selective"], x, y) >= report.accuracy["float"] - 0.03


def test_convert_rejects_an_unknown_denylist_node(outlier, tmp_path):
    from modelkit.convert.pipeline import ConvertOptions, convert
    from modelkit.errors import UsageError

    out = tmp_path / "never.tflite"
    with pytest.raises(UsageError, match="did you mean"):
        convert(ConvertOptions(src=outlier["model"], dst=out, quantize="int8",
                               data=outlier["calib"], verify=False,
                               denylist_nodes=["dense1_1/MatMul"]), Progress(quiet=True))
    assert not out.exists()
