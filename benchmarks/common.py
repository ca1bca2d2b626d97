"""Whole-process timing for the benchmarks: wall time and peak RSS of a cold process."""

from __future__ import annotations

import json
import statistics
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
WORK = ROOT / "benchmarks" / "_work"
PYTHON = sys.executable
MODELKIT = str(Path(sys.executable).with_name("modelkit"))


@dataclass
class Measure:
    """Medians over the runs; `cpu` is user + system time, which other work on the
    machine does not inflate as it does `wall`."""

    wall: float
    rss_mb: float
    runs: int
    cpu: float = 0.0


# Times one run of a command and reports its own peak RSS. NOTE: Linux keeps a
# forked child's pre-exec high-water mark, so a command started by a process that
# holds TensorFlow (a model just generated) would report that process's peak; this
# small process starts the command instead.
_TIMER = """
import json, os, subprocess, sys, time
t0 = time.perf_counter()
proc = subprocess.Popen(sys.argv[1:], stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
err = proc.stderr.read()
_, status, usage = os.wait4(proc.pid, 0)
wall = time.perf_counter() - t0
print(json.dumps([os.waitstatus_to_exitcode(status), wall, usage.ru_maxrss / 1024,
                  err.decode(errors="replace")[-2000:], usage.ru_utime + usage.ru_stime]))
"""


def measure(cmd: list[str], runs: int = 5, warmup: int = 1) -> Measure:
    """Run `cmd` as a fresh process `warmup + runs` times; medians of the counted runs.

    Peak RSS is the kernel's accounting of the child (ru_maxrss), as /usr/bin/time shows.
    """
    walls, rss, cpus = [], [], []
    for i in range(warmup + runs):
        out = subprocess.run([PYTHON, "-c", _TIMER, *cmd], capture_output=True, text=True,
                             check=True).stdout
        code, wall, peak, err, cpu = json.loads(out)
        if code != 0:
            raise RuntimeError(f"{' '.join(cmd)} exited {code}: {err}")
        if i >= warmup:
            walls.append(wall)
            rss.append(peak)
            cpus.append(cpu)
    return Measure(statistics.median(walls), statistics.median(rss), runs,
                   statistics.median(cpus))


def row(cells: list[str]) -> str:
    """A markdown table row."""
    return "| " + " | ".join(cells) + " |"


def side_by_side(label: str, ours: Measure, theirs: Measure, their_name: str) -> str:
    """A markdown row comparing modelkit with the tool a user would use instead."""
    return row([label, f"{ours.wall:.3f} s", f"{ours.rss_mb:.0f} MB",
                f"{their_name}: {theirs.wall:.3f} s", f"{theirs.rss_mb:.0f} MB",
                f"{theirs.wall / ours.wall:.1f}x faster",
                f"{theirs.rss_mb / ours.rss_mb:.1f}x less memory"])


HEADER = (row(["case", "modelkit wall", "modelkit peak RSS", "alternative wall",
               "alternative peak RSS", "speed", "memory"]) + "\n"
          + row(["---"] * 7))


def precompile() -> None:
    """Write modelkit's bytecode, as installing a package does.

    NOTE: with PYTHONDONTWRITEBYTECODE set (or a read-only checkout) an editable
    install compiles every module at every start, which is not what users run.
    """
    import compileall

    compileall.compile_dir(str(ROOT / "modelkit"), quiet=1)


def generated(path: Path, make) -> Path:
    """`path` (under WORK), made by `make(path)` first when it is missing."""
    WORK.mkdir(parents=True, exist_ok=True)
    if not path.exists():
        print(f"generating {path.name} ...", file=sys.stderr)
        make(path)
    return path


def summarize_vs(label: str, path: Path, make, alternative: str, their_name: str) -> str:
    """Make the model at `path` if missing, then time `modelkit summarize --json` on it
    against `python -c alternative path`; a markdown row."""
    precompile()
    generated(path, make)
    size = path.stat().st_size / 1e6
    ours = measure([MODELKIT, "summarize", "--json", str(path)])
    theirs = measure([PYTHON, "-c", alternative, str(path)])
    return side_by_side(f"{label} ({size:.0f} MB file)", ours, theirs, their_name)
