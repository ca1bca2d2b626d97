"""Backends that execute a model: TFLite (LiteRT interpreter), TF graphs (GraphDef,
frozen checkpoints), SavedModel signatures, Keras models.

    from modelkit.runtime import open_runtime
    rt = open_runtime("model.tflite")
    outputs = rt.run({"input": x})          # float in, float out, quantized IO handled

Every backend has the same surface (`Backend`): `inputs`/`outputs` as `TensorSpec`s,
`run(feeds, quantize=True, dequantize=True)`. Importing this package imports neither
TensorFlow nor the interpreter; each backend imports what it needs when opened.
"""

from __future__ import annotations

from modelkit.runtime.base import Backend, TensorSpec, match_key
from modelkit.runtime.open import RUNNABLE_FORMATS, open_runtime

__all__ = ["RUNNABLE_FORMATS", "Backend", "TensorSpec", "match_key", "open_runtime"]
