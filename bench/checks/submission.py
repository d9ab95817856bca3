"""The rules of a PyTorch submission (folder or zip): its layout and ``model_config.yaml``
(bench/submission/), the network's static rules over ``model.py`` (bench/submission/static.py),
the contract's rules on the input and output the config declares; then loading, in a child
process with a time limit, and the dynamic rules through that child. No code of the submission
runs in this process, and none at all when a static rule fails."""

from __future__ import annotations

from pathlib import Path

from bench.checks import FAIL, PASS, CheckReport
from bench.checks.dynamic import check_dynamic, check_io
from bench.contract import first_failure

RUN_FIX = "run load_model and forward on a uint8 batch of this shape in Python and fix the error"


def check_submission(report: CheckReport, path: Path, modality: str | None, batch_size: int, timeout: float) -> None:
    from bench.runtimes.child import ChildFailure, ChildRuntime
    from bench.runtimes.pytorch import SUBMISSION_WIDTHS, submission_io
    from bench.submission import layout_findings
    from bench.submission.static import static_findings

    findings, submission = layout_findings(path)
    report.findings += findings
    if submission is None:
        return
    report.info.update(format="safetensors submission", name=submission.config.name, dtype=submission.config.dtype)
    static = static_findings(submission.model_py.read_text(errors="replace"), "model.py")
    report.findings += static
    if first_failure(static) is not None:
        return  # never execute code the network would reject
    inputs, outputs = submission_io(submission.config)
    if check_io(report, inputs, outputs, modality or submission.config.modality, SUBMISSION_WIDTHS) is None:
        return
    try:
        child = ChildRuntime(str(path), "cpu", 0, timeout)
    except ChildFailure as exc:
        report.add("load", FAIL, str(exc), "import model.py and call load_model in Python to see the error; loading must finish in time")
        return
    with child:
        report.add("load", PASS, f"model.py imported and load_model returned a module in {child.load_s:.1f} s (in a child process, limit {timeout:g} s; {child.environment['dtype']} weights)")
        try:
            check_dynamic(report, child.spec, child.run, batch_size, RUN_FIX)
        except ChildFailure as exc:  # a probe after the first hung or killed the child
            report.add("probes", FAIL, str(exc), RUN_FIX)
