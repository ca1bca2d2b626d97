"""What the convert tests share: `modelkit convert` run in-process, and TensorFlow
imported once per test module (quiet)."""

from __future__ import annotations

import os

import pytest
from typer.testing import CliRunner

from modelkit.cli.main import _register, app

_register()


def cli(*args):
    """Run `modelkit convert ...` in-process; returns typer's Result."""
    return CliRunner().invoke(app, ["convert", *map(str, args)])


@pytest.fixture(scope="module")
def tf():
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
    import tensorflow

    return tensorflow
