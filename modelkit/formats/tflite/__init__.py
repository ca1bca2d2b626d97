"""TFLite flatbuffers: `sniff`, `load` (mmap, lazy, bounds-checked) and `save`."""

from modelkit.formats.tflite.reader import load, sniff
from modelkit.formats.tflite.writer import save

__all__ = ["load", "save", "sniff"]
