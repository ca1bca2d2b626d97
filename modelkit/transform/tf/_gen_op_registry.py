"""Generate `_op_registry.py`: the facts of TensorFlow's op registry that passes need.

Run `python -m modelkit.transform.tf._gen_op_registry` after upgrading
TensorFlow. The facts come from TF's own registry (`op_def_registry`), so
passes such as add_default_attributes, merge_duplicate_nodes and
insert_logging know op defaults, statefulness and output types without
importing TensorFlow. `tests/transform/test_op_registry.py` checks the
committed table against the installed TensorFlow.
"""

from __future__ import annotations

import base64
import sys
from pathlib import Path

OUTPUT = Path(__file__).with_name("_op_registry.py")


def collect() -> dict[str, tuple]:
    """op name -> (is_stateful, {attr: base64 AttrValue default}, outputs).

    outputs: one (name, type enum or 0, type_attr, number_attr, type_list_attr) per output arg.
    """
    from modelkit.runtime.tfenv import import_tf

    import_tf(needed_for="generating the op registry")  # NOTE: registers every op
    from tensorflow.core.framework import op_def_pb2
    from tensorflow.python.client import pywrap_tf_session as c_api

    buf = c_api.TF_GetAllOpList()
    try:
        op_list = op_def_pb2.OpList.FromString(c_api.TF_GetBuffer(buf))
    finally:
        c_api.TF_DeleteBuffer(buf)
    ops = {}
    for op_def in sorted(op_list.op, key=lambda o: o.name):
        name = op_def.name
        defaults = {a.name: base64.b64encode(a.default_value.SerializeToString()).decode()
                    for a in op_def.attr if a.HasField("default_value")}
        outputs = tuple((o.name, int(o.type), o.type_attr, o.number_attr, o.type_list_attr)
                        for o in op_def.output_arg)
        ops[name] = (bool(op_def.is_stateful), defaults, outputs)
    return ops


def main() -> int:
    from modelkit.errors import ModelkitError
    from modelkit.runtime.tfenv import import_tf

    try:
        tf = import_tf(needed_for="generating the op registry")
    except ModelkitError as e:
        print(f"error: {e}", file=sys.stderr)
        return int(e.exit_code)
    ops = collect()
    lines = [
        f"# Generated from TensorFlow {tf.__version__}'s op registry by",
        "#     python -m modelkit.transform.tf._gen_op_registry",
        "# Do not edit; regenerate after upgrading TensorFlow.",
        '"""TensorFlow op registry facts as plain data (no TensorFlow import)."""',
        "",
        f"TF_VERSION = {tf.__version__!r}",
        "",
        "# op -> (is_stateful, {attr: base64 serialized AttrValue default},",
        "#        outputs: ((arg name, type enum or 0, type_attr, number_attr,",
        "#                   type_list_attr), ...))",
        "OPS: dict[str, tuple[bool, dict[str, str],",
        "                     tuple[tuple[str, int, str, str, str], ...]]] = {",
    ]
    for name, (stateful, defaults, outputs) in ops.items():
        lines.append(f"    {name!r}: ({stateful!r}, {defaults!r}, {outputs!r}),")
    lines.append("}")
    OUTPUT.write_text("\n".join(lines) + "\n")
    print(f"wrote {OUTPUT} ({len(ops)} ops)", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
