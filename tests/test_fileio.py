"""Outputs never lose what a user has: folders, inputs, the current folder.

The oracle is the file system itself: every file that was there before a refused
command is there after it, byte for byte, and nothing new appears.
"""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import pytest

from modelkit.errors import ExitCode, OutputExistsError, UsageError
from modelkit.fileio import atomic_output, check_output
from tests.conftest import SAMPLES, run_cli

INT8 = SAMPLES / "digits_int8.tflite"
FROZEN = SAMPLES / "digits_frozen.pb"


def _snapshot(root: Path) -> dict[str, bytes | None]:
    """Every path under root with its bytes (None for folders)."""
    out: dict[str, bytes | None] = {}
    for p in sorted(root.rglob("*")):
        out[str(p.relative_to(root))] = None if p.is_dir() else p.read_bytes()
    return out


@pytest.fixture
def user_folder(tmp_path: Path) -> Path:
    """A folder of a user's files, holding a model and its data."""
    m = tmp_path / "m"
    m.mkdir()
    shutil.copy(INT8, m / "model.tflite")
    shutil.copy(FROZEN, m / "mine.pb")
    shutil.copy(SAMPLES / "digits_test.npz", m / "x.npz")
    (m / "notes.txt").write_text("the user's own notes\n")
    return m


# -- the library rules ---------------------------------------------------------------

def test_file_output_never_replaces_a_folder(tmp_path: Path) -> None:
    folder = tmp_path / "out.tflite"
    folder.mkdir()
    (folder / "keep").write_text("x")
    with pytest.raises(OutputExistsError, match="a file output never replaces a folder"):
        check_output(folder, force=True)
    assert (folder / "keep").read_text() == "x"


def test_folder_output_replaces_only_a_savedmodel(tmp_path: Path) -> None:
    plain = tmp_path / "plain"
    plain.mkdir()
    (plain / "keep").write_text("x")
    with pytest.raises(OutputExistsError, match="not a SavedModel"):
        check_output(plain, force=True, folder=True)

    sm = tmp_path / "sm"
    sm.mkdir()
    (sm / "saved_model.pb").write_bytes(b"old")
    with atomic_output(sm, force=True, folder=True) as tmp:
        tmp.mkdir()
        (tmp / "saved_model.pb").write_bytes(b"new")
    assert _snapshot(sm) == {"saved_model.pb": b"new"}
    assert [p.name for p in tmp_path.iterdir() if p.name.startswith(".")] == []


def test_output_holding_an_input_is_refused_even_with_force(user_folder: Path) -> None:
    with pytest.raises(OutputExistsError, match="holds the input"):
        check_output(user_folder, force=True, sources=(user_folder / "model.tflite",),
                     folder=True)
    with pytest.raises(OutputExistsError, match="holds the input"):
        check_output(user_folder.parent, force=True, sources=(user_folder / "mine.pb",),
                     folder=True)


def test_current_folder_is_never_an_output(user_folder: Path, monkeypatch) -> None:
    monkeypatch.chdir(user_folder)
    for dst in (".", "..", str(user_folder)):
        with pytest.raises(OutputExistsError, match="current folder"):
            check_output(dst, force=True, folder=True)


def test_empty_output_path_is_a_usage_error() -> None:
    with pytest.raises(UsageError, match="empty"):
        check_output("", force=True)


def test_parent_that_is_a_file_is_a_usage_error(tmp_path: Path) -> None:
    f = tmp_path / "afile"
    f.write_text("x")
    with pytest.raises(UsageError, match="is not a folder"):
        check_output(f / "out.tflite", force=True)
    assert f.read_text() == "x"


def test_failed_write_leaves_nothing_behind(tmp_path: Path) -> None:
    dst = tmp_path / "new" / "deeper" / "out.tflite"
    with pytest.raises(RuntimeError):
        with atomic_output(dst) as tmp:
            tmp.write_bytes(b"partial")
            raise RuntimeError("the work failed")
    assert list(tmp_path.iterdir()) == []


def test_force_replaces_an_existing_file_atomically(tmp_path: Path) -> None:
    dst = tmp_path / "out.bin"
    dst.write_bytes(b"old")
    with atomic_output(dst, force=True) as tmp:
        tmp.write_bytes(b"new")
    assert dst.read_bytes() == b"new"
    assert [p.name for p in tmp_path.iterdir()] == ["out.bin"]


def test_symlink_to_the_input_is_the_input(tmp_path: Path) -> None:
    src = tmp_path / "model.tflite"
    shutil.copy(INT8, src)
    link = tmp_path / "link.tflite"
    link.symlink_to(src)
    with pytest.raises(OutputExistsError, match="is the input"):
        check_output(link, force=True, sources=(src,))


# -- every writing command, as a user runs it ---------------------------------------

def _refused(result, folder: Path, before: dict) -> None:
    assert result.returncode == ExitCode.USAGE, result.stderr
    assert "Traceback" not in result.stderr
    assert len(result.stderr.strip().splitlines()) == 1, result.stderr
    assert _snapshot(folder) == before


def test_run_output_onto_the_model_folder(user_folder: Path) -> None:
    before = _snapshot(user_folder)
    r = run_cli("run", str(user_folder / "model.tflite"), "--data", str(user_folder / "x.npz"),
                "-o", str(user_folder), "--force")
    _refused(r, user_folder, before)


def test_fix_output_onto_the_model_folder(user_folder: Path) -> None:
    before = _snapshot(user_folder)
    r = run_cli("fix", str(user_folder / "model.tflite"), str(user_folder), "--force")
    _refused(r, user_folder, before)


def test_transform_output_onto_a_folder_named_like_a_model(user_folder: Path,
                                                           tmp_path: Path) -> None:
    target = tmp_path / "out.pb"
    target.mkdir()
    (target / "keep.txt").write_text("mine")
    before = _snapshot(target)
    r = run_cli("transform", str(user_folder / "mine.pb"), str(target), "--force",
                "--transforms", "strip_unused_nodes")
    _refused(r, target, before)


def test_convert_into_the_current_folder(user_folder: Path) -> None:
    before = _snapshot(user_folder)
    r = run_cli("convert", "mine.pb", ".", "--force", cwd=user_folder)
    _refused(r, user_folder, before)


def test_convert_onto_a_folder_of_user_files(tmp_path: Path) -> None:
    important = tmp_path / "important"
    important.mkdir()
    (important / "thesis.tex").write_text("years of work")
    before = _snapshot(important)
    r = run_cli("convert", str(FROZEN), str(important), "--force")
    _refused(r, important, before)


def test_debug_save_onto_a_folder(user_folder: Path) -> None:
    before = _snapshot(user_folder)
    r = run_cli("debug", str(user_folder / "model.tflite"), "--data",
                str(user_folder / "x.npz"), "--save", str(user_folder), "--force")
    _refused(r, user_folder, before)


def test_empty_output_path_on_the_command_line(user_folder: Path) -> None:
    before = _snapshot(user_folder)
    r = run_cli("run", str(user_folder / "model.tflite"), "--data", str(user_folder / "x.npz"),
                "-o", "", "--force")
    _refused(r, user_folder, before)


def test_force_onto_an_existing_file_still_works(tmp_path: Path) -> None:
    import numpy as np

    dst = tmp_path / "outputs.npz"
    dst.write_bytes(b"an older result")
    r = run_cli("run", str(INT8), "--data", str(SAMPLES / "digits_test.npz"), "-o", str(dst),
                "--force")
    assert r.returncode == 0, r.stderr
    with np.load(dst) as saved:
        assert len(saved.files) >= 1
    assert sorted(os.listdir(tmp_path)) == ["outputs.npz"]


def test_unwritable_folder_is_one_usage_error(tmp_path: Path) -> None:
    """A folder the process cannot write in (read-only mount, chmod 555; as root, only
    a read-only bind or the immutable flag stops a write, so the refusal is simulated
    where the write is attempted)."""
    import tempfile
    from unittest import mock

    dst = tmp_path / "ro" / "out.tflite"
    with mock.patch.object(tempfile, "mkdtemp",
                           side_effect=PermissionError(13, "Permission denied")):
        with pytest.raises(UsageError, match="cannot write in the output's folder: "
                                             "Permission denied"):
            with atomic_output(dst):
                pass
    assert list(tmp_path.iterdir()) == []


def test_trailing_slash_names_a_folder(tmp_path: Path) -> None:
    src = tmp_path / "in.tflite"
    src.write_bytes(b"model")
    with pytest.raises(UsageError, match="names a folder"):
        check_output(str(tmp_path / "other.tflite") + "/", force=True)
    assert src.read_bytes() == b"model"
