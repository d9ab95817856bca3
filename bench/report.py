"""The result files (SPEC section 7) and the tables a person reads, from one ``RunResult``.

Every file is written to a temporary name first and renamed into place, so a reader never sees a
half-written file.
"""

from __future__ import annotations

import json
import math
import os
import tempfile
from datetime import datetime, timezone
from pathlib import Path

import pandas as pd

SCHEMA_VERSION = 1
METRIC_COLUMNS = ("n", "errors", "accuracy", "accuracy_3class", "mcc", "brier", "cross_entropy", "sn34")


def _file_mode() -> int:
    """0o666 less the process umask: what ``open(path, "w")`` would give (mkstemp gives 0o600)."""
    mask = os.umask(0)
    os.umask(mask)
    return 0o666 & ~mask


FILE_MODE = _file_mode()


def atomic_write(path: Path, write) -> None:
    """Call ``write(tmp_path)`` then rename the temporary file onto ``path``."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", dir=path.parent)
    os.close(fd)
    os.chmod(tmp, FILE_MODE)
    try:
        write(Path(tmp))
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def write_text(path: Path, text: str) -> None:
    atomic_write(path, lambda tmp: tmp.write_text(text))


def run_folder(results_dir: str, model_path: str, modality: str, output: str | None) -> Path:
    if output:
        return Path(output)
    stem = Path(model_path).stem
    stamp = datetime.now(timezone.utc).strftime("%Y%m%d-%H%M%S")
    folder = Path(results_dir) / f"{stem}-{modality}-{stamp}"
    n = 1
    while folder.exists():
        n += 1
        folder = Path(results_dir) / f"{stem}-{modality}-{stamp}-{n}"
    return folder


def results_json(result, metrics: dict) -> dict:
    spec = result.runtime.spec
    return {
        "schema_version": SCHEMA_VERSION,
        "created": datetime.now(timezone.utc).isoformat(timespec="seconds"),
        "model": {
            "path": spec.path,
            "sha256": spec.sha256,
            "input_name": spec.input_name,
            "input_shape": list(spec.input_shape),
            "input_dtype": spec.input_dtype,
            "output_shape": list(spec.output_shape),
            "output_width": result.output_width,
            "modality": spec.modality,
        },
        "environment": result.runtime.environment(),
        "config": result.config.to_dict(),
        "preprocessing": result.preprocessor.describe() | {"size_declared": spec.size_declared},
        "datasets": [
            {"name": d.name, "modality": d.modality, "media_type": d.media_type, "source": d.source, "weight": d.weight, "max_samples": d.max_samples}
            for d in result.datasets
        ],
        "metrics": metrics,
        "robustness": result.robustness(metrics),
        "throughput": result.throughput.to_json() | {"workers": result.config.resolved_workers(), "cache": _cache_json(result.preprocessor.cache)},
    }


def _cache_json(cache) -> dict:
    if cache is None:
        return {"enabled": False}
    return {"enabled": True, "dir": str(cache.root)} | cache.stats.to_json()


def write_results(result, folder: Path) -> dict:
    """Write ``results.json`` and ``summary.md`` beside the run's ``records.parquet``; return the
    results dict."""
    metrics = result.metrics()
    doc = results_json(result, metrics)
    write_text(folder / "results.json", json.dumps(_clean(doc), indent=2) + "\n")
    write_text(folder / "summary.md", summary_markdown(doc, result.table))
    return doc


def _clean(value):
    """JSON without NaN/inf (``null`` instead)."""
    if isinstance(value, dict):
        return {k: _clean(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_clean(v) for v in value]
    if isinstance(value, float) and not math.isfinite(value):
        return None
    return value


def human_bytes(n: int) -> str:
    for unit in ("bytes", "KB", "MB", "GB"):
        if n < 1000 or unit == "GB":
            return f"{n:.0f} {unit}" if unit == "bytes" else f"{n:.1f} {unit}"
        n /= 1000
    return f"{n:.1f} GB"


def fmt(value, digits: int = 4) -> str:
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return "-"
    if isinstance(value, float):
        return f"{value:.{digits}f}"
    return str(value)


def table(headers: list[str], rows: list[list]) -> str:
    """A Markdown table that also reads well as plain text."""
    cells = [[fmt(c) for c in row] for row in rows]
    widths = [max(len(h), *(len(r[i]) for r in cells)) if cells else len(h) for i, h in enumerate(headers)]
    line = lambda values: "| " + " | ".join(v.rjust(w) if i else v.ljust(w) for i, (v, w) in enumerate(zip(values, widths))) + " |"  # noqa: E731
    sep = "|" + "|".join("-" * (w + 1) + (":" if i else "-") for i, w in enumerate(widths)) + "|"
    return "\n".join([line(headers), sep, *(line(r) for r in cells)])


def metric_tables(metrics: dict) -> str:
    overall = metrics["overall"]
    ci = overall.get("ci") or {}
    heads = ["group", *METRIC_COLUMNS]
    rows = [["overall", *(overall.get(k) for k in METRIC_COLUMNS)]]
    rows += [[f"dataset {d['dataset']}", *(d.get(k) for k in METRIC_COLUMNS)] for d in metrics["per_dataset"]]
    rows += [[f"media {m['media_type']}", *(m.get(k) for k in METRIC_COLUMNS)] for m in metrics["per_media_type"]]
    parts = [table(heads, rows)]
    if ci:
        parts.append("95% bootstrap intervals: " + ", ".join(f"{k} [{fmt(v[0])}, {fmt(v[1])}]" for k, v in ci.items() if v))
    if metrics.get("confusion"):
        labels = metrics["confusion"]["labels"]
        matrix = metrics["confusion"]["matrix"]
        parts.append("Confusion (rows: true, columns: predicted)\n\n" + table(["true \\ pred", *labels], [[lab, *(int(x) if float(x).is_integer() else x for x in row)] for lab, row in zip(labels, matrix)]))
    return "\n\n".join(parts)


def robustness_table(robustness: dict | None) -> str:
    if not robustness:
        return ""
    w = robustness["weight"]
    rows = [["overall", robustness["sn34_base"], robustness["sn34_robust"], robustness["sn34_blended"], robustness["degradation"]["mean"], robustness["degradation"]["p95"]]]
    rows += [[f"dataset {d['dataset']}", d["sn34_base"], d["sn34_robust"], d["sn34_blended"], d["degradation"]["mean"], d["degradation"]["p95"]] for d in robustness["per_dataset"]]
    heads = ["robustness", "sn34 base", "sn34 robust", f"sn34 blended ({1 - w:g} base + {w:g} robust)", "p(true) drop mean", "p(true) drop p95"]
    return table(heads, rows)


def throughput_table(tp: dict, environment: dict) -> str:
    lat = tp["latency_ms"]
    st = tp["stages_ms"]
    rows = [
        ["provider", environment["provider"]],
        ["device", environment["device"]],
        ["batch size", tp["batch_size"]],
        ["workers", tp.get("workers")],
        ["cache hits / misses", _cache_cell(tp.get("cache"))],
        ["samples", tp["samples"]],
        ["end-to-end samples/s", tp["samples_per_s"]],
        ["model-only samples/s", tp["model_only_samples_per_s"]],
        ["batch latency p50 / p90 / p95 / p99 ms", " / ".join(fmt(lat[k], 2) for k in ("p50", "p90", "p95", "p99"))],
        ["per-sample model ms", tp["per_sample_ms"]],
        ["decode ms (all workers)", st["decode"]],
        ["preprocess ms (all workers)", st["preprocess"]],
        ["waiting for data ms", st["data_wait"]],
        ["inference ms", st["inference"]],
    ]
    return table(["throughput", "value"], rows)


def _cache_cell(cache: dict | None) -> str:
    if not cache or not cache.get("enabled"):
        return "off"
    rebuilt = f", {cache['rebuilt']} rebuilt" if cache.get("rebuilt") else ""
    return f"{cache['hits']} / {cache['misses']}{rebuilt}"


def error_table(records: pd.DataFrame, limit: int = 20) -> str:
    bad = records[records["status"] != "ok"]
    if bad.empty:
        return ""
    rows = [[r.status, r.dataset, r.sample_id, r.error_stage, r.error] for r in bad.head(limit).itertuples()]
    more = f"\n\n... and {len(bad) - limit} more in records.parquet" if len(bad) > limit else ""
    return table(["status", "dataset", "sample", "stage", "reason"], rows) + more


def summary_markdown(doc: dict, records: pd.DataFrame) -> str:
    model = doc["model"]
    pre = doc["preprocessing"]
    lines = [
        f"# {Path(model['path']).name} ({model['modality']})",
        "",
        f"- model sha256 `{model['sha256'][:16]}`, input {model['input_shape']} {model['input_dtype']}, {model['output_width']} logits",
        f"- preprocessing: {pre['geometry']} to {pre['height']}x{pre['width']}, {pre['interpolation']} interpolation, augmentation {pre['augmentation']}, seed {pre['seed']}",
        f"- environment: {doc['environment']['provider']} on {doc['environment']['device']}, onnxruntime {doc['environment']['onnxruntime']}",
        "",
        "## Metrics",
        "",
        metric_tables(doc["metrics"]),
        "",
        *(["## Robustness (redistribution chain)", "", robustness_table(doc.get("robustness")), ""] if doc.get("robustness") else []),
        "## Throughput",
        "",
        throughput_table(doc["throughput"], doc["environment"]),
        "",
    ]
    errors = error_table(records)
    if errors:
        lines += ["## Errors", "", errors, ""]
    return "\n".join(lines)
