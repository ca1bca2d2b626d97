"""modelkit: load, summarize, convert and browse TensorFlow-family models.

`import modelkit` loads neither TensorFlow nor Textual.
"""

from modelkit.errors import ExitCode, ModelkitError
from modelkit.formats.registry import detect_format, load, save
from modelkit.ir import (ArrayData, BufferData, DType, EnumValue, FuncRef, Graph, LazyData,
                         Model, Node, QuantParams, Signature, SignatureIO, TensorData, Value)

__version__ = "0.1.0"

__all__ = ["ArrayData", "BufferData", "DType", "EnumValue", "ExitCode", "FuncRef", "Graph",
           "LazyData", "Model", "ModelkitError", "Node", "QuantParams", "Signature",
           "SignatureIO", "TensorData", "Value", "detect_format", "load", "save"]
