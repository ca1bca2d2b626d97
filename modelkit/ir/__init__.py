"""The common graph IR. Imports no framework and no file format."""

from modelkit.ir.dtypes import DType
from modelkit.ir.graph import (EnumValue, FuncRef, Graph, Model, Node, Signature, SignatureIO,
                               Value)
from modelkit.ir.quant import QuantParams
from modelkit.ir.tensor import ArrayData, BufferData, LazyData, TensorData

__all__ = ["ArrayData", "BufferData", "DType", "EnumValue", "FuncRef", "Graph", "LazyData",
           "Model", "Node", "QuantParams", "Signature", "SignatureIO", "TensorData", "Value"]
