"""Shared fixtures: paths to the committed samples and a CLI runner."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
SAMPLES = ROOT / "samples"
MODELKIT = str(Path(sys.executable).with_name("modelkit"))


def run_cli(*args: str, timeout: float = 120, env: dict | None = None,
            cwd: str | os.PathLike | None = None) -> subprocess.CompletedProcess:
    """Run the installed `modelkit` command as a user would; capture text output."""
    full_env = {**os.environ, **(env or {})}
    return subprocess.run([MODELKIT, *args], capture_output=True, text=True, timeout=timeout,
                          env=full_env, cwd=cwd or ROOT)


@pytest.fixture(scope="session")
def samples() -> Path:
    return SAMPLES


def _hypothesis_profiles() -> None:
    """Property tests explore new inputs locally; in CI (CI=true) they replay fixed ones."""
    from hypothesis import settings

    settings.register_profile("ci", derandomize=True, print_blob=True)
    if os.environ.get("CI"):
        settings.load_profile("ci")


_hypothesis_profiles()
