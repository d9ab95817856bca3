"""``bench check``: the contract rules of SPEC section 1, each a small function returning findings,
for an ONNX model (``.onnx`` or its upload ``.zip``) or a PyTorch submission (folder or zip).

Static rules read the file, the graph or the submission's files; dynamic rules (bench/checks/
dynamic.py) run the model on CPU with varied probe inputs from its modality. A rule whose
prerequisite failed is reported as ``skip``. The verdict fails when any rule fails.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from bench.contract import FAIL, PASS, SKIP, WARN, Finding, first_failure

DEFAULT_BATCH = 16
DEFAULT_TIMEOUT = 60.0  # seconds a submission may take to load, or to answer one probe batch


@dataclass
class CheckReport:
    path: str
    findings: list[Finding] = field(default_factory=list)
    info: dict = field(default_factory=dict)

    @property
    def ok(self) -> bool:
        return first_failure(self.findings) is None

    def add(self, rule: str, verdict: str, message: str, fix: str = "", value=None) -> Finding:
        finding = Finding(rule, verdict, message, fix, value)
        self.findings.append(finding)
        return finding

    def to_json(self) -> dict:
        findings = [{"rule": f.rule, "status": f.verdict, "message": f.message, "fix": f.fix, "value": f.value} for f in self.findings]
        return {"path": self.path, "ok": self.ok, "info": self.info, "findings": findings}

    def text(self) -> str:
        lines = [f"bench check {self.path}"]
        for f in self.findings:
            fix = f" -> fix: {f.fix}" if f.fix and f.verdict in (WARN, FAIL) else ""
            lines.append(f"  {f.verdict.upper():4}  {f.rule}: {f.message}{fix}")
        counts = {s: sum(f.verdict == s for f in self.findings) for s in (PASS, WARN, FAIL, SKIP)}
        verdict = "PASS" if self.ok else "FAIL"
        lines.append(f"{verdict}: {counts[PASS]} passed, {counts[WARN]} warnings, {counts[FAIL]} failed, {counts[SKIP]} skipped")
        return "\n".join(lines)


def check_model(path: str | Path, modality: str | None = None, batch_size: int = DEFAULT_BATCH, timeout: float = DEFAULT_TIMEOUT) -> CheckReport:
    """Every rule on ``path``: an ONNX model, or a submission (loaded in a child process with a
    time limit of ``timeout`` seconds a step). Never raises for a bad model."""
    from bench.submission import is_submission

    path = Path(path)
    report = CheckReport(str(path))
    if is_submission(path):
        from bench.checks.submission import check_submission

        check_submission(report, path, modality, batch_size, timeout)
    else:
        from bench.checks.onnx_file import check_onnx_model

        check_onnx_model(report, path, modality, batch_size)
    return skip_rest(report)


DYNAMIC_RULES = ("runs", "batch-independence", "determinism", "extremes", "latency")


def skip_rest(report: CheckReport) -> CheckReport:
    done = {f.rule for f in report.findings}
    for rule in DYNAMIC_RULES:
        if rule not in done:
            report.add(rule, SKIP, "not run: an earlier rule failed")
    return report
