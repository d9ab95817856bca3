"""Paired comparison of runs on the same samples (``bench compare``, ``bench run --model A --model B``).

The first run is the baseline. On the samples every run scored (data errors excluded):
- McNemar's exact test on binary correctness (two-sided, binomial on the discordant pairs);
- paired bootstrap intervals for the differences in MCC, Brier and SN34 (the same resampled
  samples for both models);
- a verdict per metric: better, worse, or no significant difference at the 95% level;
- per dataset, each model's metrics and the difference, largest change first;
- the samples where the models disagree most.
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from bench.errors import BenchError
from bench.metrics import Scored, bootstrap_ci, compute

KEY = ["dataset", "sample_id"]
HIGHER_IS_BETTER = {"accuracy": True, "mcc": True, "sn34": True, "brier": False}
SAME_PREPROCESSING = ("geometry", "interpolation", "augmentation", "seed", "fast_decode", "frame_rule", "frames", "target_fps", "sample_rate", "crop")


@dataclass
class LoadedRun:
    name: str
    folder: Path
    results: dict
    records: pd.DataFrame


RECORD_COLUMNS = ("dataset", "sample_id", "label", "p_ai", "pred", "pred_binary", "status", "aug_seed", "weight")


def load_run(folder: str | Path) -> LoadedRun:
    """A run folder's results.json and records.parquet; ``BenchError`` (one line, naming the
    file and the fix) when either is missing, unreadable, corrupt or lacks what compare reads."""
    folder = Path(folder)
    files = [folder / "results.json", folder / "records.parquet"]
    missing = [f.name for f in files if not f.is_file()]
    if missing:
        raise BenchError(f"{folder} is not a run folder: {', '.join(missing)} missing; give folders written by `bench run`")
    results = _read_results(files[0])
    records = _read_records(files[1])
    if "pass" in records:  # a run with the robustness pass: compare the base pass
        records = records[records["pass"] == "base"].reset_index(drop=True)
    return LoadedRun(Path(results["model"]["path"]).stem, folder, results, records)


def _corrupt(path: Path, why: str) -> BenchError:
    return BenchError(f"{path} is corrupt ({why}); rerun `bench run` to write it again")


def _read_results(path: Path) -> dict:
    try:
        results = json.loads(path.read_bytes().decode("utf-8"))
    except OSError as exc:
        raise BenchError(f"cannot read {path}: {exc.strerror or exc}; check its permissions") from None
    except UnicodeDecodeError as exc:
        raise _corrupt(path, f"not UTF-8 text: byte 0x{exc.object[exc.start]:02x} at offset {exc.start}") from None
    except (ValueError, RecursionError) as exc:
        raise _corrupt(path, f"not valid JSON: {str(exc)[:120]}") from None
    if not isinstance(results, dict):
        raise _corrupt(path, f"it holds a {type(results).__name__}, not the results object")
    model = results.get("model")
    if not isinstance(model, dict) or not isinstance(model.get("path"), str):
        raise _corrupt(path, "no model.path")
    if not isinstance(results.get("preprocessing"), dict):
        raise _corrupt(path, "no preprocessing settings")
    if not isinstance(results.get("throughput", {}), dict):
        raise _corrupt(path, "throughput is not an object")
    return results


def _read_records(path: Path) -> pd.DataFrame:
    try:
        records = pd.read_parquet(path)
    except Exception as exc:  # pyarrow raises ArrowInvalid, OSError and others for a damaged file
        first = (str(exc).strip().splitlines() or [type(exc).__name__])[0][:160]
        raise _corrupt(path, f"not a readable parquet file: {first}") from None
    lacking = [c for c in RECORD_COLUMNS if c not in records.columns]
    if lacking:
        raise _corrupt(path, f"no column {', '.join(lacking)}")
    return records


def _unique_names(runs: list[LoadedRun]) -> None:
    """Name each run by its model, with the folder where two runs share a model name."""
    stems = [r.name for r in runs]
    for r in runs:
        if stems.count(r.name) > 1:
            r.name = f"{r.name} ({r.folder.name})"


def mcnemar_exact(b: int, c: int) -> float:
    """Two-sided exact McNemar p-value: ``min(1, 2 * P(X <= min(b, c)))``, ``X ~ Binomial(b+c, 1/2)``."""
    n = b + c
    if n == 0:
        return 1.0
    k = min(b, c)
    log_terms = [math.lgamma(n + 1) - math.lgamma(i + 1) - math.lgamma(n - i + 1) - n * math.log(2) for i in range(k + 1)]
    top = max(log_terms)
    tail = math.exp(top) * sum(math.exp(t - top) for t in log_terms)
    return min(1.0, 2.0 * tail)


def check_comparable(runs: list[LoadedRun], allow_mismatch: bool) -> tuple[pd.Index, list[str]]:
    """The samples every run covers; refuse (BenchError) when the runs differ in their samples or
    preprocessing, unless ``allow_mismatch`` (then only the sample sets may differ)."""
    base = runs[0]
    notes = []
    for run in runs[1:]:
        differ = [k for k in SAME_PREPROCESSING if base.results["preprocessing"].get(k) != run.results["preprocessing"].get(k)]
        if differ:
            what = ", ".join(f"{k} {base.results['preprocessing'].get(k)!r} vs {run.results['preprocessing'].get(k)!r}" for k in differ)
            raise BenchError(f"{run.folder} used other preprocessing than {base.folder}: {what}; rerun with the same settings (`bench run --model A --model B` guarantees it)")
    keys = [set(map(tuple, r.records[KEY].itertuples(index=False))) for r in runs]
    common = set.intersection(*keys)
    if any(k != keys[0] for k in keys[1:]):
        counts = ", ".join(f"{r.folder.name}: {len(k)}" for r, k in zip(runs, keys))
        if not allow_mismatch:
            raise BenchError(f"the runs cover different samples ({counts}; {len(common)} in common); pass --allow-mismatch to compare the common ones")
        notes.append(f"comparing the {len(common)} samples all runs share ({counts})")
    seeds = [r.records.set_index(KEY)["aug_seed"] for r in runs]
    for run, s in zip(runs[1:], seeds[1:]):
        idx = list(common)
        if not (s.loc[idx].sort_index() == seeds[0].loc[idx].sort_index()).all():
            raise BenchError(f"{run.folder} augmented the samples differently from {base.folder} (other per-sample seeds); rerun with the same seed")
    return pd.MultiIndex.from_tuples(sorted(common), names=KEY), notes


def _aligned(runs: list[LoadedRun], common: pd.Index) -> list[pd.DataFrame]:
    """Each run's records on the common samples, in one order, data errors in any run dropped."""
    frames = [r.records.set_index(KEY).loc[common] for r in runs]
    ok = np.ones(len(common), bool)
    for f in frames:
        ok &= (f["status"] != "data_error").to_numpy()
    return [f[ok] for f in frames]


def _scored(df: pd.DataFrame) -> Scored:
    return Scored.build(df["label"].to_numpy(), df["p_ai"].to_numpy(), df["pred_binary"].to_numpy(), df["pred"].to_numpy(), df["weight"].to_numpy())


def paired_bootstrap(a: Scored, b: Scored, n_boot: int = 1000, seed: int = 0, level: float = 0.95) -> dict[str, list[float] | None]:
    """Percentile intervals of ``metric(b) - metric(a)`` over resamples shared by both models."""
    n = a.labels.shape[0]
    keys = ("accuracy", "mcc", "brier", "sn34")
    if n == 0 or n_boot <= 0:  # no samples, or no resamples asked for (`--bootstrap 0`): no intervals
        return {k: None for k in keys}
    rng = np.random.default_rng(seed)
    diffs: dict[str, list[float]] = {k: [] for k in keys}
    for _ in range(n_boot):
        idx = rng.integers(0, n, n)
        ma, mb = compute(_take(a, idx)), compute(_take(b, idx))
        for k in keys:
            diffs[k].append(mb[k] - ma[k])
    alpha = (1 - level) / 2
    return {k: [float(np.quantile(v, alpha)), float(np.quantile(v, 1 - alpha))] for k, v in diffs.items()}


def _take(s: Scored, idx: np.ndarray) -> Scored:
    return Scored(s.labels[idx], s.p_ai[idx], s.pred_binary[idx], s.pred[idx], s.weights[idx])


def _verdict(metric: str, interval: list[float] | None, p_value: float | None = None, delta: float = 0.0) -> str:
    if metric == "accuracy" and p_value is not None:
        significant = p_value < 0.05
    else:
        significant = interval is not None and (interval[0] > 0 or interval[1] < 0)
    if not significant or delta == 0:
        return "no significant difference"
    better = (delta > 0) == HIGHER_IS_BETTER[metric]
    return "better" if better else "worse"


def _mcnemar(a: pd.DataFrame, b: pd.DataFrame) -> dict:
    y = (a["label"].to_numpy() != 0).astype(int)
    ca = a["pred_binary"].to_numpy() == y
    cb = b["pred_binary"].to_numpy() == y
    only_a, only_b = int((ca & ~cb).sum()), int((~ca & cb).sum())
    return {"baseline_only_correct": only_a, "other_only_correct": only_b, "p_value": mcnemar_exact(only_a, only_b)}


def compare(runs: list[LoadedRun], allow_mismatch: bool = False, n_boot: int = 1000, seed: int = 0, top: int = 20) -> dict:
    if len(runs) < 2:
        raise BenchError("compare needs at least two runs (the first is the baseline)")
    _unique_names(runs)
    common, notes = check_comparable(runs, allow_mismatch)
    aligned = _aligned(runs, common)
    base = aligned[0]
    out = {"baseline": runs[0].name, "runs": [], "notes": notes, "samples": int(len(base))}
    for run, df in zip(runs, aligned):
        s = _scored(df)
        metrics = compute(s) | {"n": int(len(df)), "ci": bootstrap_ci(s, n_boot, seed)}
        if run.results["model"].get("output_width") != 3:  # no 3-class decision: as the run itself reports
            metrics["accuracy_3class"] = None
        tp = run.results.get("throughput", {})
        out["runs"].append({"name": run.name, "folder": str(run.folder), "sha256": run.results["model"].get("sha256"), "metrics": metrics,
                            "samples_per_s": tp.get("samples_per_s"), "model_only_samples_per_s": tp.get("model_only_samples_per_s")})
    out["paired"] = []
    for run, df in zip(runs[1:], aligned[1:]):
        intervals = paired_bootstrap(_scored(base), _scored(df), n_boot, seed)
        test = _mcnemar(base, df)
        ma, mb = compute(_scored(base)), compute(_scored(df))
        metrics = {}
        for k in ("accuracy", "mcc", "brier", "sn34"):
            delta = mb[k] - ma[k]
            metrics[k] = {"delta": delta, "ci": intervals[k], "verdict": _verdict(k, intervals[k], test["p_value"] if k == "accuracy" else None, delta)}
        out["paired"].append({"name": run.name, "mcnemar": test, "metrics": metrics, "per_dataset": _per_dataset(base, df)})
    out["disagreements"] = _disagreements(runs, aligned, top)
    return out


def _per_dataset(a: pd.DataFrame, b: pd.DataFrame) -> list[dict]:
    rows = []
    for name in a.index.get_level_values("dataset").unique():
        da, db = a.xs(name, level="dataset"), b.xs(name, level="dataset")
        ma, mb = compute(_scored(da)), compute(_scored(db))
        test = _mcnemar(da, db)
        row = {"dataset": name, "n": int(len(da)), "p_value": test["p_value"]}
        for k in ("accuracy", "brier", "sn34", "mcc"):
            row[f"{k}_baseline"], row[f"{k}_other"], row[f"delta_{k}"] = ma[k], mb[k], mb[k] - ma[k]
        row["significant"] = test["p_value"] < 0.05
        rows.append(row)
    return sorted(rows, key=lambda r: (-abs(r["delta_accuracy"]), -abs(r["delta_brier"])))


def _disagreements(runs: list[LoadedRun], aligned: list[pd.DataFrame], top: int) -> list[dict]:
    p = np.stack([df["p_ai"].to_numpy() for df in aligned])
    spread = p.max(axis=0) - p.min(axis=0)
    order = np.argsort(-spread, kind="stable")[:top]
    base = aligned[0]
    rows = []
    for i in order:
        dataset, sample_id = base.index[i]
        rows.append({"dataset": dataset, "sample_id": sample_id, "label": int(base["label"].iloc[i]), "spread": float(spread[i])}
                    | {f"p_ai[{r.name}]": float(p[j, i]) for j, r in enumerate(runs)})
    return rows


# --------------------------------------------------------------------------- the report


def compare_markdown(doc: dict) -> str:
    from bench.report import table

    names = [r["name"] for r in doc["runs"]]
    lines = [f"# Comparison: {' vs '.join(names)}", "", f"{doc['samples']} samples scored by every run; baseline: {doc['baseline']}.", *[f"- {n}" for n in doc["notes"]], ""]
    heads = ["model", "n", "accuracy", "accuracy_3class", "mcc", "brier", "sn34", "accuracy 95% CI", "sn34 95% CI", "samples/s", "model-only samples/s"]
    rows = []
    for r in doc["runs"]:
        m, ci = r["metrics"], r["metrics"]["ci"]
        rows.append([r["name"], m["n"], m["accuracy"], m["accuracy_3class"], m["mcc"], m["brier"], m["sn34"], _interval(ci.get("accuracy")), _interval(ci.get("sn34")), r["samples_per_s"], r["model_only_samples_per_s"]])
    lines += ["## Overall", "", table(heads, rows), ""]
    for paired in doc["paired"]:
        t = paired["mcnemar"]
        lines += [f"## {paired['name']} against {doc['baseline']}", ""]
        lines.append(f"McNemar exact test on binary correctness: {t['other_only_correct']} samples right only for {paired['name']}, {t['baseline_only_correct']} right only for the baseline, p = {t['p_value']:.4g}.")
        lines.append("")
        prow = [[k, m["delta"], _interval(m["ci"]), m["verdict"]] for k, m in paired["metrics"].items()]
        lines += [table(["metric", "difference", "paired 95% CI", "verdict"], prow), ""]
        drows = [[d["dataset"], d["n"], d["accuracy_baseline"], d["accuracy_other"], d["delta_accuracy"], d["delta_brier"], d["delta_sn34"], f"{d['p_value']:.3g}", "yes" if d["significant"] else "no"] for d in paired["per_dataset"]]
        lines += ["Per dataset, largest change first:", "", table(["dataset", "n", "accuracy (baseline)", "accuracy", "difference", "brier difference", "sn34 difference", "McNemar p", "significant"], drows), ""]
    if doc["disagreements"]:
        keys = [k for k in doc["disagreements"][0] if k.startswith("p_ai[")]
        rows = [[d["dataset"], d["sample_id"], d["label"], *(d[k] for k in keys)] for d in doc["disagreements"]]
        lines += ["## Where the models disagree most", "", table(["dataset", "sample", "label", *keys], rows), ""]
    return "\n".join(lines)


def _interval(ci) -> str:
    return f"[{ci[0]:.4f}, {ci[1]:.4f}]" if ci else "-"


def write_compare(doc: dict, folder: Path) -> None:
    from bench.results import write_text

    folder.mkdir(parents=True, exist_ok=True)
    write_text(folder / "compare.json", json.dumps(doc, indent=2, default=float) + "\n")
    write_text(folder / "compare.md", compare_markdown(doc))
    from bench.report.html import compare_html

    write_text(folder / "report.html", compare_html(doc))
