"""TFLite metadata decoding: ModelMetadata, ConversionMetadata and the zip of associated files.

Oracles: the flatc-generated Python of each schema reading the same bytes
(TensorFlow's conversion_metadata_schema_py_generated, always installed here;
metadata_schema_py_generated from a mediapipe / tflite-support install or an
unpacked wheel), the interpreter (a model with metadata and an appended zip
still loads and runs the same), zipfile for the associated files, and values
written by hand.

Real models with metadata ship in the mediapipe 0.10.x wheels
(mediapipe/modules/*/*.tflite); set MODELKIT_THIRD_PARTY_MODELS to an unpacked
wheel (or install mediapipe) to run those tests.
"""

from __future__ import annotations

import importlib.util
import io
import json
import os
import zipfile
from pathlib import Path

import flatbuffers
import numpy as np
import pytest

import modelkit
from modelkit.formats.tflite import metadata as md
from modelkit.formats.tflite import metadata_tables as T
from modelkit.formats.tflite.metadata_gen import load_module
from tests.conftest import SAMPLES, run_cli


# -- oracles: the generated modules ------------------------------------------------------

def _third_party_root() -> Path | None:
    env = os.environ.get("MODELKIT_THIRD_PARTY_MODELS")
    if env and Path(env).is_dir():
        return Path(env)
    spec = importlib.util.find_spec("mediapipe")
    if spec is not None and spec.submodule_search_locations:
        return Path(next(iter(spec.submodule_search_locations))).parent
    return None


THIRD_PARTY = _third_party_root()
MEDIAPIPE_MODELS = sorted(THIRD_PARTY.glob("mediapipe/modules/*/*.tflite")) if THIRD_PARTY else []


def _metadata_schema_module():
    for root, rel in ((THIRD_PARTY, "mediapipe/tasks/metadata/metadata_schema_py_generated.py"),):
        if root is not None and (root / rel).is_file():
            return load_module(root / rel, "_oracle_metadata_schema")
    return None


def _conversion_schema_module():
    spec = importlib.util.find_spec("tensorflow")  # finds the package, does not import it
    path = Path(next(iter(spec.submodule_search_locations))) / \
        "lite/python/conversion_metadata_schema_py_generated.py"
    return load_module(path, "_oracle_conversion_schema")


# -- a ModelMetadata buffer built from the generated slot tables ------------------------

_PREPEND = {"b": "PrependInt8Slot", "B": "PrependUint8Slot", "h": "PrependInt16Slot",
            "H": "PrependUint16Slot", "i": "PrependInt32Slot", "I": "PrependUint32Slot",
            "q": "PrependInt64Slot", "Q": "PrependUint64Slot", "f": "PrependFloat32Slot",
            "d": "PrependFloat64Slot", "?": "PrependBoolSlot"}


def _build(b: flatbuffers.Builder, table: str, d: dict) -> int:
    """Pack plain data `d` (the decoder's form) as table `table` of the metadata schema."""
    fields = {f[0]: f for f in T.METADATA_TABLES[table]}
    targets = T.METADATA_TARGETS.get(table, {})
    offsets = {}
    for name, value in d.items():
        fmt = fields[name][2]
        if fmt == "string":
            offsets[name] = b.CreateString(value)
        elif fmt == "[f":
            offsets[name] = b.CreateNumpyVector(np.asarray(value, np.float32))
        elif fmt in ("table", "[table", "[string"):
            target = targets.get(name, "")
            if target.startswith("union:"):
                target = d[name + "_type"]
            items = value if fmt.startswith("[") else [value]
            made = [b.CreateString(x) if fmt == "[string" else _build(b, target, x)
                    for x in items]
            if fmt.startswith("["):
                b.StartVector(4, len(made), 4)
                for off in reversed(made):
                    b.PrependUOffsetTRelative(off)
                offsets[name] = b.EndVector()
            else:
                offsets[name] = made[0]
    b.StartObject(max(((f[1] - 4) // 2 for f in fields.values()), default=-1) + 1)
    for name, value in d.items():
        _, vt_off, fmt, default = fields[name]
        slot = (vt_off - 4) // 2
        if name in offsets:
            b.PrependUOffsetTRelativeSlot(slot, offsets[name], 0)
            continue
        if isinstance(value, str):  # an enum member or a union type, by name
            enum = md.ENUM_FIELDS.get((table, name)) or targets[name[:-5]][6:]
            value = {v: k for k, v in T.METADATA_ENUMS[enum].items()}[value]
        getattr(b, _PREPEND[fmt])(slot, value, default if default is not None else 0)
    return b.EndObject()


LABELS = ["zero", "one", "two", "three", "four", "five", "six", "seven", "eight", "nine"]
METADATA = {
    "name": "Digits classifier",
    "description": "8x8 grey digits, 0 to 9",
    "version": "v3",
    "author": "modelkit tests",
    "license": "Apache-2.0",
    "subgraph_metadata": [{
        "input_tensor_metadata": [{
            "name": "image",
            "content": {"content_properties_type": "ImageProperties",
                        "content_properties": {"color_space": "GRAYSCALE"}},
            "process_units": [{"options_type": "NormalizationOptions",
                               "options": {"mean": [127.5], "std": [0.00392156862745098]}}],
            "stats": {"max": [1.0], "min": [0.0]},
        }],
        "output_tensor_metadata": [{
            "name": "probability",
            "content": {"content_properties_type": "FeatureProperties",
                        "content_properties": {}},
            "associated_files": [{"name": "labels.txt", "description": "digit names",
                                  "type": "TENSOR_AXIS_LABELS"}],
        }],
    }],
    "min_parser_version": "1.0.0",
}


def metadata_bytes(d: dict = METADATA) -> bytes:
    b = flatbuffers.Builder(1024)
    b.Finish(_build(b, "ModelMetadata", d), file_identifier=b"M001")
    return bytes(b.Output())


@pytest.fixture(scope="module")
def model_with_metadata(tmp_path_factory) -> Path:
    """digits_float.tflite with a ModelMetadata buffer and labels.txt in an appended zip."""
    path = tmp_path_factory.mktemp("md") / "digits_md.tflite"
    m = modelkit.load(SAMPLES / "digits_float.tflite")
    m.metadata["metadata"]["TFLITE_METADATA"] = metadata_bytes()
    modelkit.save(m, path)
    archive = io.BytesIO()
    with zipfile.ZipFile(archive, "w") as z:
        z.writestr("labels.txt", "\n".join(LABELS) + "\n")
        z.writestr("notes.md", "not a label file")
    with open(path, "ab") as f:
        f.write(archive.getvalue())
    return path


def _float32(values):
    return [float(np.float32(v)) for v in values]


def test_decodes_what_was_written(model_with_metadata):
    m = modelkit.load(model_with_metadata)
    got = m.metadata["tflite_metadata"]
    want = json.loads(json.dumps(METADATA))
    # Floats are stored as float32.
    unit = want["subgraph_metadata"][0]["input_tensor_metadata"][0]["process_units"][0]
    unit["options"]["std"] = _float32(unit["options"]["std"])
    assert got == want
    assert md.input_normalization(m) == {
        m.graphs[0].inputs[0].name: {"mean": [127.5], "std": _float32([1 / 255])}}


def test_associated_files_and_labels_agree_with_zipfile(model_with_metadata):
    m = modelkit.load(model_with_metadata)
    with zipfile.ZipFile(model_with_metadata) as z:
        sizes = {i.filename: i.file_size for i in z.infolist()}
        notes = z.read("notes.md")
    files = {f["name"]: f for f in m.metadata["associated_files"]}
    assert {n: f["size"] for n, f in files.items()} == sizes
    assert files["labels.txt"]["type"] == "TENSOR_AXIS_LABELS"
    assert files["labels.txt"]["labels"] == LABELS and "labels" not in files["notes.md"]
    assert md.labels(m) == LABELS
    assert md.associated_file(m, "notes.md") == notes
    with pytest.raises(KeyError):
        md.associated_file(m, "missing.txt")


def _assert_same_outputs(a: Path, b: Path) -> None:
    """The interpreter gives the same output for both float models on a digit."""
    from ai_edge_litert.interpreter import Interpreter

    x = np.load(SAMPLES / "digits_test.npz")["x"][:1].astype(np.float32)
    outs = []
    for path in (a, b):
        it = Interpreter(model_path=str(path))
        it.allocate_tensors()
        it.set_tensor(it.get_input_details()[0]["index"], x)
        it.invoke()
        outs.append(it.get_tensor(it.get_output_details()[0]["index"]))
    assert np.array_equal(outs[0], outs[1])


def test_interpreter_runs_the_model_with_metadata_unchanged(model_with_metadata):
    _assert_same_outputs(SAMPLES / "digits_float.tflite", model_with_metadata)


def test_generated_module_reads_the_built_buffer():
    mod = _metadata_schema_module()
    if mod is None:
        pytest.skip("metadata_schema_py_generated (mediapipe wheel) is not available")
    t = mod.ModelMetadataT.InitFromPackedBuf(metadata_bytes(), 0)
    assert t.name.decode() == METADATA["name"] and t.author.decode() == METADATA["author"]
    tm = t.subgraphMetadata[0].inputTensorMetadata[0]
    assert tm.processUnits[0].options.mean.tolist() == [127.5]
    assert tm.content.contentProperties.colorSpace == mod.ColorSpaceType.GRAYSCALE


@pytest.mark.parametrize("name", sorted(p.name for p in SAMPLES.glob("*.tflite")))
def test_conversion_metadata_matches_generated_module(name):
    m = modelkit.load(SAMPLES / name)
    raw = m.metadata["metadata"]["CONVERSION_METADATA"]
    mod = _conversion_schema_module()
    t = mod.ConversionMetadataT.InitFromPackedBuf(raw, 0)
    ours = m.metadata["conversion_metadata"]
    env = ours["environment"]
    assert env["tensorflow_version"] == t.environment.tensorflowVersion.decode()
    assert env["api_version"] == t.environment.apiVersion
    assert env.get("model_hash", 0) == t.environment.modelHash
    types = {v: k for k, v in vars(mod.ModelType).items() if not k.startswith("_")}
    assert env.get("model_type", "NONE") == types[t.environment.modelType]
    modes = {v: k for k, v in vars(mod.ModelOptimizationMode).items() if not k.startswith("_")}
    want = [modes[v] for v in (t.options.modelOptimizationModes
                               if t.options.modelOptimizationModes is not None else [])]
    assert ours.get("options", {}).get("model_optimization_modes", []) == want


def test_corrupt_metadata_buffer_keeps_the_model_readable(tmp_path):
    path = tmp_path / "bad_md.tflite"
    m = modelkit.load(SAMPLES / "digits_float.tflite")
    m.metadata["metadata"]["TFLITE_METADATA"] = metadata_bytes()[:40]
    modelkit.save(m, path)
    got = modelkit.load(path).metadata["tflite_metadata"]
    assert "error" in got
    res = run_cli("summarize", str(path))
    assert res.returncode == 0 and "TFLite metadata" in res.stdout and "unreadable" in res.stdout


def test_corrupt_zip_tail_is_reported_not_fatal(tmp_path):
    path = tmp_path / "bad_zip.tflite"
    data = (SAMPLES / "digits_float.tflite").read_bytes()
    # An end-of-central-directory record pointing nowhere.
    path.write_bytes(data + b"PK\x05\x06" + b"\0" * 4 + b"\x01\0\x01\0" + b"\xff" * 8 + b"\0\0")
    m = modelkit.load(path)
    assert "associated_files" not in m.metadata
    assert "unreadable" in m.metadata["associated_files_error"]


def test_summarize_shows_metadata_text_and_json(model_with_metadata):
    res = run_cli("summarize", str(model_with_metadata))
    assert res.returncode == 0, res.stderr
    assert "Digits classifier" in res.stdout
    assert "normalize (x - mean) / std, mean [127.5]" in res.stdout
    assert "labels.txt" in res.stdout and "10 label(s): zero, one" in res.stdout
    assert "Converted by  TensorFlow" in res.stdout
    facts = json.loads(run_cli("summarize", "--json", str(model_with_metadata)).stdout)
    assert facts["metadata"]["tflite_metadata"]["name"] == "Digits classifier"
    assert facts["metadata"]["associated_files"][0]["labels"] == LABELS


# -- real third-party models -----------------------------------------------------------

def _enum_names(mod, enum: str) -> dict[int, str]:
    return {v: k for k, v in vars(getattr(mod, enum)).items() if not k.startswith("_")}


@pytest.mark.skipif(not MEDIAPIPE_MODELS, reason="mediapipe 0.10 models are not available "
                    "(install mediapipe or set MODELKIT_THIRD_PARTY_MODELS)")
@pytest.mark.parametrize("path", MEDIAPIPE_MODELS, ids=lambda p: p.name)
def test_mediapipe_models_match_generated_module_and_zipfile(path):
    m = modelkit.load(path)
    raw = m.metadata["metadata"].get("TFLITE_METADATA")
    if raw is None:
        assert "tflite_metadata" not in m.metadata
        return
    mod = _metadata_schema_module()
    ours = m.metadata["tflite_metadata"]
    if mod is not None:
        t = mod.ModelMetadataT.InitFromPackedBuf(raw, 0)
        assert ours.get("name") == (t.name.decode() if t.name else None)
        assert ours.get("description") == (t.description.decode() if t.description else None)
        kinds = _enum_names(mod, "ContentProperties")
        units = _enum_names(mod, "ProcessUnitOptions")
        for sg, tsg in zip(ours["subgraph_metadata"], t.subgraphMetadata):
            for key, tkey in (("input_tensor_metadata", "inputTensorMetadata"),
                              ("output_tensor_metadata", "outputTensorMetadata")):
                assert len(sg.get(key, [])) == len(getattr(tsg, tkey) or [])
                for tm, ttm in zip(sg.get(key, []), getattr(tsg, tkey) or []):
                    assert tm.get("name") == (ttm.name.decode() if ttm.name else None)
                    if ttm.content is not None:
                        assert tm["content"]["content_properties_type"] == \
                            kinds[ttm.content.contentPropertiesType]
                    for u, tu in zip(tm.get("process_units", []), ttm.processUnits or []):
                        assert u["options_type"] == units[tu.optionsType]
                        if units[tu.optionsType] == "NormalizationOptions":
                            assert u["options"]["mean"] == tu.options.mean.tolist()
                            assert u["options"]["std"] == tu.options.std.tolist()
                    if ttm.stats is not None and ttm.stats.max is not None:
                        assert tm["stats"]["max"] == ttm.stats.max.tolist()
                    files = [f.name.decode() for f in ttm.associatedFiles or []]
                    assert [f["name"] for f in tm.get("associated_files", [])] == files
    try:
        with zipfile.ZipFile(path) as z:
            want = {i.filename: z.read(i).decode().split() for i in z.infolist()}
    except zipfile.BadZipFile:
        want = {}
    got = {f["name"]: f.get("labels") for f in m.metadata.get("associated_files", [])}
    assert got == want


@pytest.mark.skipif(not MEDIAPIPE_MODELS, reason="mediapipe 0.10 models are not available")
def test_mediapipe_palm_detection_labels_and_normalization():
    path = next((p for p in MEDIAPIPE_MODELS if p.name == "palm_detection_full.tflite"), None)
    if path is None:
        pytest.skip("palm_detection_full.tflite not in this mediapipe")
    m = modelkit.load(path)
    assert md.labels(m) == ["palm"]
    assert md.input_normalization(m) == {m.graphs[0].inputs[0].name:
                                         {"mean": [0.0], "std": [255.0]}}


@pytest.mark.asyncio
async def test_browse_summary_shows_metadata(model_with_metadata):
    from tests.tui.pilot_helpers import summary_view_text

    shown = await summary_view_text(model_with_metadata)
    assert shown.rstrip("\n") == run_cli("summarize", str(model_with_metadata)).stdout.rstrip("\n")
    assert "Digits classifier" in shown and "10 label(s): zero, one" in shown


def test_conversion_tables_are_up_to_date():
    """metadata_tables' ConversionMetadata layout is what TensorFlow's generated module says."""
    from modelkit.formats.tflite import metadata_gen
    from modelkit.formats.tflite._gen_schema_tables import collect

    mod = _conversion_schema_module()
    tables, enums = collect(mod)
    assert (tables, enums) == (T.CONVERSION_TABLES, T.CONVERSION_ENUMS), \
        "regenerate: python -m modelkit.formats.tflite.metadata_gen"
    assert metadata_gen.targets(mod, tables) == T.CONVERSION_TARGETS


def test_metadata_tables_are_up_to_date():
    mod = _metadata_schema_module()
    if mod is None:
        pytest.skip("metadata_schema_py_generated (mediapipe wheel) is not available")
    from modelkit.formats.tflite import metadata_gen
    from modelkit.formats.tflite._gen_schema_tables import collect

    tables, enums = collect(mod)
    assert (tables, enums) == (T.METADATA_TABLES, T.METADATA_ENUMS)
    assert metadata_gen.targets(mod, tables) == T.METADATA_TARGETS
    assert metadata_gen.identifier(mod, "ModelMetadata") == T.METADATA_IDENTIFIER == "M001"


def test_enum_fields_name_schema_fields_and_enums():
    """Every enum-typed field named by hand exists in the generated layouts, with its enum."""
    for (table, field), enum in md.ENUM_FIELDS.items():
        layout = T.METADATA_TABLES.get(table) or T.CONVERSION_TABLES[table]
        assert field in {f[0] for f in layout}
        assert enum in T.METADATA_ENUMS or enum in T.CONVERSION_ENUMS


def test_rewriting_a_model_keeps_its_associated_files(model_with_metadata, tmp_path):
    out = tmp_path / "rewritten.tflite"
    modelkit.save(modelkit.load(model_with_metadata), out)
    with zipfile.ZipFile(model_with_metadata) as a, zipfile.ZipFile(out) as b:
        assert {i.filename: a.read(i) for i in a.infolist()} == \
            {i.filename: b.read(i) for i in b.infolist()}
    assert md.labels(modelkit.load(out)) == LABELS
    _assert_same_outputs(model_with_metadata, out)
