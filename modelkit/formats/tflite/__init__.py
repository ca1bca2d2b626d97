"""TFLite flatbuffers: `sniff`, `load` (mmap, lazy, bounds-checked) and `save`.

Reading imports neither numpy nor flatbuffers; the writer (which needs both) is
imported on first use of `save`.
"""

from modelkit.formats.tflite.reader import load, sniff

__all__ = ["load", "save", "sniff"]


def __getattr__(name: str):
    """`save`, imported from the writer on first use."""
    if name == "save":
        from modelkit.formats.tflite.writer import save
        return save
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
