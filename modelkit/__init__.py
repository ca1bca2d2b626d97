"""modelkit: load, summarize, convert and browse TensorFlow-family models.

`import modelkit` loads neither TensorFlow nor Textual. The commands are functions in
`modelkit.api`; those whose names no subpackage takes are here too, imported on
first use (`modelkit.summarize`, `modelkit.fix`, `modelkit.run`, `modelkit.compare`,
`modelkit.extract`).
"""

from modelkit.errors import ExitCode, ModelkitError
from modelkit.formats.registry import detect_format, load, save
from modelkit.ir import (ArrayData, BufferData, DType, EnumValue, FuncRef, Graph, LazyData,
                         Model, Node, QuantParams, Signature, SignatureIO, TensorData, Value)

__version__ = "0.1.0"

# NOTE: check, convert, debug, diff, export, reduce and transform name subpackages;
# their functions are reached as modelkit.api.<name>.
_API = ("summarize", "fix", "run", "compare", "extract")

__all__ = ["ArrayData", "BufferData", "DType", "EnumValue", "ExitCode", "FuncRef", "Graph",
           "LazyData", "Model", "ModelkitError", "Node", "QuantParams", "Signature",
           "SignatureIO", "TensorData", "Value", "api", "compare", "detect_format", "extract",
           "fix", "load", "run", "save", "summarize"]


def __getattr__(name: str):
    """`modelkit.api` and its functions, imported on first use."""
    if name == "api" or name in _API:
        import importlib

        api = importlib.import_module("modelkit.api")
        return api if name == "api" else getattr(api, name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
