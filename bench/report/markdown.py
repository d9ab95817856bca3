"""summary.md: the tables of one run, and its errors, from its results document."""

from __future__ import annotations

from pathlib import Path

import pandas as pd

from bench.report import (
    dependence_line,
    metric_tables,
    preprocessing_text,
    robustness_table,
    strict_line,
    table,
    throughput_table,
    trials_table,
)


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
    env = doc["environment"]
    runtime = env.get("runtime", "onnxruntime")
    lines = [
        f"# {Path(model['path']).name} ({model['modality']})",
        "",
        f"- model sha256 `{model['sha256'][:16]}`, input {model['input_shape']} {model['input_dtype']}, {model['output_width']} logits",
        f"- preprocessing: {preprocessing_text(pre)}",
        f"- environment: {env['provider']} on {env['device']}, {runtime} {env.get(runtime, '')}".rstrip(),
        *([f"- batches: {pipe['grouping']}, order {pipe['batch_order']}"] if (pipe := doc.get("pipeline")) else []),
        *([f"- {dependence_line(doc.get('batch_dependence'))}"] if doc.get("batch_dependence") else []),
        "",
        "## Metrics",
        "",
        metric_tables(doc["metrics"]),
        "",
        *([strict_line(doc["metrics"]), ""] if strict_line(doc["metrics"]) else []),
        *(["## The range of the pushed score (batch trials)", "", trials_table(doc.get("batch_trials")), ""] if doc.get("batch_trials") else []),
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
