"""Which TensorFlow ops the TFLite converter can take, as tables, and which TF ops
belong to the legacy quantized and training-only families.

One source of truth for `modelkit.convert` (the preflight) and `modelkit.check`.

Origin (TensorFlow sources, read for TF 2.21; regenerate when the converter changes):

- `SELECT_TF_OPS`: the list in `GetFlexAllowlist()` of
  tensorflow/lite/delegates/flex/allowlisted_flex_ops.cc, copied name for name.
  These ops convert only with `--allow-select-tf-ops` (SELECT_TF_OPS), and the app
  must then link the Flex delegate.
- `TFLITE_BUILTIN_TF_OPS`: TF ops the converter turns into TFLite builtins. The
  union of: the source ops of the `Pat<(TF_*Op ...)>` patterns in
  tensorflow/compiler/mlir/lite/transforms/legalize_patterns.td; the
  `DECL_CONVERT_OP(...)` rewrites in .../transforms/legalize_tf.cc; the ops
  prepare_tf.cc / prepare_patterns.td rewrite first (Conv2D, DepthwiseConv2dNative,
  FusedBatchNorm*, Einsum, per-channel fake quant); ops lower_tf.td lowers into
  legalizable TF ops (DivNoNan, Xlogy, Selu, L2Loss, ...); graph plumbing the
  importer drops or maps (Placeholder, Const, Identity, NoOp, StopGradient,
  CheckNumerics); functional and v1 control flow (If/While/Case, Switch/Merge,
  which the importer functionalizes); resource variables, hash tables and
  TensorList ops, which have their own legalization passes.
  NOTE: this set errs on the side of inclusion: an op wrongly listed here only
  lets the converter itself report the problem, while an op wrongly left out
  would block a model the converter takes.
- `LEGACY_QUANTIZED_TF_OPS`: the TF1 quantized kernels written by graph_transforms
  `quantize_weights`/`quantize_nodes` (tensorflow/tools/graph_transforms/quantize_nodes.cc)
  and their fused relatives (tensorflow/core/ops/nn_ops.cc). TFLite has no
  equivalent: the converter needs the float graph.
"""

from __future__ import annotations

TFLITE_BUILTIN_TF_OPS: frozenset[str] = frozenset({
    "Abs", "Acos", "Acosh", "Add", "AddN", "AddV2", "All", "Any", "ApproxTopK", "ArgMax",
    "ArgMin", "Asin", "Asinh", "Assert", "AssignVariableOp", "Atan", "Atan2", "Atanh",
    "AvgPool", "BatchMatMul", "BatchMatMulV2", "BatchMatMulV3", "BatchToSpaceND", "BiasAdd",
    "Bitcast", "BitwiseXor", "BroadcastArgs", "BroadcastTo", "Bucketize", "Case", "Cast",
    "Ceil", "CheckNumerics", "ClipByValue", "Complex", "ComplexAbs", "Concat", "ConcatV2",
    "Const", "Conv2D", "Conv2DBackpropInput", "Conv3D", "Conv3DBackpropInputV2", "Cos", "Cosh",
    "Cumsum", "DepthToSpace", "DepthwiseConv2dNative", "Diag", "Digamma", "Div", "DivNoNan",
    "Einsum", "Elu", "EmptyTensorList", "EnsureShape", "Enter", "Equal", "Erf", "Exit", "Exp",
    "ExpandDims", "Expm1", "FakeQuantWithMinMaxArgs", "FakeQuantWithMinMaxVars",
    "FakeQuantWithMinMaxVarsPerChannel", "Fill", "Floor", "FloorDiv", "FloorMod",
    "FusedBatchNorm", "FusedBatchNormV2", "FusedBatchNormV3", "Gather", "GatherNd", "GatherV2",
    "Greater", "GreaterEqual", "HashTableV2", "Identity", "IdentityN", "If", "Imag",
    "Inv", "InvertPermutation", "IsInf", "IsNan", "L2Loss", "LRN", "LeakyRelu", "Less",
    "LessEqual", "Lgamma", "Log", "Log1p", "LogSoftmax", "LogicalAnd", "LogicalNot",
    "LogicalOr", "LookupTableFindV2", "LookupTableImportV2", "LookupTableSizeV2", "LoopCond",
    "MatMul", "MatrixBandPart", "MatrixDiag", "MatrixDiagV2", "MatrixDiagV3", "MatrixSetDiagV3",
    "Max", "MaxPool", "Maximum", "Mean", "Merge", "Min", "Minimum", "MirrorPad", "Mul",
    "MulNoNan", "Multinomial", "Neg", "NextIteration", "NoOp", "NonMaxSuppressionV4",
    "NonMaxSuppressionV5", "NotEqual", "OneHot", "OnesLike", "Pack", "Pad", "PadV2",
    "PartitionedCall", "Placeholder", "PlaceholderWithDefault", "Pow", "PreventGradient",
    "Prod", "QuantizeAndDequantizeV4", "RFFT2D", "RandomStandardNormal", "RandomUniform",
    "Range", "Rank", "ReadVariableOp", "Real", "RealDiv", "Reciprocal", "Relu", "Relu6",
    "Relu6Grad", "ReluGrad", "Reshape", "ResizeBilinear", "ResizeNearestNeighbor",
    "ReverseSequence", "ReverseV2", "RightShift", "Rint", "Roll", "Round", "Rsqrt", "RsqrtGrad",
    "ScatterNd", "SegmentSum", "Select", "SelectV2", "Selu", "Shape", "Sigmoid", "SigmoidGrad",
    "Sign", "Sin", "Sinh", "Size", "Slice", "Snapshot", "Softmax",
    "SoftmaxCrossEntropyWithLogits", "Softplus", "Softsign", "SpaceToBatchND", "SpaceToDepth",
    "SparseSoftmaxCrossEntropyWithLogits", "SparseToDense", "Split", "SplitV", "Sqrt", "Square",
    "SquaredDifference", "Squeeze", "StatefulPartitionedCall", "StatelessCase", "StatelessIf",
    "StatelessWhile", "StopGradient", "StridedSlice", "Sub", "Sum", "Switch", "Tan", "Tanh",
    "TanhGrad", "TensorListElementShape", "TensorListFromTensor", "TensorListGetItem",
    "TensorListLength", "TensorListPopBack", "TensorListPushBack", "TensorListReserve",
    "TensorListResize", "TensorListSetItem", "TensorListStack", "Tile", "TopKV2", "Transpose",
    "TruncateDiv", "Unique", "Unpack", "UnsortedSegmentMax", "UnsortedSegmentMin",
    "UnsortedSegmentProd", "UnsortedSegmentSum", "VarHandleOp", "Where", "While", "Xdivy",
    "XlaDynamicUpdateSlice", "Xlog1py", "Xlogy", "ZerosLike",
})

SELECT_TF_OPS: frozenset[str] = frozenset({
    "Abort", "Abs", "Add", "AddN", "AddV2", "AdjustContrast", "AdjustContrastv2", "AdjustHue",
    "AdjustSaturation", "All", "Any", "ApplyAdaMax", "ApplyAdadelta", "ApplyAdagrad",
    "ApplyAdagradDA", "ApplyAdagradV2", "ApplyAdam", "ApplyAddSign", "ApplyCenteredRMSProp",
    "ApplyFtrl", "ApplyFtrlV2", "ApplyGradientDescent", "ApplyMomentum", "ApplyPowerSign",
    "ApplyProximalAdagrad", "ApplyProximalGradientDescent", "ApplyRMSProp", "ApproximateEqual",
    "ArgMax", "ArgMin", "Assert", "Assign", "AssignAdd", "AssignSub", "Atan", "Atan2",
    "AudioSpectrogram", "AvgPool", "AvgPool3D", "AvgPool3DGrad", "AvgPoolGrad", "BatchMatMul",
    "BatchMatMulV2", "BatchMatrixDiag", "BatchMatrixDiagPart", "BatchMatrixInverse",
    "BatchMatrixSetDiag", "BatchNormWithGlobalNormalization",
    "BatchNormWithGlobalNormalizationGrad", "BatchToSpace", "BatchToSpaceND", "BiasAdd",
    "BiasAddGrad", "BiasAddV1", "Bincount", "Bitcast", "BitwiseAnd", "BitwiseOr", "BitwiseXor",
    "BoostedTreesBucketize", "BoostedTreesCreateQuantileStreamResource",
    "BoostedTreesFlushQuantileSummaries", "BoostedTreesMakeQuantileSummaries",
    "BoostedTreesQuantileStreamResourceAddSummaries",
    "BoostedTreesQuantileStreamResourceDeserialize", "BoostedTreesQuantileStreamResourceFlush",
    "BoostedTreesQuantileStreamResourceGetBucketBoundaries",
    "BoostedTreesQuantileStreamResourceHandleOp", "BroadcastArgs", "BroadcastGradientArgs",
    "BroadcastTo", "Bucketize", "CTCBeamSearchDecoder", "CTCGreedyDecoder", "Cast", "Ceil",
    "CheckNumerics", "CheckNumericsV2", "CombinedNonMaxSuppression", "Complex", "ComplexAbs",
    "Concat", "ConcatOffset", "ConcatV2", "Conj", "ConjugateTranspose", "Const",
    "ControlTrigger", "Conv2D", "Conv2DBackpropFilter", "Conv2DBackpropInput", "Conv3D",
    "Conv3DBackpropFilter", "Conv3DBackpropFilterV2", "Conv3DBackpropInput",
    "Conv3DBackpropInputV2", "Cos", "Cosh", "CropAndResize", "CropAndResizeGradBoxes",
    "CropAndResizeGradImage", "Cumprod", "Cumsum", "CumulativeLogsumexp", "DataFormatDimMap",
    "DataFormatVecPermute", "DebugGradientIdentity", "DebugGradientRefIdentity",
    "DecodeAndCropJpeg", "DecodeBase64", "DecodeBmp", "DecodeGif", "DecodeImage", "DecodeJpeg",
    "DecodePng", "DecodeRaw", "DecodeWav", "DeepCopy", "DeleteSessionTensor", "DenseBincount",
    "DepthToSpace", "DepthwiseConv2dNative", "Dequantize", "DestroyTemporaryVariable", "Diag",
    "DiagPart", "Dilation2D", "Dilation2DBackpropFilter", "Dilation2DBackpropInput", "Div",
    "DivNoNan", "DynamicPartition", "DynamicStitch", "Einsum", "Elu", "EluGrad", "Empty",
    "EmptyTensorList", "EncodeBase64", "EncodeJpeg", "EncodeJpegVariableQuality", "EncodePng",
    "EncodeWav", "EnsureShape", "Enter", "Equal", "Erf", "Exit", "Exp", "ExpandDims",
    "ExtractImagePatches", "FFT", "FFT2D", "FFT3D", "FIFOQueue", "FIFOQueueV2",
    "FakeQuantWithMinMaxArgs", "FakeQuantWithMinMaxArgsGradient", "FakeQuantWithMinMaxVars",
    "FakeQuantWithMinMaxVarsGradient", "FakeQuantWithMinMaxVarsPerChannel",
    "FakeQuantWithMinMaxVarsPerChannelGradient", "FakeQueue", "Fill", "Fingerprint", "Floor",
    "FloorDiv", "FloorMod", "FusedBatchNorm", "FusedBatchNormGrad", "FusedBatchNormGradV2",
    "FusedBatchNormGradV3", "FusedBatchNormV2", "FusedBatchNormV3", "FusedPadConv2D",
    "FusedResizeAndPadConv2D", "Gather", "GatherNd", "GatherV2", "GetSessionHandle",
    "GetSessionHandleV2", "GetSessionTensor", "Greater", "GreaterEqual", "HistogramSummary",
    "IFFT", "IFFT2D", "IFFT3D", "IRFFT", "IRFFT2D", "IRFFT3D", "Identity", "IdentityN", "Imag",
    "ImageProjectiveTransformV2", "ImageProjectiveTransformV3", "ImmutableConst", "InTopK",
    "InTopKV2", "InplaceAdd", "InplaceSub", "InplaceUpdate", "Inv", "InvGrad", "Invert",
    "InvertPermutation", "IsBoostedTreesQuantileStreamResourceInitialized", "IsFinite", "IsNan",
    "IsVariableInitialized", "LRN", "LeakyRelu", "LeakyReluGrad", "LeftShift", "Less",
    "LessEqual", "LinSpace", "ListDiff", "Log", "LogSoftmax", "LogicalAnd", "LogicalNot",
    "LogicalOr", "LoopCond", "MatMul", "MatrixDiag", "MatrixDiagPart", "MatrixDiagPartV2",
    "MatrixDiagPartV3", "MatrixDiagV2", "MatrixDiagV3", "MatrixInverse", "MatrixSetDiag",
    "MatrixSetDiagV2", "MatrixSetDiagV3", "Max", "MaxPool", "MaxPool3D", "MaxPool3DGrad",
    "MaxPool3DGradGrad", "MaxPoolGrad", "MaxPoolGradGrad", "MaxPoolGradGradV2", "MaxPoolGradV2",
    "MaxPoolGradWithArgmax", "MaxPoolV2", "MaxPoolWithArgmax", "Maximum", "Mean", "Merge",
    "MergeSummary", "MergeV2Checkpoints", "Mfcc", "Min", "Minimum", "MirrorPad",
    "MirrorPadGrad", "Mul", "MulNoNan", "Multinomial", "Neg", "NextIteration", "NoOp",
    "NonMaxSuppression", "NonMaxSuppressionV2", "NonMaxSuppressionV3", "NonMaxSuppressionV4",
    "NonMaxSuppressionV5", "NonMaxSuppressionWithOverlaps", "NotEqual", "OneHot", "OnesLike",
    "Pack", "Pad", "PadV2", "PaddingFIFOQueue", "PaddingFIFOQueueV2", "ParallelConcat",
    "ParallelDynamicStitch", "ParseExample", "ParseExampleV2", "ParseSequenceExample",
    "ParseSequenceExampleV2", "ParseSingleExample", "ParseSingleSequenceExample", "Placeholder",
    "PlaceholderV2", "PlaceholderWithDefault", "PopulationCount", "Pow", "PreventGradient",
    "Print", "PrintV2", "Prod", "QuantizeDownAndShrinkRange", "QuantizeV2", "QuantizedAdd",
    "QuantizedAvgPool", "QuantizedBatchNormWithGlobalNormalization", "QuantizedBiasAdd",
    "QuantizedConcat", "QuantizedConv2D", "QuantizedInstanceNorm", "QuantizedMatMul",
    "QuantizedMaxPool", "QuantizedMul", "QuantizedRelu", "QuantizedRelu6", "QuantizedReshape",
    "QuantizedResizeBilinear", "QueueClose", "QueueCloseV2", "QueueDequeue", "QueueDequeueMany",
    "QueueDequeueManyV2", "QueueDequeueUpTo", "QueueDequeueUpToV2", "QueueDequeueV2",
    "QueueEnqueue", "QueueEnqueueMany", "QueueEnqueueManyV2", "QueueEnqueueV2", "QueueIsClosed",
    "QueueIsClosedV2", "QueueSize", "QueueSizeV2", "RFFT", "RFFT2D", "RFFT3D", "RaggedBincount",
    "RaggedGather", "RaggedRange", "RaggedTensorToSparse", "RaggedTensorToTensor",
    "RandomGamma", "RandomPoisson", "RandomPoissonV2", "RandomStandardNormal", "RandomUniform",
    "RandomUniformInt", "Range", "Rank", "Real", "RealDiv", "Reciprocal", "ReciprocalGrad",
    "Recv", "ReduceJoin", "RefEnter", "RefExit", "RefIdentity", "RefMerge", "RefNextIteration",
    "RefSelect", "RefSwitch", "RegexFullMatch", "RegexReplace", "Relu", "Relu6", "Relu6Grad",
    "ReluGrad", "RemoteCall", "RequantizationRange", "Requantize", "Reshape", "ResizeBilinear",
    "ResizeBilinearGrad", "ResizeNearestNeighbor", "ResizeNearestNeighborGrad",
    "ResourceApplyAdaMax", "ResourceApplyAdadelta", "ResourceApplyAdagrad",
    "ResourceApplyAdagradDA", "ResourceApplyAdagradV2", "ResourceApplyAdam",
    "ResourceApplyAdamWithAmsgrad", "ResourceApplyAddSign", "ResourceApplyCenteredRMSProp",
    "ResourceApplyFtrl", "ResourceApplyFtrlV2", "ResourceApplyGradientDescent",
    "ResourceApplyKerasMomentum", "ResourceApplyMomentum", "ResourceApplyPowerSign",
    "ResourceApplyProximalAdagrad", "ResourceApplyProximalGradientDescent",
    "ResourceApplyRMSProp", "ResourceScatterNdAdd", "ResourceScatterNdMax",
    "ResourceScatterNdMin", "ResourceScatterNdSub", "ResourceScatterNdUpdate",
    "ResourceSparseApplyAdadelta", "ResourceSparseApplyAdagrad", "ResourceSparseApplyAdagradDA",
    "ResourceSparseApplyAdagradV2", "ResourceSparseApplyCenteredRMSProp",
    "ResourceSparseApplyFtrl", "ResourceSparseApplyFtrlV2", "ResourceSparseApplyKerasMomentum",
    "ResourceSparseApplyMomentum", "ResourceSparseApplyProximalAdagrad",
    "ResourceSparseApplyProximalGradientDescent", "ResourceSparseApplyRMSProp",
    "ResourceStridedSliceAssign", "Restore", "RestoreSlice", "RestoreV2", "Reverse",
    "ReverseSequence", "ReverseV2", "RightShift", "Roll", "Round", "Rsqrt", "RsqrtGrad",
    "SampleDistortedBoundingBox", "SampleDistortedBoundingBoxV2", "Save", "SaveSlices",
    "SaveV2", "ScalarSummary", "ScatterNd", "ScatterNdAdd", "ScatterNdMax", "ScatterNdMin",
    "ScatterNdNonAliasingAdd", "ScatterNdSub", "ScatterNdUpdate", "SegmentMax", "SegmentMean",
    "SegmentMin", "SegmentProd", "SegmentSum", "Select", "SelectV2", "Selu", "SeluGrad", "Send",
    "Shape", "ShapeN", "ShardedFilename", "ShardedFilespec", "Sigmoid", "SigmoidGrad", "Sign",
    "Sin", "Sinh", "Size", "Slice", "Softmax", "SoftmaxCrossEntropyWithLogits", "Softplus",
    "SoftplusGrad", "Softsign", "SoftsignGrad", "SpaceToBatch", "SpaceToBatchND",
    "SpaceToDepth", "SparseApplyAdadelta", "SparseApplyAdagrad", "SparseApplyAdagradDA",
    "SparseApplyAdagradV2", "SparseApplyCenteredRMSProp", "SparseApplyFtrl",
    "SparseApplyFtrlV2", "SparseApplyMomentum", "SparseApplyProximalAdagrad",
    "SparseApplyProximalGradientDescent", "SparseApplyRMSProp", "SparseBincount", "SparseCross",
    "SparseCrossHashed", "SparseCrossV2", "SparseFillEmptyRows", "SparseFillEmptyRowsGrad",
    "SparseReshape", "SparseSegmentMean", "SparseSegmentMeanGrad",
    "SparseSegmentMeanWithNumSegments", "SparseSegmentSqrtN", "SparseSegmentSqrtNGrad",
    "SparseSegmentSqrtNWithNumSegments", "SparseSegmentSum", "SparseSegmentSumWithNumSegments",
    "SparseToDense", "Split", "SplitV", "Sqrt", "SqrtGrad", "Square", "SquaredDifference",
    "Squeeze", "Stack", "StackClose", "StackCloseV2", "StackPop", "StackPopV2", "StackPush",
    "StackPushV2", "StackV2", "StatelessMultinomial", "StatelessRandomGammaV2",
    "StatelessRandomGetKeyCounterAlg", "StatelessRandomNormal", "StatelessRandomNormalV2",
    "StatelessRandomPoisson", "StatelessRandomUniform", "StatelessRandomUniformFullInt",
    "StatelessRandomUniformFullIntV2", "StatelessRandomUniformInt",
    "StatelessRandomUniformIntV2", "StatelessRandomUniformV2",
    "StatelessSampleDistortedBoundingBox", "StatelessTruncatedNormal",
    "StatelessTruncatedNormalV2", "StaticRegexFullMatch", "StaticRegexReplace", "StopGradient",
    "StridedSlice", "StridedSliceAssign", "StridedSliceGrad", "StringJoin", "StringLength",
    "StringLower", "StringSplit", "StringSplitV2", "StringStrip", "StringToHashBucket",
    "StringToHashBucketFast", "StringToHashBucketStrong", "Sub", "Substr", "Sum", "Switch",
    "SymbolicGradient", "Tan", "Tanh", "TanhGrad", "TemporaryVariable", "TensorArray",
    "TensorArrayClose", "TensorArrayCloseV2", "TensorArrayCloseV3", "TensorArrayConcat",
    "TensorArrayConcatV2", "TensorArrayConcatV3", "TensorArrayGather", "TensorArrayGatherV2",
    "TensorArrayGatherV3", "TensorArrayGrad", "TensorArrayGradV2", "TensorArrayGradV3",
    "TensorArrayGradWithShape", "TensorArrayPack", "TensorArrayRead", "TensorArrayReadV2",
    "TensorArrayReadV3", "TensorArrayScatter", "TensorArrayScatterV2", "TensorArrayScatterV3",
    "TensorArraySize", "TensorArraySizeV2", "TensorArraySizeV3", "TensorArraySplit",
    "TensorArraySplitV2", "TensorArraySplitV3", "TensorArrayUnpack", "TensorArrayV2",
    "TensorArrayV3", "TensorArrayWrite", "TensorArrayWriteV2", "TensorArrayWriteV3",
    "TensorListConcat", "TensorListConcatLists", "TensorListConcatV2", "TensorListElementShape",
    "TensorListFromTensor", "TensorListGather", "TensorListGetItem", "TensorListLength",
    "TensorListPopBack", "TensorListPushBack", "TensorListPushBackBatch", "TensorListReserve",
    "TensorListResize", "TensorListScatter", "TensorListScatterIntoExistingList",
    "TensorListScatterV2", "TensorListSetItem", "TensorListSplit", "TensorListStack",
    "TensorScatterAdd", "TensorScatterMax", "TensorScatterMin", "TensorScatterSub",
    "TensorScatterUpdate", "TensorStridedSliceUpdate", "Tile", "TileGrad", "Timestamp", "TopK",
    "TopKV2", "Transpose", "TruncateDiv", "TruncatedNormal", "UnicodeDecode",
    "UnicodeDecodeWithOffsets", "UnicodeEncode", "UnicodeTranscode", "Unique", "UniqueV2",
    "UniqueWithCounts", "UniqueWithCountsV2", "Unpack", "UnsortedSegmentMax",
    "UnsortedSegmentMin", "UnsortedSegmentProd", "UnsortedSegmentSum", "UnwrapDatasetVariant",
    "Variable", "VariableV2", "Where", "WrapDatasetVariant", "Xdivy", "Xlog1py", "Xlogy",
    "ZerosLike", "_Arg", "_ArrayToList", "_DeviceArg", "_DeviceRetval", "_FusedConv2D",
    "_HostCast", "_HostRecv", "_HostSend", "_ListToArray", "_ParallelConcatStart",
    "_ParallelConcatUpdate", "_Recv", "_Retval", "_Send", "_SwitchN",
})

LEGACY_QUANTIZED_TF_OPS: frozenset[str] = frozenset({
    "QuantizeDownAndShrinkRange", "QuantizeV2", "QuantizedAdd", "QuantizedAvgPool",
    "QuantizedBatchNormWithGlobalNormalization", "QuantizedBiasAdd", "QuantizedConcat",
    "QuantizedConv2D", "QuantizedConv2DAndRequantize", "QuantizedConv2DPerChannel",
    "QuantizedConv2DWithBias", "QuantizedConv2DWithBiasAndRelu",
    "QuantizedConv2DWithBiasAndReluAndRequantize", "QuantizedDepthwiseConv2D",
    "QuantizedDepthwiseConv2DWithBias", "QuantizedInstanceNorm", "QuantizedMatMul",
    "QuantizedMatMulWithBias", "QuantizedMatMulWithBiasAndRelu",
    "QuantizedMatMulWithBiasAndReluAndRequantize", "QuantizedMaxPool", "QuantizedMul",
    "QuantizedRelu", "QuantizedRelu6", "QuantizedReluX", "QuantizedReshape",
    "QuantizedResizeBilinear", "RequantizationRange", "Requantize",
})

# TF1 quantized element types; a Dequantize reading one of them belongs to the
# legacy family too.
LEGACY_QUANTIZED_DTYPES: frozenset[str] = frozenset({"qint8", "quint8", "qint16", "quint16", "qint32"})


_TRAINING_PREFIXES = ("Apply", "ResourceApply", "SparseApply", "ResourceSparseApply", "Assign",
                      "Save", "Restore", "MergeV2Checkpoints")
TRAINING_ONLY_TF_OPS: frozenset[str] = frozenset({
    "VarIsInitializedOp", "IsVariableInitialized", "ScalarSummary", "HistogramSummary",
    "MergeSummary",
})
# Variables of a checkpoint graph become constants when it is frozen.
VARIABLE_TF_OPS: frozenset[str] = frozenset({"VariableV2", "Variable", "VarHandleOp",
                                             "ReadVariableOp"})


def is_training_op(op: str) -> bool:
    """True for ops that only update, save, restore or summarize (never inference)."""
    return op.startswith(_TRAINING_PREFIXES) or op in TRAINING_ONLY_TF_OPS


def is_legacy_quantized(op: str, dtype_names: set[str] | frozenset[str] = frozenset()) -> bool:
    """True for the TF1 legacy quantized family.

    Args:
        op: the node's op type.
        dtype_names: for a `Dequantize`, its `T` attr and input dtype names
            (`quint8`...): reading a TF1 quantized type makes it legacy too.
    """
    if op in LEGACY_QUANTIZED_TF_OPS:
        return True
    return op == "Dequantize" and bool(set(dtype_names) & LEGACY_QUANTIZED_DTYPES)
