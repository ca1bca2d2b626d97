"""Transform passes on the IR: graph_transforms for TF graphs, rewrites for TFLite.

`modelkit.transform.base` holds the framework (registry, spec parser, runner);
`tf/` and `tflite/` hold the passes, each module registering its own.
"""

from modelkit.transform.base import (Param, Params, PassContext, PassReport, PassResult,
                                     TransformError, TransformPass, all_passes, get_pass,
                                     parse_spec, register, run_passes)

__all__ = ["Param", "Params", "PassContext", "PassReport", "PassResult", "TransformError",
           "TransformPass", "all_passes", "get_pass", "parse_spec", "register", "run_passes"]
