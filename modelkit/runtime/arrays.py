"""Reading the arrays users give (.npy, .npz) for data and labels: one error line for
an empty, truncated or foreign file, never numpy's own exception."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from modelkit.errors import UsageError


def read_npy(path: Path, what: str = "data") -> np.ndarray:
    """An .npy's array (no pickles).

    Args:
        what: what the file holds, for the message (`data`, `labels`).

    Raises:
        UsageError: empty, truncated or not an .npy.
    """
    try:
        return np.load(path, allow_pickle=False)
    except EOFError:
        # NOTE: numpy raises EOFError for a 0-byte file; click would print "Aborted.".
        raise UsageError(f"the {what} file is empty (0 bytes); write it with numpy.save",
                         str(path)) from None
    except (OSError, ValueError) as e:
        raise UsageError(f"cannot read as .npy: {e}", str(path)) from None


def read_npz(path: Path, what: str = "data") -> dict[str, np.ndarray]:
    """Every array of an .npz (no pickles), by name.

    Raises:
        UsageError: empty, truncated, not an .npz, or holding no arrays.
    """
    try:
        with np.load(path, allow_pickle=False) as npz:
            arrays = {k: npz[k] for k in npz.files}
    except EOFError:
        raise UsageError(f"the {what} file is empty (0 bytes); write it with numpy.savez",
                         str(path)) from None
    except (OSError, ValueError) as e:
        raise UsageError(f"cannot read as .npz: {e}", str(path)) from None
    if not arrays:
        raise UsageError("the .npz holds no arrays", str(path))
    return arrays
