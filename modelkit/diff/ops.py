"""Which ops are the same operation in another vocabulary: TF, TFLite and Keras names.

Matching two graphs of the same domain compares op names as they are. Across
domains (a GraphDef against its TFLite conversion, a Keras model against its
TFLite file) the op names differ for the same operation (`Conv2D`, `CONV_2D`,
Keras' `Conv2D` layer); `op_key` maps every op to one key, the TFLite builtin
name where there is one.

Origin: `TF_TO_TFLITE` is what the TFLite converter turns each TF op into: the
`Pat<(TF_*Op ...), (TFL_*Op ...)>` patterns of
tensorflow/compiler/mlir/lite/transforms/legalize_patterns.td and the
`DECL_CONVERT_OP` rewrites of legalize_tf.cc (TF 2.21), restricted to one-to-one
rewrites. `KERAS_TO_TFLITE` is what the same converter emits for each Keras
layer class (read from the layers' `call` and the resulting TF ops). An op not
listed maps to itself, so same-named ops (`Cast`/`CAST` aside) still meet.
"""

from __future__ import annotations

from modelkit.ir import Node

TF_TO_TFLITE: dict[str, str] = {
    "Abs": "ABS", "Add": "ADD", "AddN": "ADD_N", "AddV2": "ADD", "ArgMax": "ARG_MAX",
    "ArgMin": "ARG_MIN", "Atan2": "ATAN2", "AvgPool": "AVERAGE_POOL_2D",
    "BatchMatMul": "BATCH_MATMUL", "BatchMatMulV2": "BATCH_MATMUL",
    "BatchMatMulV3": "BATCH_MATMUL", "BatchToSpaceND": "BATCH_TO_SPACE_ND",
    "BiasAdd": "ADD", "BroadcastArgs": "BROADCAST_ARGS", "BroadcastTo": "BROADCAST_TO",
    "Bucketize": "BUCKETIZE", "Cast": "CAST", "Ceil": "CEIL", "ConcatV2": "CONCATENATION",
    "Concat": "CONCATENATION", "Conv2D": "CONV_2D", "Conv2DBackpropInput": "TRANSPOSE_CONV",
    "Conv3D": "CONV_3D", "Conv3DBackpropInputV2": "CONV_3D_TRANSPOSE", "Cos": "COS",
    "Cumsum": "CUMSUM", "DepthToSpace": "DEPTH_TO_SPACE",
    "DepthwiseConv2dNative": "DEPTHWISE_CONV_2D", "Dequantize": "DEQUANTIZE", "Div": "DIV",
    "Elu": "ELU", "Equal": "EQUAL", "Exp": "EXP", "ExpandDims": "EXPAND_DIMS", "Fill": "FILL",
    "Floor": "FLOOR", "FloorDiv": "FLOOR_DIV", "FloorMod": "FLOOR_MOD",
    "Gather": "GATHER", "GatherNd": "GATHER_ND", "GatherV2": "GATHER", "Gelu": "GELU",
    "Greater": "GREATER", "GreaterEqual": "GREATER_EQUAL", "If": "IF", "StatelessIf": "IF",
    "L2Normalize": "L2_NORMALIZATION", "LRN": "LOCAL_RESPONSE_NORMALIZATION",
    "LeakyRelu": "LEAKY_RELU", "Less": "LESS", "LessEqual": "LESS_EQUAL", "Log": "LOG",
    "LogSoftmax": "LOG_SOFTMAX", "LogicalAnd": "LOGICAL_AND", "LogicalNot": "LOGICAL_NOT",
    "LogicalOr": "LOGICAL_OR", "MatMul": "FULLY_CONNECTED", "MatrixDiag": "MATRIX_DIAG",
    "MatrixSetDiag": "MATRIX_SET_DIAG", "Max": "REDUCE_MAX", "MaxPool": "MAX_POOL_2D",
    "Maximum": "MAXIMUM", "Mean": "MEAN", "Min": "REDUCE_MIN", "Minimum": "MINIMUM",
    "MirrorPad": "MIRROR_PAD", "Mul": "MUL", "Neg": "NEG",
    "NonMaxSuppressionV4": "NON_MAX_SUPPRESSION_V4",
    "NonMaxSuppressionV5": "NON_MAX_SUPPRESSION_V5", "NotEqual": "NOT_EQUAL",
    "OneHot": "ONE_HOT", "Pack": "PACK", "Pad": "PAD", "PadV2": "PADV2", "Pow": "POW",
    "Prod": "REDUCE_PROD", "QuantizeV2": "QUANTIZE", "Range": "RANGE", "Rank": "RANK",
    "RealDiv": "DIV", "Relu": "RELU", "Relu6": "RELU6", "Reshape": "RESHAPE",
    "ResizeBilinear": "RESIZE_BILINEAR", "ResizeNearestNeighbor": "RESIZE_NEAREST_NEIGHBOR",
    "ReverseSequence": "REVERSE_SEQUENCE", "ReverseV2": "REVERSE_V2", "Round": "ROUND",
    "Rsqrt": "RSQRT", "ScatterNd": "SCATTER_ND", "SegmentSum": "SEGMENT_SUM",
    "Select": "SELECT", "SelectV2": "SELECT_V2", "Shape": "SHAPE", "Sigmoid": "LOGISTIC",
    "Sign": "SIGN", "Sin": "SIN", "Slice": "SLICE", "Softmax": "SOFTMAX",
    "SpaceToBatchND": "SPACE_TO_BATCH_ND", "SpaceToDepth": "SPACE_TO_DEPTH",
    "SparseToDense": "SPARSE_TO_DENSE", "Split": "SPLIT", "SplitV": "SPLIT_V", "Sqrt": "SQRT",
    "Square": "SQUARE", "SquaredDifference": "SQUARED_DIFFERENCE", "Squeeze": "SQUEEZE",
    "StridedSlice": "STRIDED_SLICE", "Sub": "SUB", "Sum": "SUM", "Tanh": "TANH",
    "Tile": "TILE", "TopKV2": "TOPK_V2", "Transpose": "TRANSPOSE", "Unique": "UNIQUE",
    "Unpack": "UNPACK", "UnsortedSegmentMax": "UNSORTED_SEGMENT_MAX",
    "UnsortedSegmentMin": "UNSORTED_SEGMENT_MIN", "UnsortedSegmentProd": "UNSORTED_SEGMENT_PROD",
    "UnsortedSegmentSum": "UNSORTED_SEGMENT_SUM", "Where": "WHERE", "While": "WHILE",
    "StatelessWhile": "WHILE", "ZerosLike": "ZEROS_LIKE",
}

KERAS_TO_TFLITE: dict[str, str] = {
    "Add": "ADD", "AveragePooling2D": "AVERAGE_POOL_2D", "Concatenate": "CONCATENATION",
    "Conv2D": "CONV_2D", "Conv2DTranspose": "TRANSPOSE_CONV", "Conv3D": "CONV_3D",
    "DepthwiseConv2D": "DEPTHWISE_CONV_2D", "Dense": "FULLY_CONNECTED", "ELU": "ELU",
    "Embedding": "GATHER", "Flatten": "RESHAPE", "GlobalAveragePooling2D": "MEAN",
    "GlobalMaxPooling2D": "REDUCE_MAX", "LeakyReLU": "LEAKY_RELU",
    "LSTM": "UNIDIRECTIONAL_SEQUENCE_LSTM",
    "MaxPooling2D": "MAX_POOL_2D", "Maximum": "MAXIMUM", "Minimum": "MINIMUM",
    "Multiply": "MUL", "Permute": "TRANSPOSE", "ReLU": "RELU", "Reshape": "RESHAPE",
    "Softmax": "SOFTMAX", "Subtract": "SUB", "UpSampling2D": "RESIZE_NEAREST_NEIGHBOR",
    "ZeroPadding2D": "PAD",
}

# Keras `Activation` layers by their `activation` attr.
KERAS_ACTIVATIONS: dict[str, str] = {
    "relu": "RELU", "relu6": "RELU6", "sigmoid": "LOGISTIC", "tanh": "TANH",
    "softmax": "SOFTMAX", "elu": "ELU", "gelu": "GELU", "hard_swish": "HARD_SWISH",
    "log_softmax": "LOG_SOFTMAX",
}

# Ops that stand for a tensor rather than compute one: a constant or a graph
# input as a node. Formats without such nodes (TFLite, Keras weights) hold the
# tensor alone, so across domains these nodes are matched through their tensor.
SOURCE_OPS: frozenset[str] = frozenset({
    "Const", "Placeholder", "PlaceholderWithDefault", "VariableV2", "Variable",
    "VarHandleOp", "InputLayer",
})

# Ops that pass their first input through at inference, which a converter drops.
PASS_THROUGH_OPS: frozenset[str] = frozenset({
    "Identity", "Snapshot", "StopGradient", "PreventGradient", "CheckNumerics",
    "ReadVariableOp", "Dropout", "EnsureShape",
})


def op_key(node: Node) -> str:
    """The op's name in one vocabulary across domains (the TFLite builtin name
    where there is one), so that `Conv2D` (TF), `CONV_2D` and Keras `Conv2D` meet."""
    if node.domain == "tf":
        return TF_TO_TFLITE.get(node.op, node.op)
    if node.domain == "keras":
        if node.op == "Activation":
            return KERAS_ACTIVATIONS.get(str(node.attrs.get("activation", "")), node.op)
        return KERAS_TO_TFLITE.get(node.op, node.op)
    return node.op


def graph_domain(nodes) -> str:
    """The domain most of `nodes` belong to ("" for a graph with no nodes)."""
    counts: dict[str, int] = {}
    for n in nodes:
        counts[n.domain] = counts.get(n.domain, 0) + 1
    return max(counts, key=lambda d: counts[d]) if counts else ""
