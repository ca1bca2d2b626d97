"""Representative and verification data: .npy, .npz or a folder of images.

- `.npy`: one array, batch first, for a model with one input.
- `.npz`: one array per input, matched by input name (with or without `:0`, and
  ignoring `/` vs `_`), else in order; for a one-input model whose name matches
  nothing, the first array whose per-sample shape fits.
- a folder of images (PNG, JPEG, BMP, GIF): each image is decoded with PIL,
  resized to the input's H and W (bilinear), converted to the input's channel
  count (1 = grayscale, 3 = RGB, 4 = RGBA) and scaled to float32 in [0, 1]
  (pixel / 255). Models that expect another range (e.g. [-1, 1], or raw 0..255)
  need an .npy made with that preprocessing.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np

from modelkit.errors import UsageError

IMAGE_SUFFIXES = (".png", ".jpg", ".jpeg", ".bmp", ".gif", ".webp", ".ppm", ".pgm")


@dataclass
class InputSpec:
    """What a model input takes: name, numpy dtype, shape (None = unknown dim)."""

    name: str
    dtype: np.dtype
    shape: tuple[int | None, ...]

    @property
    def sample_shape(self) -> tuple[int | None, ...]:
        """The shape of one sample (the batch dim dropped)."""
        return self.shape[1:]


def _norm(name: str) -> str:
    name = name[:-2] if name.endswith(":0") else name
    return name.replace("/", "_").lower()


def _fits(array: np.ndarray, spec: InputSpec) -> bool:
    want = spec.sample_shape
    got = array.shape[1:]
    return len(got) == len(want) and all(w is None or w == g for w, g in zip(want, got))


def _check(array: np.ndarray, spec: InputSpec, path: Path, key: str) -> np.ndarray:
    if array.ndim == 0 or array.shape[0] == 0:
        raise UsageError(f"array {key!r} holds no samples", str(path))
    if not _fits(array, spec):
        want = ",".join("?" if d is None else str(d) for d in spec.shape)
        raise UsageError(f"array {key!r} has shape {list(array.shape)}, input {spec.name!r} "
                         f"takes [{want}] (first dim = samples)", str(path))
    if array.dtype.kind in "fiub":
        return array.astype(spec.dtype, copy=False)
    raise UsageError(f"array {key!r} has type {array.dtype}, not numbers", str(path))


def _load_npz(path: Path, specs: list[InputSpec]) -> list[np.ndarray]:
    try:
        with np.load(path, allow_pickle=False) as npz:
            arrays = {k: npz[k] for k in npz.files}
    except (OSError, ValueError) as e:
        raise UsageError(f"cannot read as .npz: {e}", str(path)) from None
    if not arrays:
        raise UsageError("the .npz holds no arrays", str(path))
    by_norm = {_norm(k): k for k in arrays}
    named = [by_norm.get(_norm(s.name)) for s in specs]
    if all(k is not None for k in named):
        return [_check(arrays[k], s, path, k) for k, s in zip(named, specs)]  # type: ignore[index]
    if len(arrays) == len(specs):
        return [_check(a, s, path, k) for (k, a), s in zip(arrays.items(), specs)]
    if len(specs) == 1:
        for k, a in arrays.items():
            if a.ndim >= 1 and _fits(a, specs[0]):
                return [_check(a, specs[0], path, k)]
    raise UsageError(f"cannot match arrays {sorted(arrays)} to inputs "
                     f"{[s.name for s in specs]}: name the arrays after the inputs", str(path))


def _load_images(folder: Path, spec: InputSpec, limit: int) -> np.ndarray:
    from PIL import Image, UnidentifiedImageError

    if len(spec.shape) != 4:
        raise UsageError(f"an image folder needs an input of rank 4 (N,H,W,C); "
                         f"{spec.name!r} has rank {len(spec.shape)}", str(folder))
    _, h, w, c = spec.shape
    if h is None or w is None or c not in (1, 3, 4):
        raise UsageError(f"input {spec.name!r} has no fixed H, W and 1/3/4 channels "
                         "to resize images to; give --input-shapes or an .npy", str(folder))
    files = sorted(p for p in folder.iterdir() if p.suffix.lower() in IMAGE_SUFFIXES)
    if not files:
        raise UsageError(f"no images ({', '.join(IMAGE_SUFFIXES)}) in the folder", str(folder))
    mode = {1: "L", 3: "RGB", 4: "RGBA"}[c]
    out = []
    for p in files[:limit]:
        try:
            with Image.open(p) as im:
                im = im.convert(mode).resize((w, h), Image.Resampling.BILINEAR)
                arr = np.asarray(im, dtype=np.float32) / 255.0
        except (OSError, UnidentifiedImageError) as e:
            raise UsageError(f"cannot read image: {e}", str(p)) from None
        out.append(arr.reshape(h, w, c))
    return np.stack(out).astype(spec.dtype)


def load_data(path: str | Path, specs: list[InputSpec], limit: int | None = None) -> list[np.ndarray]:
    """Arrays (samples first), one per input in `specs` order.

    Raises:
        UsageError: the file is missing, unreadable or does not fit the inputs.
    """
    path = Path(path)
    if not path.exists():
        raise UsageError("no such data file or folder", str(path))
    if path.is_dir():
        if len(specs) != 1:
            raise UsageError("an image folder can feed a one-input model only; "
                             "use an .npz with one array per input", str(path))
        arrays = [_load_images(path, specs[0], limit or 10**9)]
    elif path.suffix.lower() == ".npz":
        arrays = _load_npz(path, specs)
    elif path.suffix.lower() == ".npy":
        if len(specs) != 1:
            raise UsageError(f"an .npy feeds a one-input model; this one has {len(specs)} "
                             "inputs: use an .npz with one array per input", str(path))
        try:
            array = np.load(path, allow_pickle=False)
        except (OSError, ValueError) as e:
            raise UsageError(f"cannot read as .npy: {e}", str(path)) from None
        arrays = [_check(array, specs[0], path, path.stem)]
    else:
        raise UsageError("data must be an .npy, an .npz or a folder of images", str(path))
    counts = {a.shape[0] for a in arrays}
    if len(counts) != 1:
        raise UsageError(f"the arrays hold different sample counts {sorted(counts)}", str(path))
    if limit is not None:
        arrays = [a[:limit] for a in arrays]
    return arrays


def random_inputs(specs: list[InputSpec], count: int, seed: int = 0) -> list[np.ndarray]:
    """Random samples: floats uniform in [0, 1], integers over a small range, bools."""
    rng = np.random.default_rng(seed)
    out = []
    for s in specs:
        shape = (count, *[1 if d is None else d for d in s.sample_shape])
        if s.dtype.kind == "f":
            out.append(rng.uniform(0.0, 1.0, size=shape).astype(s.dtype))
        elif s.dtype.kind == "b":
            out.append(rng.integers(0, 2, size=shape).astype(bool))
        elif s.dtype.kind in "iu":
            info = np.iinfo(s.dtype)
            out.append(rng.integers(max(info.min, 0), min(info.max, 10) + 1,
                                    size=shape).astype(s.dtype))
        else:
            raise UsageError(f"cannot make random data for input {s.name!r} of type {s.dtype}; "
                             "give --data")
    return out
