"""The dynamic rules: the model runs on probe inputs of its modality (shapes, finiteness), batch
independence, determinism, extremes, latency. They see the model only through ``run(batch) ->
logits``, so an ONNX session and a submission in a child process are checked alike.

Batch independence, the rule we apply and why. Each probe sample is scored alone and inside a
batch of all probes. With ``scale = max(1, max |logit|)``:
- pass: ``max |alone - batched| <= 1e-4 * scale``. Batched kernels only reorder float32
  sums; that moves logits by about 1e-6 relative, far below this bound.
- warn: larger differences but no decision flips and at most 5% of the scale. That is what
  dynamic quantisation (int8 with per-batch scales) does: a sample's score depends a little on
  its batch-mates, so the benchmark score moves slightly with batch composition.
- fail: any decision flips (binary or 3-class), or differences above 5% of the scale. The
  verdict on a sample then depends on what else is in its batch: cross-sample leakage
  (BatchNorm left in training mode, normalisation over the batch axis) or quantisation coarse
  enough to change answers. A real int8 ViT-B/16 detector flipped 23 of 128 decisions this way.
"""

from __future__ import annotations

import dataclasses
import time
from collections.abc import Callable

import numpy as np

from bench import modalities
from bench.checks import FAIL, PASS, WARN, CheckReport
from bench.contract import first_failure, io_findings, resolve_spec
from bench.spec import ModelSpec, TensorInfo

PASS_TOL = 1e-4
WARN_TOL = 0.05
DYNAMIC_FRAMES = (8, 16)
Run = Callable[[np.ndarray], np.ndarray]


def check_io(report: CheckReport, inputs: list[TensorInfo], outputs: list[TensorInfo], modality: str | None, standard: tuple[int, ...] = (3,)) -> ModelSpec | None:
    """The contract's static rules (bench/contract.py), every one that can be judged; the
    resolved spec, or None when any failed."""
    findings = io_findings(inputs, outputs, modality, standard)
    report.findings += findings
    if first_failure(findings) is not None:
        return None
    return resolve_spec(report.path, "", inputs, outputs, modality)


def probe_batch(spec: ModelSpec, n: int, frames: int | None = None, seed: int = 0) -> np.ndarray:
    """``n`` varied probe inputs from the model's modality (bench/modalities/): images, or clips
    of ``frames`` (default: the model's T, else the first of ``DYNAMIC_FRAMES``)."""
    return modalities.get(spec.modality).probes(spec, n, frames or spec.frames or spec.hints.get("frames") or DYNAMIC_FRAMES[0], seed)


# --------------------------------------------------------------------------- dynamic rules


def check_runs(report: CheckReport, run: Run, spec: ModelSpec, fix: str) -> ModelSpec | None:
    """The model runs on probe batches of 1 and 5 (each frame count of a dynamic frames axis)
    with finite logits of the declared width. Returns the spec with the width seen, or None."""
    clips = "frames" in spec.sizes
    hinted = spec.hints.get("frames")  # a submission's num_frames
    frame_counts = [spec.frames] if not clips or spec.frames else [hinted] if hinted else list(DYNAMIC_FRAMES)
    width = spec.output_width
    for t in frame_counts:
        for b in (1, 5):
            batch = probe_batch(spec, b, t)
            what = f"batch {b}" + (f", {t} frames" if clips else "")
            try:
                out = run(batch)
            except Exception as exc:  # any runtime failure is this rule's verdict
                from bench.runtimes.errors import runtime_message

                report.add("runs", FAIL, f"fails on {what} {list(batch.shape)}: {runtime_message(exc)}", fix)
                return None
            if out.ndim != 2 or out.shape[0] != b or (width and out.shape[1] != width) or out.shape[1] not in (1, 2, 3):
                report.add("runs", FAIL, f"{what} gives output shape {list(out.shape)}; expected ({b}, {width or 3})", "return (batch, 3) logits")
                return None
            if not np.isfinite(out).all():
                report.add("runs", FAIL, f"{what} gives non-finite logits", "guard divisions and logs in the model")
                return None
            width = int(out.shape[1])
    at = f" at {', '.join(map(str, frame_counts))} frames" if clips else ""
    report.add("runs", PASS, f"runs on random batches of 1 and 5{at}; finite ({width} logits)")
    return dataclasses.replace(spec, output_width=width)


def _decisions(logits: np.ndarray) -> np.ndarray:
    from bench.records import decide

    _, pred, pred_binary = decide(logits)
    return np.stack([pred, pred_binary], 1)


def batch_dependence(run: Run, batch: np.ndarray) -> dict:
    """Each sample of ``batch`` scored alone and all together: the largest logit difference, the
    logit scale ``max(1, max |logit|)``, the decisions that flip, and the verdict (pass: within
    ``PASS_TOL * scale``; warn: larger, no flip, within ``WARN_TOL * scale``; fail otherwise).
    Also the width of the logits seen, checked to be a (n, 1..3) array."""
    n = len(batch)
    together = np.asarray(run(batch))
    alone = np.concatenate([np.asarray(run(batch[i : i + 1])) for i in range(n)])
    for out, size in ((together, n), (alone, n)):
        if out.ndim != 2 or out.shape[0] != size or out.shape[1] not in (1, 2, 3):
            raise ValueError(f"model output has shape {list(out.shape)} for a batch of {size}; the contract needs (batch, 3) logits [real, synthetic, semisynthetic]")
    scale = max(1.0, float(np.nanmax(np.abs(alone))) if np.isfinite(alone).any() else 1.0)
    diff = float(np.nanmax(np.abs(alone - together))) if np.isfinite(alone - together).any() else 0.0
    flips = int((_decisions(alone) != _decisions(together)).any(axis=1).sum())
    verdict = FAIL if flips or diff > WARN_TOL * scale else WARN if diff > PASS_TOL * scale else PASS
    return {"max_abs_diff": diff, "scale": scale, "flips": flips, "samples": n, "verdict": verdict, "width": int(alone.shape[1])}


def check_batch_independence(report: CheckReport, run: Run, spec: ModelSpec, n: int = 8) -> None:
    value = batch_dependence(run, probe_batch(spec, n, seed=1))
    msg = f"max |alone - in batch of {n}| = {value['max_abs_diff']:.3g} (logit scale {value['scale']:.3g}), {value['flips']} of {n} decisions flip"
    if value["verdict"] == FAIL:
        report.add("batch-independence", FAIL, msg + ": a sample's verdict depends on its batch-mates", "export in eval mode; no statistics over the batch axis; prefer static over dynamic quantisation", value)
    elif value["verdict"] == WARN:
        report.add("batch-independence", WARN, msg + ": scores depend a little on the batch (dynamic quantisation does this)", "static quantisation or float weights make scores batch-independent", value)
    else:
        report.add("batch-independence", PASS, msg, value=value)


def check_determinism(report: CheckReport, run: Run, spec: ModelSpec) -> None:
    batch = probe_batch(spec, 4, seed=2)
    first, second = run(batch), run(batch)
    diff = float(np.abs(first - second).max())
    if diff == 0:
        report.add("determinism", PASS, "two identical calls give identical logits", value=diff)
    else:
        report.add("determinism", FAIL, f"two identical calls differ by up to {diff:.3g}", "remove random ops (dropout in training mode, random noise) from the exported graph", diff)


def check_extremes(report: CheckReport, run: Run, spec: ModelSpec) -> None:
    """The modality's constant inputs (``Modality.extremes``: all-black and all-white images,
    silent and full-scale audio) give finite logits."""
    extremes = modalities.get(spec.modality).extremes
    base = probe_batch(spec, 1, seed=3)
    batch = np.stack([np.full_like(base[0], value) for _, value in extremes])
    out = run(batch)
    names = [name for name, _ in extremes]
    if np.isfinite(out).all():
        report.add("extremes", PASS, f"{', '.join(names[:-1])} and {names[-1]} inputs give finite logits")
    else:
        bad = [name for name, row in zip(names, out) if not np.isfinite(row).all()]
        report.add("extremes", FAIL, f"{' and '.join(bad)} input gives non-finite logits {out.tolist()}", "guard divisions by the input's std or mean (add an epsilon)")


def check_latency(report: CheckReport, run: Run, spec: ModelSpec, batch_size: int) -> None:
    times = {}
    for b in (1, batch_size):
        batch = probe_batch(spec, b, seed=4)
        run(batch)  # warm-up
        runs = []
        deadline = time.perf_counter() + 1.0
        while len(runs) < 3 or (time.perf_counter() < deadline and len(runs) < 20):
            start = time.perf_counter()
            run(batch)
            runs.append(time.perf_counter() - start)
        times[b] = float(np.median(runs)) * 1000.0
    report.info["latency_ms"] = times
    report.add("latency", PASS, f"CPU estimate: {times[1]:.1f} ms at batch 1, {times[batch_size]:.1f} ms at batch {batch_size} ({times[batch_size] / batch_size:.2f} ms per sample)", value=times)


def check_dynamic(report: CheckReport, spec: ModelSpec, run: Run, batch_size: int, fix: str) -> None:
    """Every dynamic rule; ``fix`` is the advice when the model fails to run at all."""
    spec = check_runs(report, run, spec, fix)
    if spec is None:
        return
    report.info.update(modality=spec.modality, height=spec.height, width=spec.width, frames=spec.frames, samples=spec.samples, output_width=spec.output_width)
    check_batch_independence(report, run, spec)
    check_determinism(report, run, spec)
    check_extremes(report, run, spec)
    check_latency(report, run, spec, batch_size)
