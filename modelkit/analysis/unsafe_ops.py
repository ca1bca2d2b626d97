"""TF ops with effects outside the graph (files, the console, Python, the network,
the process), which running or converting a graph would carry out on this machine.

A model file is data, but a TF graph is a program: opening it in a Session or
tracing it for the converter executes these ops with the user's rights. The CLI
refuses such graphs unless `--allow-unsafe-ops`; `check` reports them.

Origin: `_OP_DENYLIST` of tensorflow/python/tools/saved_model_cli.py (TF 2.21:
WriteFile, ReadFile, PrintV2), which `saved_model_cli scan` looks for, widened
with the other ops of tensorflow/core/ops/*.cc that touch the host: file readers
and writers (io_ops.cc, summary_ops.cc, dataset file sources and sinks), Python
callbacks (script_ops.cc), debugger ops that stream tensors to URLs
(debug_ops.cc), RPC ops and `Abort`.
NOTE: SaveV2/RestoreV2 are left out: loading a SavedModel runs its own restore
function to read its variables, which is the format working as designed.
"""

from __future__ import annotations

from dataclasses import dataclass

from modelkit.ir import Model

# op -> what it does to the host, for the refusal message.
UNSAFE_TF_OPS: dict[str, str] = {
    **dict.fromkeys(("WriteFile", "ReadFile", "MatchingFiles", "ImmutableConst",
                     "InitializeTableFromTextFile", "InitializeTableFromTextFileV2",
                     "WholeFileReader", "WholeFileReaderV2", "TextLineReader",
                     "TextLineReaderV2", "FixedLengthRecordReader",
                     "FixedLengthRecordReaderV2", "TFRecordReader", "TFRecordReaderV2",
                     "LMDBReader", "TextLineDataset", "TFRecordDataset", "TFRecordDatasetV2",
                     "FixedLengthRecordDataset", "FixedLengthRecordDatasetV2",
                     "MatchingFilesDataset", "ExperimentalMatchingFilesDataset",
                     "DatasetToTFRecord", "ExperimentalDatasetToTFRecord", "SaveDataset",
                     "SaveDatasetV2", "LoadDataset", "SnapshotDataset",
                     "SnapshotDatasetV2", "SqlDataset", "ExperimentalSqlDataset",
                     "CreateSummaryFileWriter", "CreateSummaryDbWriter", "WriteSummary",
                     "WriteScalarSummary", "WriteHistogramSummary", "WriteImageSummary",
                     "WriteAudioSummary", "WriteGraphSummary", "WriteRawProtoSummary",
                     "ImportEvent", "FlushSummaryWriter", "CloseSummaryWriter",
                     "DecodeProtoV2", "EncodeProto"), "reads or writes files"),
    **dict.fromkeys(("PrintV2", "Print"), "prints (PrintV2 can write to a file)"),
    **dict.fromkeys(("PyFunc", "PyFuncStateless", "EagerPyFunc"),
                    "calls back into Python code"),
    **dict.fromkeys(("DebugIdentity", "DebugIdentityV2", "DebugIdentityV3",
                     "DebugNanCount", "DebugNumericSummary", "DebugNumericSummaryV2"),
                    "streams tensors to debug URLs or files"),
    **dict.fromkeys(("Rpc", "TryRpc", "RpcServer", "RpcClient", "RpcCall",
                     "RpcServerStart", "RpcServerRegister"), "talks to the network"),
    "Abort": "ends the process",
}


# Keras layers that carry Python code in the file (a marshaled lambda or function);
# Keras' safe mode refuses to deserialize them.
UNSAFE_KERAS_LAYERS: dict[str, str] = {
    "Lambda": "runs Python code stored in the file",
}


@dataclass(frozen=True)
class UnsafeNode:
    """A node whose op acts on the host."""

    graph: str
    node: str
    op: str

    @property
    def effect(self) -> str:
        return UNSAFE_TF_OPS.get(self.op) or UNSAFE_KERAS_LAYERS[self.op]

    def to_dict(self) -> dict:
        return {"graph": self.graph, "node": self.node, "op": self.op, "effect": self.effect}


def unsafe_nodes(model: Model) -> list[UnsafeNode]:
    """Every node of every graph (function bodies included) whose op is in UNSAFE_TF_OPS,
    and every Keras layer in UNSAFE_KERAS_LAYERS.

    TFLite models are skipped: a Select TF op runs only in a Flex-linked runtime,
    which modelkit's interpreter is not.
    """
    if model.format == "tflite":
        return []
    found = []
    for graph in model.graphs:
        for node in graph.nodes:
            if (node.op in UNSAFE_TF_OPS and node.domain in ("tf", "")) or \
                    (node.op in UNSAFE_KERAS_LAYERS and node.domain == "keras"):
                found.append(UnsafeNode(graph.name, node.name, node.op))
    return found


def describe_unsafe(found: list[UnsafeNode], limit: int = 6) -> str:
    """`WriteFile (save_log: reads or writes files), ...`: one phrase for a message."""
    parts = [f"{u.op} {u.node!r} ({u.effect})" for u in found[:limit]]
    if len(found) > limit:
        parts.append(f"and {len(found) - limit} more")
    return ", ".join(parts)
