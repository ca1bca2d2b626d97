"""Ctrl-C that is never lost.

TensorFlow swallows a KeyboardInterrupt that arrives while one of its objects is
collected (an exception raised in `__del__` is only printed), and pybind11 may turn
one raised inside a callback into a RuntimeError. A long command therefore
records SIGINT while it runs (`recording()`), and checks the record between its
stages (`check()`): an interrupt ends the command as interrupted even when the
code that received it went on, and no fallback is taken because of one.

`stage(name)` is `check()` plus a hook for tests: with
`MODELKIT_TEST_SIGINT_AT=<name>` the process sends itself SIGINT there, and with
`<name>:swallowed` it does so inside a `__del__`, where Python drops the
KeyboardInterrupt, as TensorFlow's objects do.
"""

from __future__ import annotations

import os
import signal
import threading
from collections.abc import Iterator
from contextlib import contextmanager

TEST_HOOK = "MODELKIT_TEST_SIGINT_AT"

_received = False


def _record(signum, frame) -> None:
    global _received
    _received = True
    raise KeyboardInterrupt


@contextmanager
def recording() -> Iterator[None]:
    """Record SIGINT for the block (it still raises KeyboardInterrupt as usual); a
    block that received one ends with KeyboardInterrupt, whatever else it raised or
    even when it went on to the end.

    Nothing is installed outside the main thread, or when SIGINT is ignored (a
    process started in the background), or already handled by someone else.
    """
    global _received
    _received = False
    if threading.current_thread() is not threading.main_thread() or \
            signal.getsignal(signal.SIGINT) is not signal.default_int_handler:
        yield
        return
    previous = signal.signal(signal.SIGINT, _record)
    try:
        yield
    except BaseException:
        if _received:
            raise KeyboardInterrupt from None
        raise
    else:
        check()
    finally:
        signal.signal(signal.SIGINT, previous)
        _received = False


def received() -> bool:
    """True when SIGINT arrived inside `recording()` (even if it was swallowed)."""
    return _received


def check() -> None:
    """Raise KeyboardInterrupt when SIGINT arrived, even if it was swallowed."""
    if _received:
        raise KeyboardInterrupt


class _SwallowingCollect:
    """Sends SIGINT while being collected: the KeyboardInterrupt is raised in
    `__del__`, which Python reports and drops."""

    def __del__(self) -> None:
        os.kill(os.getpid(), signal.SIGINT)
        for _ in range(10000):  # NOTE: the handler runs at the next bytecode boundary.
            pass


def stage(name: str) -> None:
    """The start of stage `name`: `check()`, then the test hook (see the module doc)."""
    check()
    where, _, how = os.environ.get(TEST_HOOK, "").partition(":")
    if where != name:
        return
    if how == "swallowed":
        _SwallowingCollect()
    else:
        os.kill(os.getpid(), signal.SIGINT)
        for _ in range(10000):
            pass
