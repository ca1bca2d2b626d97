"""The child process that runs models for `reduce`: a crash, an abort or a hang of the
interpreter is a verdict, not the end of modelkit."""

from __future__ import annotations

import sys
import time

import numpy as np

from modelkit.reduce.conditions import Candidate, Refused
from modelkit.reduce.worker import InterpreterWorker
from tests.conftest import SAMPLES

# Children standing in for an interpreter that dies on the first request.
SEGFAULT = ("import os, signal, sys; sys.stdin.readline(); "
            "print('Check failed: index < size', file=sys.stderr, flush=True); "
            "os.kill(os.getpid(), signal.SIGSEGV)")
ABORT = "import os, sys; sys.stdin.readline(); os.abort()"
HANG = "import sys, time; sys.stdin.readline(); time.sleep(60)"


def _feed():
    return [[np.zeros((1, 8, 8, 1), np.int8)]]


def test_a_crash_is_a_result_with_the_signal_and_the_last_stderr_line():
    with InterpreterWorker(argv=[sys.executable, "-c", SEGFAULT]) as w:
        r = w.run(SAMPLES / "digits_int8.tflite", _feed())
        assert r.status == "crash"
        assert r.message == ("the interpreter crashed (signal SIGSEGV): "
                             "Check failed: index < size")
        # the next request starts a new child, which dies the same way
        assert w.run(SAMPLES / "digits_int8.tflite", _feed()).status == "crash"


def test_an_abort_is_a_crash():
    with InterpreterWorker(argv=[sys.executable, "-c", ABORT]) as w:
        r = w.run(SAMPLES / "digits_int8.tflite", _feed())
    assert (r.status, r.message) == ("crash", "the interpreter crashed (signal SIGABRT)")


def test_a_hang_is_killed_after_the_timeout():
    with InterpreterWorker(argv=[sys.executable, "-c", HANG], timeout=1.0) as w:
        t0 = time.perf_counter()
        r = w.run(SAMPLES / "digits_int8.tflite", _feed())
        assert time.perf_counter() - t0 < 10
        assert r.status == "timeout"
        assert w._proc is None or w._proc.poll() is not None


def test_refused_counts_a_crash_when_the_source_crashed():
    with InterpreterWorker(argv=[sys.executable, "-c", SEGFAULT]) as w:
        cond = Refused(w)
        c = Candidate(SAMPLES / "digits_int8.tflite", None, [], [], [], _feed())
        assert cond.baseline(c).failed
        v = cond.evaluate(c)
        assert v.failed and "SIGSEGV" in v.reason


def test_the_real_interpreter_runs_and_keeps_every_tensor():
    from ai_edge_litert.interpreter import Interpreter, OpResolverType

    x = np.load(SAMPLES / "digits_test.npz")["x"][:2]
    it = Interpreter(model_path=str(SAMPLES / "digits_int8.tflite"),
                     experimental_preserve_all_tensors=True,
                     experimental_op_resolver_type=OpResolverType
                     .BUILTIN_WITHOUT_DEFAULT_DELEGATES)
    it.allocate_tensors()
    d = it.get_input_details()[0]
    scale, zp = d["quantization"]
    feeds = [np.clip(np.round(x[i:i + 1] / scale) + zp, -128, 127).astype(np.int8)
             for i in range(2)]
    with InterpreterWorker() as w:
        r = w.run(SAMPLES / "digits_int8.tflite", [feeds], dump=True)
    assert r.ok
    for s, q in enumerate(feeds):
        it.set_tensor(d["index"], q)
        it.invoke()
        out = it.get_output_details()[0]["index"]
        np.testing.assert_array_equal(r.outputs[0][s], it.get_tensor(out))
        np.testing.assert_array_equal(r.tensors[19][s], it.get_tensor(19))
