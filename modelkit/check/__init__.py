"""`modelkit check`: what a target runtime refuses or silently computes wrong, per node.

    from modelkit.check import check_model, TARGETS
    report = check_model(model, target="tflite")   # no TensorFlow, nothing is run

Rules are data (`modelkit.check.rules.RULES`): id, targets, ops, severity, the
runtime source that enforces them, the `modelkit fix` rule that repairs them.
"""

from modelkit.check.engine import check_model
from modelkit.check.findings import SCHEMA_VERSION, Finding, Report
from modelkit.check.rules import RULES, TARGETS, Rule

__all__ = ["RULES", "SCHEMA_VERSION", "TARGETS", "Finding", "Report", "Rule", "check_model"]
