"""What a conversion did: the `--json` report and the human lines."""

from __future__ import annotations

from dataclasses import dataclass, field

from modelkit.convert.preflight import PreflightReport
from modelkit.quant.io_report import TensorIO, describe

SCHEMA_VERSION = 1


@dataclass
class ConvertResult:
    """What a conversion did; `to_dict()` is the `--json` report.

    `written` becomes True (and `size_bytes` is set) only once the output is in
    place: a report of a conversion that failed verification names no size.
    """

    src: str
    dst: str
    source_format: str
    target: str
    quantize: str
    converter: str = ""
    size_bytes: int | None = None
    written: bool = False
    inputs: list[TensorIO] = field(default_factory=list)
    outputs: list[TensorIO] = field(default_factory=list)
    preflight: PreflightReport = field(default_factory=PreflightReport)
    verification: object | None = None
    notes: list[str] = field(default_factory=list)

    def to_dict(self) -> dict:
        return {
            "schema_version": SCHEMA_VERSION,
            "source": {"path": self.src, "format": self.source_format},
            "output": {"path": self.dst, "format": self.target, "written": self.written,
                       "size_bytes": self.size_bytes if self.written else None},
            "quantize": self.quantize,
            "converter": self.converter,
            "inputs": [io.to_dict() for io in self.inputs],
            "outputs": [io.to_dict() for io in self.outputs],
            "preflight": self.preflight.to_dict(),
            "verification": self.verification.to_dict() if self.verification else None,
            "notes": self.notes,
        }

    def lines(self) -> list[str]:
        """The human report (stdout)."""
        if self.written:
            out = [f"wrote {self.dst} ({self.target}, {self.size_bytes} bytes, "
                   f"quantize={self.quantize})"]
        else:
            out = [f"not written: {self.dst} ({self.target}, quantize={self.quantize})"]
        if self.inputs or self.outputs:
            out.extend(describe(self.inputs + self.outputs))
        if self.verification is not None:
            out.extend(self.verification.lines())  # type: ignore[attr-defined]
        out.extend(f"note: {n}" for n in self.notes if n.startswith(_REPORTED_NOTES))
        return out


# Notes that belong in the report itself (stdout), not only in the progress (stderr).
_REPORTED_NOTES = ("the TFLite interpreter", "verification skipped")
