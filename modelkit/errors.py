"""Errors a user can act on, each mapped to the exit code the CLI returns."""

from __future__ import annotations

from enum import IntEnum


class ExitCode(IntEnum):
    """Process exit codes of every modelkit command."""

    OK = 0
    """The command did what was asked."""
    FAILURE = 1
    """The operation failed (conversion error, broken verification result)."""
    USAGE = 2
    """The command line is wrong (bad option, existing output without --force)."""
    UNREADABLE = 3
    """The model could not be read: missing, empty, truncated, corrupt or unknown format."""
    UNSUPPORTED = 4
    """The model holds ops the target cannot take, or a check failed."""
    INTERRUPTED = 130
    """Stopped by Ctrl-C."""


class ModelkitError(Exception):
    """Base of every error the CLI reports as one line.

    Args:
        message: what is wrong and, where it helps, what to do.
        path: the file concerned; the CLI prefixes it to the message.
    """

    exit_code: ExitCode = ExitCode.FAILURE

    def __init__(self, message: str, path: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.path = None if path is None else str(path)

    def __str__(self) -> str:
        return f"{self.path}: {self.message}" if self.path else self.message


class UsageError(ModelkitError):
    """The request cannot be carried out as given (wrong option, bad name)."""

    exit_code = ExitCode.USAGE


class OutputExistsError(UsageError):
    """The output exists and --force was not given, or it is the input itself."""


class ModelReadError(ModelkitError):
    """A model file or folder could not be read."""

    exit_code = ExitCode.UNREADABLE


class UnknownFormatError(ModelReadError):
    """No adapter recognizes the file."""


class UnsupportedError(ModelkitError):
    """The model holds something the target cannot take (ops, types)."""

    exit_code = ExitCode.UNSUPPORTED


class ConversionError(ModelkitError):
    """The converter failed."""


class VerificationError(ModelkitError):
    """A converted model is numerically broken (NaN, constant output)."""


class UnsafeOpsError(UnsupportedError):
    """The graph holds ops that act on the host (files, Python, network); running or
    converting it would carry them out. `--allow-unsafe-ops` overrides."""


class MissingDependencyError(ModelkitError):
    """An optional part of the installation that the request needs is not installed
    (TensorFlow for converting and running TF graphs); the message names the install
    command."""

    exit_code = ExitCode.USAGE
