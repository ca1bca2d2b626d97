"""Running TFLite models in a child process, so that an interpreter crash, abort or
hang cannot take modelkit down.

`InterpreterWorker` starts `python -m modelkit.reduce.worker` once and sends it one
request per model (a JSON line): the model path, an .npz of the inputs (one array per
input and sample), where to write the outputs. The child loads the model in the
LiteRT interpreter (builtin kernels unless delegates are asked for), allocates, sets
the inputs, invokes, and answers with one JSON line: `ok`, or the stage that failed
(`load`, `prepare`, `invoke`) with the interpreter's message. A child that dies is a
crash (the signal, and the last line it wrote on stderr); one that does not answer
within the timeout is killed. The next request starts a new child.
"""

from __future__ import annotations

import json
import os
import select
import signal
import subprocess
import sys
import tempfile
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np


@dataclass
class RunResult:
    """What one run in the child gave.

    Attributes:
        status: "ok", "load", "prepare", "invoke" (the stage that failed), "crash"
            or "timeout".
        message: the interpreter's message (first line), or how the child died.
        outputs: per output, the arrays of every sample (status "ok").
        tensors: with `dump`: tensor index -> the arrays of every sample; when invoke
            failed on the first sample, that sample's tensors as the interpreter left
            them (those of the ops before the failing one were computed).
    """

    status: str
    message: str = ""
    outputs: list[list[np.ndarray]] = field(default_factory=list)
    tensors: dict[int, list[np.ndarray]] = field(default_factory=dict)

    @property
    def ok(self) -> bool:
        return self.status == "ok"


class InterpreterWorker:
    """A child process that runs TFLite models on request.

    Args:
        timeout: seconds a run may take before the child is killed.
        delegates: let the interpreter apply its default delegates (XNNPACK).
        argv: the child's command line (default: this module under this Python).
    """

    def __init__(self, *, timeout: float = 60.0, delegates: bool = False,
                 argv: list[str] | None = None) -> None:
        self.timeout = timeout
        self.delegates = delegates
        self.argv = argv or [sys.executable, "-m", "modelkit.reduce.worker"]
        self._proc: subprocess.Popen | None = None
        self._scratch = tempfile.TemporaryDirectory(prefix="modelkit-worker-")
        self._stderr_path = Path(self._scratch.name) / "stderr.txt"
        self._stderr = None
        self._count = 0

    def _start(self) -> subprocess.Popen:
        if self._proc is None or self._proc.poll() is not None:
            if self._stderr is not None:
                self._stderr.close()
            self._stderr = open(self._stderr_path, "wb")
            env = {**os.environ, "TF_CPP_MIN_LOG_LEVEL": os.environ.get("TF_CPP_MIN_LOG_LEVEL",
                                                                         "3")}
            self._proc = subprocess.Popen(self.argv, stdin=subprocess.PIPE,
                                          stdout=subprocess.PIPE, stderr=self._stderr,
                                          env=env, start_new_session=True)
        return self._proc

    def run(self, model: str | os.PathLike, feeds: list[list[np.ndarray]], *,
            dump: bool = False) -> RunResult:
        """Run `model` once per sample.

        Args:
            feeds: per input (in the model's input order), the array of every sample.
            dump: also return every tensor the interpreter keeps
                (experimental_preserve_all_tensors).
        """
        self._count += 1
        scratch = Path(self._scratch.name)
        feed_path = scratch / f"in{self._count}.npz"
        out_path = scratch / f"out{self._count}.npz"
        samples = len(feeds[0]) if feeds else 1
        np.savez(feed_path, **{f"i{i}_{s}": a for i, arrays in enumerate(feeds)
                               for s, a in enumerate(arrays)})
        request = {"model": str(model), "feeds": str(feed_path), "out": str(out_path),
                   "inputs": len(feeds), "samples": samples, "dump": dump,
                   "delegates": self.delegates}
        proc = self._start()
        offset = self._stderr_path.stat().st_size
        try:
            assert proc.stdin is not None and proc.stdout is not None
            proc.stdin.write((json.dumps(request) + "\n").encode())
            proc.stdin.flush()
            ready, _, _ = select.select([proc.stdout], [], [], self.timeout)
            line = proc.stdout.readline() if ready else None
        except (BrokenPipeError, OSError):
            line = b""
        finally:
            feed_path.unlink(missing_ok=True)
        if line is None:
            self._kill()
            return RunResult("timeout", f"the interpreter did not finish within "
                                        f"{self.timeout:g} s")
        if not line:
            code = proc.wait()
            return RunResult("crash", self._death(code, offset))
        answer = json.loads(line)
        result = RunResult(answer["status"], answer.get("message", ""))
        if "tensors" not in answer:
            return result
        count = answer["samples"]
        with np.load(out_path) as data:
            for i in range(answer["outputs"]):
                result.outputs.append([data[f"o{i}_{s}"] for s in range(count)])
            for index in answer["tensors"]:
                result.tensors[index] = [data[f"t{index}_{s}"] for s in range(count)]
        out_path.unlink(missing_ok=True)
        return result

    def _death(self, code: int, offset: int) -> str:
        if code < 0:
            try:
                what = f"signal {signal.Signals(-code).name}"
            except ValueError:
                what = f"signal {-code}"
        else:
            what = f"exit code {code}"
        text = ""
        try:
            with open(self._stderr_path, "rb") as f:
                f.seek(offset)
                text = f.read().decode("utf-8", "replace")
        except OSError:
            pass
        last = next((ln.strip() for ln in reversed(text.splitlines()) if ln.strip()), "")
        return f"the interpreter crashed ({what})" + (f": {last}" if last else "")

    def _kill(self) -> None:
        if self._proc is not None and self._proc.poll() is None:
            self._proc.kill()
            self._proc.wait()

    def close(self) -> None:
        """Stop the child and remove the scratch files."""
        if self._proc is not None:
            if self._proc.poll() is None and self._proc.stdin is not None:
                try:
                    self._proc.stdin.close()
                    self._proc.wait(timeout=5)
                except (OSError, subprocess.TimeoutExpired):
                    pass
            self._kill()
            for stream in (self._proc.stdout,):
                if stream is not None:
                    stream.close()
            self._proc = None
        if self._stderr is not None:
            self._stderr.close()
            self._stderr = None
        self._scratch.cleanup()

    def __enter__(self) -> InterpreterWorker:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


# ----------------------------------------------------------------------------- the child


def _first_line(e: BaseException) -> str:
    text = str(e).strip()
    return text.splitlines()[0] if text else type(e).__name__


def _serve_one(request: dict) -> dict:
    import warnings

    from ai_edge_litert.interpreter import Interpreter, OpResolverType

    resolver = (OpResolverType.AUTO if request["delegates"]
                else OpResolverType.BUILTIN_WITHOUT_DEFAULT_DELEGATES)
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            interp = Interpreter(model_path=request["model"],
                                 experimental_op_resolver_type=resolver,
                                 experimental_preserve_all_tensors=request["dump"])
    except (ValueError, RuntimeError) as e:
        return {"status": "load", "message": _first_line(e)}
    samples, count = request["samples"], request["inputs"]
    with np.load(request["feeds"]) as data:
        feeds = [[data[f"i{i}_{s}"] for s in range(samples)] for i in range(count)]
    details = interp.get_input_details()
    if len(details) != count:
        return {"status": "load", "message": f"the model has {len(details)} inputs, "
                                             f"{count} were given"}
    outputs: dict[str, np.ndarray] = {}
    out_details = interp.get_output_details()
    shapes = None
    for s in range(samples):
        try:
            wanted = [tuple(feeds[i][s].shape) for i in range(count)]
            if wanted != shapes:
                for d, shape in zip(details, wanted):
                    if tuple(d["shape"]) != shape:
                        interp.resize_tensor_input(d["index"], list(shape), strict=False)
                interp.allocate_tensors()
                shapes = wanted
        except (RuntimeError, ValueError) as e:
            return {"status": "prepare", "message": _first_line(e)}
        try:
            for d, arrays in zip(details, feeds):
                x = arrays[s]
                interp.set_tensor(d["index"], np.ascontiguousarray(x).reshape(x.shape))
            interp.invoke()
        except (RuntimeError, ValueError) as e:
            if not request["dump"] or s:
                return {"status": "invoke", "message": _first_line(e)}
            # NOTE: the ops before the one that failed did run; the caller keeps their
            # tensors (the values later ops hold are not computed).
            return {**_dump(interp, outputs, s, request["out"], 0), "status": "invoke",
                    "message": _first_line(e)}
        for i, d in enumerate(out_details):
            outputs[f"o{i}_{s}"] = np.array(interp.get_tensor(d["index"]))
        if request["dump"]:
            _keep_tensors(interp, outputs, s)
    return {**_dump(interp, outputs, samples, request["out"], len(out_details)), "status": "ok"}


def _keep_tensors(interp, outputs: dict, sample: int) -> None:
    for t in interp.get_tensor_details():
        try:
            value = interp.get_tensor(t["index"])
        except ValueError:
            continue
        outputs[f"t{t['index']}_{sample}"] = np.array(value)


def _dump(interp, outputs: dict, samples: int, path: str, count: int) -> dict:
    """Write what was kept; for a run that failed (`samples` 0), the tensors of sample 0."""
    if not samples:
        _keep_tensors(interp, outputs, 0)
    tensors = sorted({int(k[1:].split("_")[0]) for k in outputs if k.startswith("t")})
    np.savez(path, **outputs)
    return {"outputs": count, "tensors": tensors, "samples": max(samples, 1)}


def main() -> None:
    """Serve requests from stdin until it closes."""
    for line in sys.stdin:
        if not line.strip():
            continue
        answer = _serve_one(json.loads(line))
        sys.stdout.write(json.dumps(answer) + "\n")
        sys.stdout.flush()


if __name__ == "__main__":
    main()
