"""`modelkit check DIR` (one call, worker processes) against one `modelkit check FILE`
call per model, one after the other and `nproc` at a time (xargs -P), on 25 models.

The folder holds copies of the committed samples (the seven TFLite files, the frozen
GraphDef, the two Keras files), 25 files in all, every one of which checks clean.
"""

from __future__ import annotations

import os
import shutil
import sys

sys.path.insert(0, os.path.dirname(__file__))

from common import HEADER, MODELKIT, ROOT, WORK, measure, precompile, side_by_side  # noqa: E402

COUNT = 25
SOURCES = sorted((ROOT / "samples").glob("*.tflite")) + [
    ROOT / "samples" / name for name in ("digits_frozen.pb", "digits_keras.h5", "digits.keras")]
SERIAL = 'for f in "$1"/*; do "$2" check "$f" --json > /dev/null || exit 1; done'
PARALLEL = ('ls -d "$1"/* | xargs -P "$3" -I{} "$2" check {} --json > /dev/null')


def make_folder() -> str:
    """WORK/check_many: COUNT copies of the samples, made once."""
    folder = WORK / "check_many"
    if len(list(folder.glob("*"))) != COUNT:
        shutil.rmtree(folder, ignore_errors=True)
        folder.mkdir(parents=True)
        for i in range(COUNT):
            src = SOURCES[i % len(SOURCES)]
            shutil.copy(src, folder / f"{i:02d}_{src.name}")
    return str(folder)


def main() -> None:
    precompile()
    folder = make_folder()
    cores = str(os.cpu_count() or 1)
    print(f"### check over {COUNT} models: one call vs one call per model\n")
    print(HEADER)
    ours = measure([MODELKIT, "check", folder, "--json"])
    serial = measure(["sh", "-c", SERIAL, "sh", folder, MODELKIT])
    print(side_by_side(f"check DIR ({COUNT} models, {cores} workers)", ours, serial,
                       f"{COUNT} calls in a row"), flush=True)
    parallel = measure(["sh", "-c", PARALLEL, "sh", folder, MODELKIT, cores])
    print(side_by_side(f"check DIR ({COUNT} models, {cores} workers)", ours, parallel,
                       f"{COUNT} calls, xargs -P {cores}"), flush=True)


if __name__ == "__main__":
    main()
