"""Rendering: the tables a person reads, from a result's documents. Computes nothing."""

from __future__ import annotations

import math

DECISION_COLUMNS = ("n", "errors", "accuracy", "accuracy_3class", "tnr", "tpr", "mcc", "sn34")
SCORE_COLUMNS = ("roc_auc", "average_precision", "eer", "brier", "cross_entropy", "ece", "best_threshold_accuracy")
METRIC_COLUMNS = DECISION_COLUMNS + SCORE_COLUMNS
HEADERS = {"tnr": "tnr (real acc.)", "tpr": "tpr (AI acc.)", "roc_auc": "auc", "average_precision": "ap", "ece": "ece (15 bins)",
           "best_threshold_accuracy": "best-threshold accuracy (ORACLE)"}


def preprocessing_text(pre: dict) -> str:
    """A view's ``describe()`` in one line: pictures (route, size, interpolation) or audio (rate,
    length, crop), then augmentation and seed."""
    if "sample_rate" in pre:
        what = f"{pre.get('sample_rate')} Hz mono, {pre.get('samples')} samples ({fmt(pre.get('seconds'), 2)} s), {pre.get('crop')} crop"
    else:
        what = f"{pre.get('geometry')} to {pre.get('height')}x{pre.get('width')}, {pre.get('interpolation')} interpolation"
    return f"{what}, augmentation {pre.get('augmentation')}, seed {pre.get('seed')}"


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
    """Two tables over the same groups (overall, per dataset, per media type): the decisions
    (what the model's decision rule gets right) and the scores (threshold-free figures and
    calibration from ``p_ai``); undefined values (one class present) show as "-"."""
    overall = metrics["overall"]
    ci = overall.get("ci") or {}
    groups = [("overall", overall)]
    groups += [(f"dataset {d['dataset']}", d) for d in metrics["per_dataset"]]
    groups += [(f"media {m['media_type']}", m) for m in metrics["per_media_type"]]
    groups += [(f"{key} {g['group']}", g) for key, rows in (metrics.get("per_group") or {}).items() for g in rows]
    parts = [table([title, *(HEADERS.get(k, k) for k in columns)], [[name, *(g.get(k) for k in columns)] for name, g in groups])
             for title, columns in (("decisions", DECISION_COLUMNS), ("scores (from p_ai)", SCORE_COLUMNS))]
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
        ["engine", _engine_cell(tp.get("engine"))],
        ["workers", tp.get("workers")],
        ["cache hits / misses", _cache_cell(tp.get("cache"))],
        ["samples", tp["samples"]],
        ["end-to-end samples/s (scoring loop)", tp["samples_per_s"]],
        *([["shared wall clock samples/s (all models)", tp["shared_samples_per_s"]]] if tp.get("models", 1) > 1 else []),
        ["samples/s from process start (imports, load, listing)", tp.get("from_start_samples_per_s")],
        ["model-only samples/s", tp["model_only_samples_per_s"]],
        ["batch latency p50 / p90 / p95 / p99 ms", " / ".join(fmt(lat[k], 2) for k in ("p50", "p90", "p95", "p99"))],
        ["first batches left out of latency (warm-up, scored)", tp.get("warmup_batches_excluded")],
        ["per-sample model ms", tp["per_sample_ms"]],
        ["decode ms (all workers)", st["decode"]],
        ["preprocess ms (all workers)", st["preprocess"]],
        ["waiting for data ms", st["data_wait"]],
        ["inference ms", st["inference"]],
    ]
    rows += [[f"actor {name} samples/s (batches, provider)", f"{fmt(a['samples_per_s'], 1)} ({a['batches']}, {a['provider']})"] for name, a in (tp.get("engine") or {}).get("actors", {}).items()]
    return table(["throughput", "value"], rows)


def _engine_cell(engine: dict | None) -> str:
    if not engine or engine.get("engine") != "ray":
        return "local"
    res = engine["resources"]
    return (f"ray ({engine['address']}: {engine['nodes']} node(s), {res.get('CPU', 0):g} CPU, {res.get('GPU', 0):g} GPU; "
            f"{engine['inference_workers']} inference actor(s), {engine['gpus_per_worker']:g} GPU each)")


def _cache_cell(cache: dict | None) -> str:
    if not cache or not cache.get("enabled"):
        return "off"
    rebuilt = f", {cache['rebuilt']} rebuilt" if cache.get("rebuilt") else ""
    return f"{cache['hits']} / {cache['misses']}{rebuilt}"


def strict_line(metrics: dict) -> str:
    """The strict metrics beside the headline, when the model failed on samples."""
    overall = metrics["overall"]
    strict = overall.get("strict")
    if not overall.get("model_errors") or not strict:
        return ""
    keys = ("accuracy", "mcc", "brier", "sn34")
    return (f"The model failed on {overall['model_errors']} sample(s). Headline (status ok only, the leaderboard's rule): "
            + ", ".join(f"{k} {fmt(overall[k])}" for k in keys) + f". Strict (model errors counted wrong, p_ai 0.5; n {strict['n']}): "
            + ", ".join(f"{k} {fmt(strict[k])}" for k in keys) + ".")


def dependence_line(found: dict | None) -> str:
    if not found:
        return ""
    verdict = {"pass": "batch-independent", "warn": "slightly batch-dependent", "fail": "batch-dependent"}[found["verdict"]]
    return (f"Probe at load: {verdict} ({found['samples']} probe inputs alone vs together: max logit difference {found['max_abs_diff']:.3g}, "
            f"scale {found['scale']:.3g}, {found['flips']} decision(s) flip).")


def trials_table(trials: dict | None) -> str:
    if not trials:
        return ""
    rows = [[k, m["default"], m["min"], m["median"], m["max"], f"[{fmt(m['p05'])}, {fmt(m['p95'])}]"] for k, m in trials["metrics"].items()]
    flipped = trials["decisions_flipped"]
    note = (f"{trials['trials']} seeded groupings ({trials['grouping']}); decisions that differ from the run's grouping: "
            f"{flipped['min']:.0f} to {flipped['max']:.0f} of {flipped['samples']} (median {flipped['median']:.0f}).")
    return table(["batch trials", "this run", "min", "median", "max", "90% interval"], rows) + "\n\n" + note
