"""JUnit XML rendering of check reports, for CI test-report views.

A testsuite per target; a testcase per model (classname `modelkit.check.<target>`,
name and file the model's path). A model with errors has one `failure`: its message
attribute is the first error's message (the runtime's own text), its body every
error as the text report shows it. Warnings and infos go to the testcase's
`system-out`, one block each, its first line `warning [rule] ...` or
`info [rule] ...`. A model that could not be read is a testcase with an `error`.
"""

from __future__ import annotations

import re
import xml.etree.ElementTree as ET
from collections.abc import Iterable, Sequence

from modelkit.check.findings import Finding, Report
from modelkit.check.render import finding_lines

# Characters XML 1.0 cannot hold, even escaped (a name read from a damaged file may have
# them).
_NOT_XML = re.compile("[^\t\n\r\x20-\ud7ff\ue000-\ufffd\U00010000-\U0010ffff]")


def _text(s: str) -> str:
    return _NOT_XML.sub("\ufffd", s)


def render_junit(reports: Sequence[Report], targets: Iterable[str] | None = None,
                 failures: Sequence[tuple[str, str]] = ()) -> str:
    """The JUnit XML document of one check call.

    Args:
        reports: one report per model and target, `path` set.
        targets: the targets checked, a testsuite each, in this order (default: those
            of the reports).
        failures: (model path, error line) for each model that could not be read.

    Returns:
        The XML text, with its declaration.
    """
    order = list(targets) if targets is not None else list(dict.fromkeys(
        r.target for r in reports))
    root = ET.Element("testsuites", name="modelkit check")
    totals = {"tests": 0, "failures": 0, "errors": 0}
    for target in order:
        suite = ET.SubElement(root, "testsuite", name=f"modelkit check --target {target}")
        counts = {"tests": 0, "failures": 0, "errors": 0}
        for report in reports:
            if report.target != target:
                continue
            counts["tests"] += 1
            case = _case(suite, target, report.path or "")
            errors = report.errors
            if errors:
                counts["failures"] += 1
                failure = ET.SubElement(case, "failure", message=_text(errors[0].message),
                                        type=errors[0].rule)
                failure.text = _text("\n".join(line for f in errors for line in _block(f)))
            others = [f for f in report.findings if f.severity != "error"]
            if others:
                out = ET.SubElement(case, "system-out")
                out.text = _text("\n".join(line for f in others for line in _block(f)))
        for path, text in failures:
            counts["tests"] += 1
            counts["errors"] += 1
            ET.SubElement(_case(suite, target, path), "error", message=_text(text),
                          type="unreadable")
        for key, value in counts.items():
            suite.set(key, str(value))
            totals[key] += value
        suite.set("skipped", "0")
    for key, value in totals.items():
        root.set(key, str(value))
    ET.indent(root)
    return '<?xml version="1.0" encoding="UTF-8"?>\n' + ET.tostring(root, "unicode") + "\n"


def _block(f: Finding) -> list[str]:
    """A finding as the text report shows it, its first line led by its severity."""
    first, *rest = finding_lines(f)
    return [f"{f.severity} {first.strip()}", *(line[2:] for line in rest)]


def _case(suite: ET.Element, target: str, path: str) -> ET.Element:
    return ET.SubElement(suite, "testcase", classname=f"modelkit.check.{target}",
                         name=_text(path), file=_text(path))
