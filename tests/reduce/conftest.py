"""The deep int8 model `reduce` is measured on, made once per session into tmp."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest

from tests.conftest import ROOT
from tests.reduce import deep_model


@pytest.fixture(scope="session")
def deep(tmp_path_factory) -> dict:
    """deep_int8/deep_float/deep_calib plus `refused` and `wrong` copies (op 140 broken),
    made in a child process so TensorFlow stays out of the test process."""
    out = tmp_path_factory.mktemp("deep")
    env = {**os.environ, "TF_CPP_MIN_LOG_LEVEL": "3"}
    subprocess.run([sys.executable, "-m", "tests.reduce.deep_model", str(out)], cwd=ROOT,
                   env=env, check=True, capture_output=True, timeout=600)
    return {"int8": out / "deep_int8.tflite", "float": out / "deep_float.tflite",
            "calib": out / "deep_calib.npy", "refused": out / "deep_refused.tflite",
            "wrong": out / "deep_wrong.tflite", "faulty": 2 * deep_model.FAULTY_BLOCK,
            "ops": 2 * deep_model.BLOCKS}
