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

Every command reads data through `read_data` (or `load_data`, its arrays), which
also vets the values: NaN and infinities are refused (calibration and measurement:
`convert`, `debug`) or reported (`run`, `compare`), and a cast to the input's type
that changes values (3.7 into an int32 input, 300 into int8, 1e39 into float32)
is said in one warning line per input. `check_data` applies the same finiteness
rule to a file before any model (or TensorFlow) is opened.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from modelkit.errors import UsageError
from modelkit.runtime.arrays import read_npy, read_npz

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


# ----------------------------------------------------------------------------- vetting


@dataclass(frozen=True)
class NonFinite:
    """The NaN and infinities of an array (samples first) and where the first one is."""

    nan: int
    posinf: int
    neginf: int
    size: int
    first: tuple[int, ...]

    @property
    def count(self) -> int:
        return self.nan + self.posinf + self.neginf

    def describe(self) -> str:
        kinds = ", ".join(f"{n} {what}" for n, what in
                          ((self.nan, "NaN"), (self.posinf, "+Inf"), (self.neginf, "-Inf")) if n)
        plural = "value" if self.count == 1 else "values"
        where = ", ".join(map(str, self.first))
        return (f"{self.count} non-finite {plural} ({kinds}) of {self.size}, the first at "
                f"[{where}] (sample {self.first[0]})")


def find_nonfinite(array: np.ndarray) -> NonFinite | None:
    """The NaN/Inf of a float array, or None when every value is finite (or it holds
    no floats)."""
    a = np.asarray(array)
    if a.dtype.kind != "f" or a.size == 0:
        return None
    bad = ~np.isfinite(a)
    if not bad.any():
        return None
    first = np.unravel_index(int(np.argmax(bad)), a.shape) if a.ndim else ()
    nan = int(np.count_nonzero(np.isnan(a)))
    posinf = int(np.count_nonzero(np.isposinf(a)))
    return NonFinite(nan, posinf, int(bad.sum()) - nan - posinf, int(a.size),
                     tuple(int(i) for i in first))


@dataclass(frozen=True)
class CastLoss:
    """Values that a cast to an input's type changed beyond rounding.

    Attributes:
        changed: how many values differ after the cast (each counted once).
        reasons: (count, why) per kind of change.
        overflow: values that became infinite (float -> narrower float).
    """

    src: str
    dst: str
    size: int
    changed: int
    reasons: tuple[tuple[int, str], ...]
    overflow: int = 0

    def describe(self) -> str:
        why = "; ".join(f"{n} {what}" for n, what in self.reasons if n)
        return (f"{self.changed} of {self.size} values changed when cast from {self.src} "
                f"to {self.dst} ({why})")


def cast_values(array: np.ndarray, dtype: np.dtype) -> tuple[np.ndarray, CastLoss | None]:
    """`array` cast to `dtype`, and what the cast changed: fractions and out-of-range
    values into integers, overflow (and underflow to 0) into a narrower float, integers
    a float cannot hold exactly, values other than 0/1 into bool. Rounding a float to a
    narrower float's precision is not a change."""
    a = np.asarray(array)
    dtype = np.dtype(dtype)
    with np.errstate(invalid="ignore", over="ignore"):
        out = a.astype(dtype, copy=False)
    if a.dtype == dtype or a.dtype.kind == "b" or a.size == 0:
        return out, None
    reasons: list[tuple[int, str]] = []
    overflow = 0
    if dtype.kind in "iu":
        info = np.iinfo(dtype)
        if a.dtype.kind == "f":
            finite = np.isfinite(a)
            outside = finite & ((a < info.min) | (a > info.max))
            fraction = finite & ~outside & (a != np.trunc(a))
            changed = ~finite | outside | fraction
            reasons = [(int(fraction.sum()), "not whole numbers, truncated toward 0"),
                       (int(outside.sum()), f"outside {dtype}'s range [{info.min}, {info.max}]"),
                       (int((~finite).sum()), "NaN or Inf, which have no integer value")]
        else:
            changed = (a < info.min) | (a > info.max)
            reasons = [(int(changed.sum()), f"outside {dtype}'s range [{info.min}, {info.max}]")]
    elif dtype.kind == "f":
        if a.dtype.kind == "f":
            grew = np.isfinite(a) & ~np.isfinite(out)
            flushed = (a != 0) & (out == 0)
            changed = grew | flushed
            overflow = int(grew.sum())
            reasons = [(overflow, f"beyond {dtype}'s largest value "
                        f"{float(np.finfo(dtype).max):.6g}, now Inf"),
                       (int(flushed.sum()), f"too small for {dtype}, now 0")]
        else:
            changed = out.astype(np.float64) != a.astype(np.float64)
            reasons = [(int(changed.sum()), f"integers {dtype} cannot hold exactly")]
    elif dtype.kind == "b":
        changed = (a != 0) & (a != 1)
        reasons = [(int(changed.sum()), "neither 0 nor 1")]
    else:
        return out, None
    n = int(np.count_nonzero(changed))
    if not n:
        return out, None
    return out, CastLoss(str(a.dtype), str(dtype), int(a.size), n, tuple(reasons), overflow)


@dataclass
class InputData:
    """What the data held for one input, as read: the array it came from, its NaN/Inf,
    and what the cast to the input's type changed."""

    name: str
    key: str
    nonfinite: NonFinite | None = None
    cast: CastLoss | None = None

    def to_dict(self) -> dict:
        return {"array": self.key, "nan_or_inf": self.nonfinite is not None,
                "nonfinite_values": self.nonfinite.count if self.nonfinite else 0,
                "cast_changed_values": self.cast.changed if self.cast else 0}


@dataclass
class Data:
    """Samples for a model's inputs.

    Attributes:
        arrays: one per input (specs order), samples first, `limit` applied.
        total: the samples the file or folder holds (before `limit`).
        inputs: what was found in each input's values.
    """

    arrays: list[np.ndarray]
    total: int
    inputs: list[InputData] = field(default_factory=list)


def _warn_stderr(text: str) -> None:
    from modelkit.convert.progress import Progress

    Progress().warn(text)


def _refuse_nonfinite(found: NonFinite, path: Path, key: str) -> UsageError:
    return UsageError(f"array {key!r} holds {found.describe()}; the data must be finite "
                      "(NaN and Inf break calibration and comparison): replace or drop "
                      "those samples", str(path))


def _vet(array: np.ndarray, spec: InputSpec, path: Path, key: str, *,
         allow_nonfinite: bool, warn: Callable[[str], None]) -> tuple[np.ndarray, InputData]:
    """Cast one input's samples to its type, refusing or reporting NaN/Inf and saying
    what the cast changed."""
    found = find_nonfinite(array)
    if found is not None:
        if not allow_nonfinite:
            raise _refuse_nonfinite(found, path, key)
        warn(f"{path}: array {key!r} holds {found.describe()}; running anyway (input "
             f"{spec.name!r}; a quantized input gets an arbitrary integer for each)")
    out, loss = cast_values(array, np.dtype(spec.dtype))
    if loss is not None:
        if loss.overflow and not allow_nonfinite:
            raise UsageError(f"array {key!r}: {loss.describe()}; the data must be finite: "
                             "scale it into the input's range", str(path))
        warn(f"{path}: input {spec.name!r}: {loss.describe()}")
    return out, InputData(spec.name, key, found, loss)


# ----------------------------------------------------------------------------- reading


def _norm(name: str) -> str:
    name = name[:-2] if name.endswith(":0") else name
    return name.replace("/", "_").lower()


def _fits(array: np.ndarray, spec: InputSpec) -> bool:
    want = spec.sample_shape
    got = array.shape[1:]
    return len(got) == len(want) and all(w is None or w == g for w, g in zip(want, got))


def _check(array: np.ndarray, spec: InputSpec, path: Path, key: str) -> np.ndarray:
    """Refuse an array that holds no samples, does not fit `spec` or is not numbers."""
    if array.ndim == 0 or array.shape[0] == 0:
        raise UsageError(f"array {key!r} holds no samples", str(path))
    if not _fits(array, spec):
        want = ",".join("?" if d is None else str(d) for d in spec.shape)
        raise UsageError(f"array {key!r} has shape {list(array.shape)}, input {spec.name!r} "
                         f"takes [{want}] (first dim = samples)", str(path))
    if array.dtype.kind not in "fiub":
        raise UsageError(f"array {key!r} has type {array.dtype}, not numbers", str(path))
    return array


def _match_npz(path: Path, arrays: dict[str, np.ndarray],
               specs: list[InputSpec]) -> list[tuple[str, np.ndarray]]:
    """(array name, array) per input."""
    by_norm = {_norm(k): k for k in arrays}
    named = [by_norm.get(_norm(s.name)) for s in specs]
    if all(k is not None for k in named):
        return [(k, _check(arrays[k], s, path, k))  # type: ignore[index]
                for k, s in zip(named, specs)]
    if len(arrays) == len(specs):
        return [(k, _check(a, s, path, k)) for (k, a), s in zip(arrays.items(), specs)]
    if len(specs) == 1:
        for k, a in arrays.items():
            if a.ndim >= 1 and _fits(a, specs[0]):
                return [(k, _check(a, specs[0], path, k))]
    raise UsageError(f"cannot match arrays {sorted(arrays)} to inputs "
                     f"{[s.name for s in specs]}: name the arrays after the inputs", str(path))


def image_files(folder: Path) -> list[Path]:
    """The images of a folder, sorted by name.

    Raises:
        UsageError: the folder holds none.
    """
    files = sorted(p for p in folder.iterdir() if p.suffix.lower() in IMAGE_SUFFIXES)
    if not files:
        raise UsageError(f"no images ({', '.join(IMAGE_SUFFIXES)}) in the folder", str(folder))
    return files


def _load_images(folder: Path, spec: InputSpec, limit: int) -> np.ndarray:
    from PIL import Image, UnidentifiedImageError

    if len(spec.shape) != 4:
        raise UsageError(f"an image folder needs an input of rank 4 (N,H,W,C); "
                         f"{spec.name!r} has rank {len(spec.shape)}", str(folder))
    _, h, w, c = spec.shape
    if h is None or w is None or c not in (1, 3, 4):
        raise UsageError(f"input {spec.name!r} has no fixed H, W and 1/3/4 channels "
                         "to resize images to; give --input-shapes or an .npy", str(folder))
    mode = {1: "L", 3: "RGB", 4: "RGBA"}[c]
    out = []
    for p in image_files(folder)[:limit]:
        try:
            with Image.open(p) as im:
                im = im.convert(mode).resize((w, h), Image.Resampling.BILINEAR)
                arr = np.asarray(im, dtype=np.float32) / 255.0
        except (OSError, UnidentifiedImageError) as e:
            raise UsageError(f"cannot read image: {e}", str(p)) from None
        out.append(arr.reshape(h, w, c))
    return np.stack(out)


def read_data(path: str | Path, specs: list[InputSpec], limit: int | None = None, *,
              allow_nonfinite: bool = False,
              warn: Callable[[str], None] | None = None) -> Data:
    """Samples for `specs` (one array per input, in `specs` order), cast to each input's
    type, with what the values held.

    Args:
        limit: use the first `limit` samples (the checks apply to those).
        allow_nonfinite: report NaN/Inf through `warn` instead of refusing them.
        warn: where the warnings go (one line each); default stderr.

    Raises:
        UsageError: the file is missing, unreadable or does not fit the inputs; it
            holds NaN/Inf (unless allowed), or values the cast makes infinite.
    """
    path = Path(path)
    warn = warn or _warn_stderr
    if not path.exists():
        raise UsageError("no such data file or folder", str(path))
    if path.is_dir():
        if len(specs) != 1:
            raise UsageError("an image folder can feed a one-input model only; "
                             "use an .npz with one array per input", str(path))
        total = len(image_files(path))
        found = [(path.name, _load_images(path, specs[0], limit or total))]
    elif path.suffix.lower() == ".npz":
        found = _match_npz(path, read_npz(path), specs)
    elif path.suffix.lower() == ".npy":
        if len(specs) != 1:
            raise UsageError(f"an .npy feeds a one-input model; this one has {len(specs)} "
                             "inputs: use an .npz with one array per input", str(path))
        found = [(path.stem, _check(read_npy(path), specs[0], path, path.stem))]
    else:
        raise UsageError("data must be an .npy, an .npz or a folder of images", str(path))
    counts = {a.shape[0] for _, a in found}
    if len(counts) != 1:
        raise UsageError(f"the arrays hold different sample counts {sorted(counts)}", str(path))
    if not path.is_dir():
        total = counts.pop()
    data = Data([], total)
    for (key, array), spec in zip(found, specs):
        if limit is not None:
            array = array[:limit]
        array, info = _vet(array, spec, path, key, allow_nonfinite=allow_nonfinite, warn=warn)
        data.arrays.append(array)
        data.inputs.append(info)
    return data


def load_data(path: str | Path, specs: list[InputSpec], limit: int | None = None, *,
              allow_nonfinite: bool = False,
              warn: Callable[[str], None] | None = None) -> list[np.ndarray]:
    """Arrays (samples first), one per input in `specs` order: `read_data`'s arrays.

    Raises:
        UsageError: as `read_data`.
    """
    return read_data(path, specs, limit, allow_nonfinite=allow_nonfinite, warn=warn).arrays


def check_data(path: str | Path | None) -> int | None:
    """Read data before any model is opened (so before TensorFlow loads) and refuse what
    `read_data` would refuse whatever the model: a missing, empty or unreadable file, an
    array of no samples or not of numbers, NaN or Inf in any array.

    Args:
        path: the data; None (no data given) checks nothing.

    Returns:
        the samples it holds (images in a folder), or None when an .npz's arrays hold
        different counts (which arrays feed the model is known only then) or no path
        is given.

    Raises:
        UsageError: as above, naming the file, the array and the first bad value.
    """
    if path is None:
        return None
    path = Path(path)
    if not path.exists():
        raise UsageError("no such data file or folder", str(path))
    if path.is_dir():
        return len(image_files(path))
    if path.suffix.lower() == ".npz":
        arrays = read_npz(path)
    elif path.suffix.lower() == ".npy":
        arrays = {path.stem: read_npy(path)}
    else:
        raise UsageError("data must be an .npy, an .npz or a folder of images", str(path))
    for key, array in arrays.items():
        if array.dtype.kind not in "fiub" or array.ndim == 0 or array.shape[0] == 0:
            if len(arrays) == 1:
                _check(array, InputSpec(key, array.dtype, (None,) * max(array.ndim, 1)),
                       path, key)
            continue
        found = find_nonfinite(array)
        if found is not None:
            raise _refuse_nonfinite(found, path, key)
    counts = {a.shape[0] for a in arrays.values() if a.ndim}
    return counts.pop() if len(counts) == 1 else None


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
