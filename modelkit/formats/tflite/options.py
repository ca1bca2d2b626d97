"""Builtin operator options: flatbuffer tables <-> typed attrs.

Decoding is generic over the schema tables (`_schema_tables`, generated from
the LiteRT schema module): every field of an options table becomes an attr
named like the schema field (snake_case), scalars as Python values, bools as
bools, vectors as lists, strings as str, and enum-typed fields (the table
below; the schema stores them as plain integers) as `EnumValue`. Encoding (for
the writer) fills the generated object-API classes.
"""

from __future__ import annotations

from functools import cache

from modelkit.formats.tflite import _fb
from modelkit.formats.tflite._schema_tables import ENUMS
from modelkit.ir import EnumValue

# Options fields whose integers are members of a schema enum. Field names are
# the same in every options table that has them.
ENUM_FIELDS: dict[str, str] = {
    "fused_activation_function": "ActivationFunctionType",
    "padding": "Padding",
    "weights_format": "FullyConnectedOptionsWeightsFormat",
    "kernel_type": "LSTMKernelType",
    "combiner": "CombinerType",
    "mode": "MirrorPadMode",
    "type": "LSHProjectionType",
    "reduce_function": "ReduceWindowFunction",
    "algorithm": "RngAlgorithm",
    "comparison_direction": "StablehloComparisonDirection",
    "compare_type": "StablehloComparisonType",
    "precision_config": "StablehloPrecisionConfig",
    "composite_attributes_format": "CustomOptionsFormat",
    "quantized_bias_type": "TensorType",
    "in_data_type": "TensorType",
    "out_data_type": "TensorType",
    "out_type": "TensorType",
    "output_type": "TensorType",
    "idx_out_type": "TensorType",
    "key_dtype": "TensorType",
    "value_dtype": "TensorType",
}

# Vector fields holding bytes rather than numbers.
_BYTES_FIELDS = {"composite_attributes", "custom_attributes"}


def enum_names(enum: str) -> dict[int, str]:
    """Number -> member name of schema enum `enum` (read-only)."""
    return ENUMS[enum]


@cache
def enum_codes(enum: str) -> dict[str, int]:
    """Member name -> number of schema enum `enum` (read-only)."""
    return {name: code for code, name in ENUMS[enum].items()}


def enum_value(enum: str, code: int) -> EnumValue:
    """`EnumValue` of `code` in `enum`; unknown numbers are named `"<Enum> <n>"`."""
    name = enum_names(enum).get(code)
    return EnumValue(name if name is not None else f"{enum} {code}", code)


def is_subgraph_field(name: str) -> bool:
    """True for options fields that hold subgraph indices."""
    return (name.endswith(("subgraph_index", "subgraph_indices")) or name == "subgraph"
            or name == "called_computations")


def decode(tab: _fb.Table) -> dict:
    """Typed attrs of options table `tab`."""
    attrs: dict = {}
    for name, f in tab.fields.items():
        if f.is_scalar:
            value = tab.scalar(name)
            enum = ENUM_FIELDS.get(name)
            if enum is not None:
                value = enum_value(enum, value)
            attrs[name] = value
        elif f.fmt == "string":
            attrs[name] = tab.string(name) or ""
        elif f.fmt.startswith("[") and f.fmt[1:] in _fb.SCALAR_FORMATS:
            values = tab.numbers(name, f.fmt[1:])
            enum = ENUM_FIELDS.get(name)
            if values is None:
                # NOTE: an absent vector differs from an empty one for some kernels
                # (RESHAPE's new_shape), so keep the difference.
                attrs[name] = None
            elif name in _BYTES_FIELDS:
                attrs[name] = bytes(values)
            elif enum is not None:
                attrs[name] = [enum_value(enum, v) for v in values]
            else:
                attrs[name] = list(values)
        # NOTE: no options table of the current schema nests a table or holds a
        # vector of tables or strings; a future one would be skipped here rather
        # than misread.
    return attrs


@cache
def _t_fields(table: str) -> dict[str, str]:
    """snake_case field name -> attribute name of the generated object-API class."""
    obj = getattr(_fb.schema(), table + "T")()
    return {_fb.snake(k[0].upper() + k[1:]): k for k in vars(obj)}


def encode(table: str, attrs: dict):
    """A generated object-API options object (e.g. `Conv2DOptionsT`) from attrs."""
    obj = getattr(_fb.schema(), table + "T")()
    for name, attr in _t_fields(table).items():
        if name not in attrs:
            continue
        value = attrs[name]
        if isinstance(value, EnumValue):
            value = value.code
        elif isinstance(value, bytes):
            value = list(value)
        elif isinstance(value, (list, tuple)):
            value = [v.code if isinstance(v, EnumValue) else v for v in value]
        setattr(obj, attr, value)
    return obj


# Ops whose options table is not named after the op.
_OPTIONS_OF_OP = {
    "AVERAGE_POOL_2D": "Pool2DOptions", "MAX_POOL_2D": "Pool2DOptions",
    "L2_POOL_2D": "Pool2DOptions", "MEAN": "ReducerOptions", "SUM": "ReducerOptions",
    "REDUCE_MAX": "ReducerOptions", "REDUCE_MIN": "ReducerOptions",
    "REDUCE_PROD": "ReducerOptions", "REDUCE_ANY": "ReducerOptions",
    "REDUCE_ALL": "ReducerOptions", "MAXIMUM": "MaximumMinimumOptions",
    "MINIMUM": "MaximumMinimumOptions", "L2_NORMALIZATION": "L2NormOptions",
    "LOCAL_RESPONSE_NORMALIZATION": "LocalResponseNormalizationOptions",
    "UNIDIRECTIONAL_SEQUENCE_RNN": "SequenceRNNOptions", "BATCH_MATMUL": "BatchMatMulOptions",
    "CONV_3D_TRANSPOSE": "Conv3DOptions", "STABLEHLO_COMPOSITE": "StableHLOCompositeOptions",
    "UNSORTED_SEGMENT_PROD": "UnsortedSegmentProdOptions",
}


def options_table_for(op: str) -> tuple[str, str] | None:
    """(union name, options table) an op's options are stored in, when known.

    For nodes built in memory without the source's options type: `CONV_2D` ->
    ("builtin_options", "Conv2DOptions"), `STABLEHLO_PAD` -> ("builtin_options2",
    "StablehloPadOptions").
    """
    table = _OPTIONS_OF_OP.get(op)
    if table is None:
        table = "".join(part[:1] + part[1:].lower() if not part[:1].isdigit() else part.upper()
                        for part in op.split("_")) + "Options"
    for union, enum in (("builtin_options", "BuiltinOptions"),
                        ("builtin_options2", "BuiltinOptions2")):
        if table in enum_codes(enum):
            return union, table
    return None
