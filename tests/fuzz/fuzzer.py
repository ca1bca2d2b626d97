"""Mutation fuzzer over every format's samples: `make fuzz` runs it.

Each mutant is a sample with one seeded mutation (bit flips, interesting values,
truncation, chunk duplication, zeroed runs, flatbuffer offset corruption, zip
member corruption) written to a scratch folder and read as `modelkit summarize`
reads it (detect, load, summary as JSON and text, every tensor's data). The
mutant `(seed, format, index)` is always the same bytes, so any result can be
replayed.

Mutants run in worker processes that read many of them in turn (starting a
Python process per mutant would cost more than the reading). A supervisor
watches each worker: a mutant that outlives the time limit (a hang), a worker
that dies (a crash), a process tree over the memory limit, a traceback or an
exit code other than 0 or 3 is a bad result; the worker is replaced and the
mutant is kept under tests/data/fuzz/ (the file or folder plus a `.json` that
says how it was made and what happened), where tests/fuzz/test_fuzz.py replays
it as a regression test.

Run: python -m tests.fuzz.fuzzer [-n 10000] [--seed 0] [--formats tflite,...] [--jobs 2]
"""

from __future__ import annotations

import argparse
import json
import os
import random
import select
import shutil
import signal
import struct
import subprocess
import sys
import tempfile
import time
import zipfile
from dataclasses import dataclass, field
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
SAMPLES = ROOT / "samples"
TEST_DATA = ROOT / "tests" / "data"
REPRODUCERS = TEST_DATA / "fuzz"

# Per mutant: wall seconds before it counts as a hang, and bytes of memory the
# worker tree may grow by while reading it.
TIME_LIMIT = 10.0
MEMORY_LIMIT = 1 << 30
# Exit codes a command may end with on a mutant: read, or could not be read.
GOOD_EXIT_CODES = (0, 3)


@dataclass(frozen=True)
class Sample:
    """A sample to mutate: a file, or a folder and the files inside it worth mutating."""

    format: str
    path: Path
    inner: tuple[str, ...] = ()
    load_at: str = ""


def samples() -> dict[str, list[Sample]]:
    """Every format's samples that exist in this checkout, by format name."""
    by_format: dict[str, list[Sample]] = {
        "tflite": [Sample("tflite", p) for p in sorted(SAMPLES.glob("*.tflite"))]
        + [Sample("tflite", p) for p in sorted(TEST_DATA.glob("*.tflite"))],
        "graphdef": [Sample("graphdef", SAMPLES / n) for n in
                     ("digits_frozen.pb", "digits_frozen.pbtxt", "digits_legacy_quantized.pb")],
        "savedmodel": [Sample("savedmodel", SAMPLES / "digits_savedmodel",
                              ("saved_model.pb", "variables/variables.index",
                               "variables/variables.data-00000-of-00001", "fingerprint.pb"))],
        "checkpoint": [Sample("checkpoint", SAMPLES / "digits_ckpt",
                              ("model.ckpt.index", "model.ckpt.meta", "checkpoint",
                               "model.ckpt.data-00000-of-00001"), "model.ckpt")],
        "keras_h5": [Sample("keras_h5", SAMPLES / n)
                     for n in ("digits_keras.h5", "digits_keras2.h5")],
        "keras_zip": [Sample("keras_zip", p) for p in sorted(SAMPLES.glob("*.keras"))],
    }
    return {k: [s for s in v if s.path.exists()] for k, v in by_format.items()
            if any(s.path.exists() for s in v)}


# ----------------------------------------------------------------------------- mutations

_INTERESTING = {
    1: [0, 1, 0x7F, 0x80, 0xFF, 0x10, 0x20, 0x40],
    2: [0, 1, 0x7FFF, 0x8000, 0xFFFF, 0x100, 0x1000],
    4: [0, 1, 0x7FFFFFFF, 0x80000000, 0xFFFFFFFF, 0x10000, 0x1000000, 0x7FFFFFF0],
    8: [0, 1, (1 << 63) - 1, 1 << 63, (1 << 64) - 1, 1 << 32, 1 << 40],
}


def _bitflip(data: bytearray, rng: random.Random) -> str:
    n = rng.randint(1, 8)
    for _ in range(n):
        pos = rng.randrange(len(data))
        data[pos] ^= 1 << rng.randrange(8)
    return f"bitflip x{n}"


def _bytes(data: bytearray, rng: random.Random) -> str:
    n = rng.randint(1, 16)
    for _ in range(n):
        data[rng.randrange(len(data))] = rng.randrange(256)
    return f"random bytes x{n}"


def _interesting(data: bytearray, rng: random.Random) -> str:
    width = rng.choice((1, 2, 4, 8))
    if len(data) < width:
        return _bitflip(data, rng)
    pos = rng.randrange(len(data) - width + 1)
    if rng.random() < 0.5:
        pos -= pos % width
    values = _INTERESTING[width] + [len(data) % (1 << (8 * width)),
                                    (len(data) + 1) % (1 << (8 * width))]
    value = rng.choice(values)
    order = rng.choice(("little", "big"))
    data[pos:pos + width] = value.to_bytes(width, order)
    return f"interesting {width}B {value:#x} ({order}) at {pos}"


def _truncate(data: bytearray, rng: random.Random) -> str:
    cut = rng.randrange(len(data))
    del data[cut:]
    return f"truncate at {cut}"


def _duplicate(data: bytearray, rng: random.Random) -> str:
    start = rng.randrange(len(data))
    length = min(rng.randint(1, 4096), len(data) - start)
    at = rng.randrange(len(data) + 1)
    data[at:at] = data[start:start + length]
    return f"duplicate {length}B from {start} to {at}"


def _zeros(data: bytearray, rng: random.Random) -> str:
    start = rng.randrange(len(data))
    length = min(rng.randint(1, 256), len(data) - start)
    data[start:start + length] = bytes(length)
    return f"zero {length}B at {start}"


def _flatbuffer_offset(data: bytearray, rng: random.Random) -> str:
    """Corrupt a 4-byte little-endian word that looks like a flatbuffer offset."""
    words = [p for p in range(0, len(data) - 3, 4)
             if 0 < struct.unpack_from("<I", data, p)[0] < len(data)]
    if not words:
        return _interesting(data, rng)
    pos = rng.choice(words)
    old = struct.unpack_from("<I", data, pos)[0]
    new = rng.choice([0, 4, old + 4, old - 4, old * 2, len(data) - pos, len(data) - pos - 4,
                      0x7FFFFFFF, 0xFFFFFFFC, rng.randrange(len(data)), pos]) & 0xFFFFFFFF
    struct.pack_into("<I", data, pos, new)
    return f"flatbuffer offset at {pos}: {old} -> {new}"


_BYTE_MUTATORS = [_bitflip, _bytes, _interesting, _truncate, _duplicate, _zeros]


def mutate_bytes(data: bytes, rng: random.Random, fmt: str) -> tuple[bytes, str]:
    """One mutation of `data`; flatbuffers also get offset corruption."""
    buf = bytearray(data)
    if not buf:
        return bytes(rng.randrange(256) for _ in range(rng.randint(1, 64))), "random bytes"
    mutators = list(_BYTE_MUTATORS)
    if fmt == "tflite":
        mutators += [_flatbuffer_offset] * 3
    how = rng.choice(mutators)(buf, rng)
    return bytes(buf), how


def mutate_zip(data: bytes, rng: random.Random) -> tuple[bytes, str]:
    """Corrupt a zip: one member's content (the archive stays valid) or its raw bytes."""
    import io

    if rng.random() < 0.3:
        return mutate_bytes(data, rng, "zip")
    src = zipfile.ZipFile(io.BytesIO(data))
    infos = src.infolist()
    victim = rng.choice(infos)
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w") as dst:
        for info in infos:
            content = src.read(info)
            if info is victim:
                content, how = mutate_bytes(content, rng, "tflite" if
                                            info.filename.endswith(".tflite") else "zip")
            dst.writestr(info, content, compress_type=info.compress_type)
    return out.getvalue(), f"zip member {victim.filename}: {how}"


def make_mutant(sample: Sample, seed: int, index: int, dest: Path) -> tuple[Path, str]:
    """Write mutant `index` of `sample` under `dest`; the path to load and what changed."""
    rng = random.Random(f"{seed}:{sample.format}:{sample.path.name}:{index}")
    if sample.path.is_dir():
        target_dir = dest / sample.path.name
        shutil.copytree(sample.path, target_dir)
        inner = rng.choice(sample.inner)
        victim = target_dir / inner
        data, how = mutate_bytes(victim.read_bytes(), rng, sample.format)
        victim.write_bytes(data)
        return target_dir / sample.load_at if sample.load_at else target_dir, f"{inner}: {how}"
    dest.mkdir(parents=True, exist_ok=True)
    victim = dest / sample.path.name
    raw = sample.path.read_bytes()
    if sample.format == "keras_zip":
        data, how = mutate_zip(raw, rng)
    else:
        data, how = mutate_bytes(raw, rng, sample.format)
    victim.write_bytes(data)
    return victim, how


# ----------------------------------------------------------------------------- worker

def read_like_the_cli(path: str) -> int:
    """Read a model as `modelkit summarize` does, then touch every tensor's data.

    Returns:
        the exit code the CLI would give (0, or a ModelkitError's code).
    """
    import io

    from modelkit.analysis.render import render_summary
    from modelkit.analysis.summary import summarize
    from modelkit.cli import output
    from modelkit.errors import ModelkitError
    from modelkit.formats.registry import load

    try:
        model = load(path)
        facts = summarize(model, tensors=True)
        saved, sys.stdout = sys.stdout, io.StringIO()
        try:
            output.emit_json(facts)
            output.emit_text(render_summary(facts))
        finally:
            sys.stdout = saved
        for graph in model.graphs:
            for value in graph.values:
                if value.data is not None:
                    value.data.numpy()
    except ModelkitError as e:
        return int(e.exit_code)
    return 0


def _peak_rss() -> int:
    """This process's peak resident memory in bytes since the last reset."""
    with open("/proc/self/status") as f:
        for line in f:
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) * 1024
    return 0


def _reset_peak() -> None:
    try:
        with open("/proc/self/clear_refs", "w") as f:
            f.write("5")
    except OSError:
        pass


def worker_main() -> None:
    """Read mutant paths from stdin (one JSON job a line), answer one JSON line each."""
    import resource
    import traceback

    # NOTE: import everything once, so the first mutant does not pay for it and the
    # memory baseline includes the libraries.
    import h5py  # noqa: F401
    import numpy  # noqa: F401

    from modelkit.analysis import render, summary  # noqa: F401
    from modelkit.formats import (checkpoint, graphdef, keras_h5, savedmodel,  # noqa: F401
                                  tflite)

    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
    limit = int(os.environ.get("MODELKIT_FUZZ_MEMORY", MEMORY_LIMIT))
    with open("/proc/self/status") as f:
        vm = next(int(line.split()[1]) * 1024 for line in f if line.startswith("VmSize:"))
    # NOTE: a backstop for the machine; the supervisor enforces the real limit.
    resource.setrlimit(resource.RLIMIT_AS, (vm + 4 * limit, vm + 4 * limit))
    # NOTE: the supervisor's own tests make the worker misbehave on purpose.
    inject = os.environ.get("MODELKIT_FUZZ_INJECT", "")
    out = sys.stdout
    sys.stdout = open(os.devnull, "w")
    for line in sys.stdin:
        job = json.loads(line)
        _reset_peak()
        base = _peak_rss()
        start = time.monotonic()
        result: dict = {"id": job["id"]}
        try:
            if inject == "traceback":
                raise RuntimeError("injected failure")
            if inject == "hang":
                time.sleep(3600)
            if inject == "crash":
                os.kill(os.getpid(), signal.SIGSEGV)
            if inject == "memory":
                _blob = b"\x01" * (2 * limit)  # noqa: F841
            result["exit"] = read_like_the_cli(job["path"])
        except MemoryError:
            result["exit"] = -1
            result["error"] = "MemoryError"
        except Exception:  # NOTE: the point of the fuzzer: every other exception is a bug.
            result["exit"] = -1
            result["error"] = traceback.format_exc()[-4000:]
        result["seconds"] = time.monotonic() - start
        result["memory"] = max(0, _peak_rss() - base)
        out.write(json.dumps(result) + "\n")
        out.flush()


# ----------------------------------------------------------------------------- supervisor

@dataclass
class Outcome:
    """Counts of one format's campaign."""

    mutants: int = 0
    exit_codes: dict = field(default_factory=dict)
    bad: list = field(default_factory=list)
    max_seconds: float = 0.0
    max_memory: int = 0


class Worker:
    """One worker process and the mutant it is reading."""

    def __init__(self) -> None:
        env = {**os.environ, "TF_CPP_MIN_LOG_LEVEL": "3", "PYTHONPATH": str(ROOT)}
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "tests.fuzz.fuzzer", "--worker"], cwd=ROOT, env=env,
            stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL,
            start_new_session=True, text=True, bufsize=1)
        self.job: dict | None = None
        self.started = 0.0

    def send(self, job: dict) -> None:
        self.job = job
        self.started = time.monotonic()
        assert self.proc.stdin is not None
        self.proc.stdin.write(json.dumps({"id": job["id"], "path": job["path"]}) + "\n")
        self.proc.stdin.flush()

    def tree_rss(self) -> int:
        """Proportional resident bytes (PSS) of the worker and its children (the HDF5
        reader child); a forked child's pages shared with the worker count once."""
        total = 0
        pids = [self.proc.pid]
        while pids:
            pid = pids.pop()
            try:
                with open(f"/proc/{pid}/smaps_rollup") as f:
                    total += next((int(x.split()[1]) * 1024 for x in f
                                   if x.startswith("Pss:")), 0)
                with open(f"/proc/{pid}/task/{pid}/children") as f:
                    pids.extend(int(c) for c in f.read().split())
            except (OSError, ValueError):
                continue
        return total

    def kill(self) -> None:
        try:
            os.killpg(self.proc.pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
        self.proc.wait()


def _keep(job: dict, kind: str, detail: str, out_dir: Path) -> Path:
    """Copy a bad mutant into `out_dir` with a `.json` that describes it."""
    out_dir.mkdir(parents=True, exist_ok=True)
    src = Path(job["root"])
    name = f"{job['format']}-{job['seed']}-{job['index']}"
    dest = out_dir / name
    if dest.exists():
        shutil.rmtree(dest)
    shutil.copytree(src, dest)
    load_at = Path(job["path"]).relative_to(src)
    (out_dir / f"{name}.json").write_text(json.dumps({
        "format": job["format"], "sample": job["sample"], "seed": job["seed"],
        "index": job["index"], "mutation": job["mutation"], "load": str(load_at),
        "result": kind, "detail": detail[-2000:]}, indent=2) + "\n")
    return dest


def reproducer_path(manifest: Path) -> Path:
    """The path to load for a kept reproducer, from its `.json`."""
    info = json.loads(manifest.read_text())
    return manifest.with_suffix("") / info["load"]


def campaign(formats: dict[str, list[Sample]], count: int, seed: int, jobs: int = 1,
             time_limit: float = TIME_LIMIT, memory_limit: int = MEMORY_LIMIT,
             keep_dir: Path | None = REPRODUCERS, progress: bool = False) -> dict[str, Outcome]:
    """Run `count` mutants per format; bad ones are kept under `keep_dir`."""
    outcomes = {name: Outcome() for name in formats}
    todo = [(name, i) for name in formats for i in range(count)]
    todo.reverse()
    scratch = Path(tempfile.mkdtemp(prefix="modelkit-fuzz-"))
    workers: list[Worker] = []
    done = 0
    last_report = time.monotonic()

    def finish(worker: Worker, kind: str | None, result: dict) -> None:
        nonlocal done
        job = worker.job
        assert job is not None
        out = outcomes[job["format"]]
        out.mutants += 1
        code = result.get("exit")
        out.exit_codes[str(code)] = out.exit_codes.get(str(code), 0) + 1
        out.max_seconds = max(out.max_seconds, result.get("seconds", 0.0))
        out.max_memory = max(out.max_memory, result.get("memory", 0))
        if kind is None and result.get("error") == "MemoryError":
            kind = "memory"
        if kind is None and code not in GOOD_EXIT_CODES:
            kind = "traceback" if result.get("error") else f"exit {code}"
        if kind is None and result.get("memory", 0) > memory_limit:
            kind = "memory"
        if kind is not None:
            detail = result.get("error") or kind
            kept = _keep(job, kind, detail, keep_dir) if keep_dir else None
            out.bad.append({"index": job["index"], "result": kind, "mutation": job["mutation"],
                            "kept": str(kept) if kept else None, "detail": detail[-300:]})
            print(f"BAD {job['format']} #{job['index']} {kind}: {job['mutation']}"
                  f"{' -> ' + str(kept) if kept else ''}\n  {detail[-300:]}",
                  file=sys.stderr, flush=True)
        shutil.rmtree(job["root"], ignore_errors=True)
        worker.job = None
        done += 1

    try:
        while todo or any(w.job for w in workers):
            while len(workers) < jobs:
                workers.append(Worker())
            for w in workers:
                if w.job is None and todo:
                    name, i = todo.pop()
                    sample = formats[name][i % len(formats[name])]
                    root = scratch / f"{name}-{i}"
                    path, how = make_mutant(sample, seed, i, root)
                    w.send({"id": i, "format": name, "index": i, "seed": seed,
                            "sample": str(sample.path.relative_to(ROOT)), "mutation": how,
                            "root": str(root), "path": str(path)})
            busy = [w for w in workers if w.job is not None]
            ready = select.select([w.proc.stdout for w in busy], [], [], 0.05)[0]
            for w in list(busy):
                if w.proc.stdout in ready:
                    line = w.proc.stdout.readline()
                    if line:
                        finish(w, None, json.loads(line))
                        continue
                    w.proc.wait()
                    finish(w, "crash", {"exit": w.proc.returncode,
                                        "error": f"worker died (exit {w.proc.returncode})"})
                    workers.remove(w)
                    continue
                elapsed = time.monotonic() - w.started
                rss = w.tree_rss()
                if elapsed > time_limit or rss > memory_limit + (512 << 20):
                    kind = "hang" if elapsed > time_limit else "memory"
                    w.kill()
                    finish(w, kind, {"exit": None, "seconds": elapsed, "memory": rss,
                                     "error": f"{kind}: killed after {elapsed:.1f} s at "
                                              f"{rss >> 20} MB"})
                    workers.remove(w)
            if progress and time.monotonic() - last_report > 30:
                last_report = time.monotonic()
                print(f"{done}/{len(todo) + done + sum(1 for w in workers if w.job)} mutants",
                      file=sys.stderr, flush=True)
    finally:
        for w in workers:
            w.kill()
        shutil.rmtree(scratch, ignore_errors=True)
    return outcomes


def report(outcomes: dict[str, Outcome], count: int, seed: int) -> str:
    """A markdown table of a campaign."""
    lines = [f"Seed {seed}, {count} mutants per format.", "",
             "| format | mutants | read (exit 0) | rejected (exit 3) | bad | slowest | "
             "most memory |", "| --- | --- | --- | --- | --- | --- | --- |"]
    for name, o in outcomes.items():
        lines.append(f"| {name} | {o.mutants} | {o.exit_codes.get('0', 0)} | "
                     f"{o.exit_codes.get('3', 0)} | {len(o.bad)} | {o.max_seconds:.2f} s | "
                     f"{o.max_memory / 2**20:.0f} MB |")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("-n", "--count", type=int, default=10_000, help="Mutants per format.")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--formats", default="", help="Comma-separated format names.")
    parser.add_argument("--jobs", type=int, default=1, help="Worker processes.")
    parser.add_argument("--time-limit", type=float, default=TIME_LIMIT)
    parser.add_argument("--keep", type=Path, default=REPRODUCERS,
                        help="Folder for reproducers of bad results.")
    parser.add_argument("--replay", type=Path, metavar="JSON",
                        help="Read one kept reproducer (its .json) as the CLI would; exit "
                             "with the code the CLI gives.")
    parser.add_argument("--worker", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.worker:
        worker_main()
        return 0
    if args.replay:
        return read_like_the_cli(str(reproducer_path(args.replay)))
    formats = samples()
    if args.formats:
        wanted = args.formats.split(",")
        formats = {k: v for k, v in formats.items() if k in wanted}
    start = time.monotonic()
    outcomes = campaign(formats, args.count, args.seed, args.jobs, args.time_limit,
                        keep_dir=args.keep, progress=True)
    print(report(outcomes, args.count, args.seed))
    print(f"\n{time.monotonic() - start:.0f} s", file=sys.stderr)
    return 1 if any(o.bad for o in outcomes.values()) else 0


if __name__ == "__main__":
    sys.exit(main())
