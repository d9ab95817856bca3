"""Metrics of SPEC section 4 as pure functions over arrays.

Positive class = AI (label != 0). Sample weights enter every metric as if the sample were
repeated ``weight`` times. ``q = clip(p_ai, 1e-7, 1 - 1e-7)``.

Undefined values are ``None`` (JSON null), never 0: everything when a group is empty; the
threshold-free figures (ROC AUC, average precision, EER, the oracle best threshold) and the
class-conditional rates (TNR without real samples, TPR without AI samples) when a class is absent;
and, in the report's groups (``single_class_none=True``), MCC and SN34 when one class is present.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from bench.scores import AucResampler, check_length, check_weights, score_metrics

EPS = 1e-7
N_CLASSES = 3



def mcc_from_counts(tp: float, tn: float, fp: float, fn: float) -> float:
    """MCC = (TP*TN - FP*FN) / sqrt((TP+FP)(TP+FN)(TN+FP)(TN+FN)); 0 when the denominator is 0."""
    den = (tp + fp) * (tp + fn) * (tn + fp) * (tn + fn)
    if den <= 0:
        return 0.0
    return float((tp * tn - fp * fn) / math.sqrt(den))


def sn34(mcc: float, brier: float) -> float:
    """SN34 = sqrt(max(1e-12, ((MCC+1)/2)^1.2 * max(0, (0.25-Brier)/0.25)^1.8)), clipped to [0, 1]."""
    value = math.sqrt(max(1e-12, ((mcc + 1) / 2) ** 1.2 * max(0.0, (0.25 - brier) / 0.25) ** 1.8))
    return min(1.0, max(0.0, value))


def confusion_3class(labels: np.ndarray, preds: np.ndarray, weights: np.ndarray | None = None) -> list[list[float]]:
    """3x3 confusion matrix, rows = true class, columns = predicted class (a prediction outside
    0..2, i.e. a model error, appears in no column)."""
    labels = np.asarray(labels)
    preds = check_length(preds, labels.shape[0], "preds")
    w = check_weights(weights, labels.shape[0])
    matrix = np.zeros((N_CLASSES, N_CLASSES))
    valid = (preds >= 0) & (preds < N_CLASSES)
    np.add.at(matrix, (labels[valid], preds[valid]), w[valid])
    return matrix.tolist()


@dataclass(frozen=True)
class Scored:
    """The arrays a metric needs, for the samples that count (data errors already removed)."""

    labels: np.ndarray  # 0 real, 1 synthetic, 2 semisynthetic
    p_ai: np.ndarray  # probability of AI
    pred_binary: np.ndarray  # 1 = AI
    pred: np.ndarray  # 3-class decision; -1 where unavailable (model error)
    weights: np.ndarray

    @classmethod
    def build(cls, labels, p_ai, pred_binary, pred, weights=None) -> Scored:
        labels = np.asarray(labels, dtype=np.int64)
        n = labels.shape[0]
        return cls(
            labels=labels,
            p_ai=check_length(p_ai, n, "p_ai").astype(float),
            pred_binary=check_length(pred_binary, n, "pred_binary").astype(np.int64),
            pred=check_length(pred, n, "pred").astype(np.int64),
            weights=check_weights(weights, n),
        )

    @property
    def y(self) -> np.ndarray:
        return (self.labels != 0).astype(float)


def _binary_terms(s: Scored) -> dict[str, np.ndarray]:
    """Per-sample terms whose weighted sums give the decision metrics and the Brier and
    cross-entropy (so the bootstrap is a matrix product)."""
    y = s.y
    hat = s.pred_binary.astype(float)
    q = np.clip(s.p_ai, EPS, 1 - EPS)
    return {
        "correct": (hat == y).astype(float),
        "correct3": (s.pred == s.labels).astype(float),
        "tp": hat * y,
        "tn": (1 - hat) * (1 - y),
        "fp": hat * (1 - y),
        "fn": (1 - hat) * y,
        "sq": (q - y) ** 2,
        "ce": -(y * np.log(q) + (1 - y) * np.log(1 - q)),
    }


def _from_sums(sums: dict[str, float], total: float, single_class_none: bool) -> dict[str, float | None]:
    pos, neg = sums["tp"] + sums["fn"], sums["tn"] + sums["fp"]
    one_class = pos <= 0 or neg <= 0
    mcc = None if single_class_none and one_class else mcc_from_counts(sums["tp"], sums["tn"], sums["fp"], sums["fn"])
    brier = sums["sq"] / total
    return {
        "accuracy": sums["correct"] / total,
        "accuracy_3class": sums["correct3"] / total,
        "tnr": sums["tn"] / neg if neg > 0 else None,
        "tpr": sums["tp"] / pos if pos > 0 else None,
        "mcc": mcc,
        "brier": brier,
        "cross_entropy": sums["ce"] / total,
        "sn34": None if mcc is None else sn34(mcc, brier),
    }


DECISION_KEYS = ("accuracy", "accuracy_3class", "tnr", "tpr", "mcc", "sn34")
SCORE_KEYS = ("roc_auc", "average_precision", "eer", "eer_threshold", "brier", "cross_entropy", "ece", "best_threshold_accuracy", "best_threshold")
METRIC_KEYS = DECISION_KEYS + SCORE_KEYS
CI_KEYS = ("accuracy", "mcc", "sn34", "roc_auc")


def compute(s: Scored, single_class_none: bool = False) -> dict[str, float | None]:
    """Every metric of ``METRIC_KEYS`` over the samples of ``s``, each ``None`` when empty.

    ``single_class_none``: with one class present, MCC's denominator is 0 for want of a class,
    not because the model is useless; ``True`` (the report's groups, ``group_metrics``) makes
    MCC and SN34 (built on it) ``None`` then. ``False`` keeps the SPEC formula's 0 there (what
    bench.comparison's differences use). Either way MCC is 0 when both classes are present and
    the model predicts one class only (SPEC section 4)."""
    total = float(s.weights.sum())
    if s.labels.shape[0] == 0 or total <= 0:
        return dict.fromkeys(METRIC_KEYS)
    terms = _binary_terms(s)
    sums = {k: float((v * s.weights).sum()) for k, v in terms.items()}  # not `@`: one BLAS call per sum is slow on a busy machine
    out = _from_sums(sums, total, single_class_none)
    out |= score_metrics(s.labels, s.p_ai, s.weights)
    return {k: out[k] for k in METRIC_KEYS}


def bootstrap_ci(
    s: Scored, n_boot: int = 1000, seed: int = 0, level: float = 0.95, chunk: int = 100, single_class_none: bool = False
) -> dict[str, list[float] | None]:
    """Percentile bootstrap intervals for accuracy, MCC, SN34 and ROC AUC (resampling samples
    with replacement, weights carried along), reproducible for a fixed ``seed``. A resample in
    which a metric is undefined (ROC AUC, and with ``single_class_none`` MCC and SN34, when one
    class is present) is skipped for that metric; ``None`` when no resample defines it."""
    n = s.labels.shape[0]
    if n == 0 or n_boot <= 0:
        return dict.fromkeys(CI_KEYS)
    terms = _binary_terms(s)
    names = list(terms)
    matrix = np.stack([terms[k] * s.weights for k in names] + [s.weights], axis=1)  # (n, m+1)
    auc = AucResampler(s)
    rng = np.random.default_rng(seed)
    values = {k: [] for k in CI_KEYS}
    uniform = np.full(n, 1.0 / n)
    done = 0
    while done < n_boot:
        m = min(chunk, n_boot - done, max(1, 1_000_000 // n))  # the (m, n) count matrix stays ~8 MB
        counts = rng.multinomial(n, uniform, size=m).astype(float)  # (m, n)
        sums = counts @ matrix  # (m, names + total)
        aucs = auc(counts)
        for row, row_auc in zip(sums, aucs):
            total = row[-1]
            if total <= 0:
                continue
            metrics = _from_sums(dict(zip(names, row[:-1])), total, single_class_none)
            metrics["roc_auc"] = float(row_auc) if np.isfinite(row_auc) else None
            for k in CI_KEYS:
                if metrics[k] is not None:
                    values[k].append(metrics[k])
        done += m
    alpha = (1 - level) / 2
    return {k: [float(np.quantile(v, alpha)), float(np.quantile(v, 1 - alpha))] if v else None for k, v in values.items()}


def _scored(df) -> Scored:
    return Scored.build(df["label"].to_numpy(), df["p_ai"].to_numpy(), df["pred_binary"].to_numpy(), df["pred"].to_numpy(), df["weight"].to_numpy())


def group_metrics(df, three_class: bool) -> dict:
    """Metrics of one group of records, by the leaderboard's rule: samples with status ``ok``
    only (a model error escapes its sample there). ``strict`` beside them: model errors counted
    wrong with ``p_ai = 0.5`` (their records carry that), data errors still excluded. Every
    metric of ``METRIC_KEYS``, by the groups' rule: MCC and SN34 ``None`` when one class is
    present (see ``compute``)."""
    ok = df[df["status"] == "ok"]
    attempted = df[df["status"] != "data_error"]
    out = {
        "n": int(len(ok)),
        "errors": int((df["status"] != "ok").sum()),
        "data_errors": int((df["status"] == "data_error").sum()),
        "model_errors": int((df["status"] == "model_error").sum()),
    }
    out.update(_without_3class(compute(_scored(ok), single_class_none=True), three_class))
    out["strict"] = {"n": int(len(attempted))} | _without_3class(compute(_scored(attempted), single_class_none=True), three_class)
    return out


def _without_3class(metrics: dict, three_class: bool) -> dict:
    return metrics if three_class else metrics | {"accuracy_3class": None}


def summarise(df, three_class: bool, n_boot: int = 1000, seed: int = 0) -> dict:
    """``overall`` (with ``ci``), ``per_dataset``, ``per_media_type`` and the 3x3 ``confusion``,
    over the samples the leaderboard counts (status ``ok``); each group also has ``strict``."""
    ok = df[df["status"] == "ok"]
    overall = group_metrics(df, three_class)
    overall["ci"] = bootstrap_ci(_scored(ok), n_boot=n_boot, seed=seed, single_class_none=True)
    per_dataset = [{"dataset": name} | group_metrics(g, three_class) for name, g in df.groupby("dataset", sort=False)]
    per_media = [{"media_type": name} | group_metrics(g, three_class) for name, g in df.groupby("media_type", sort=False)]
    confusion = None
    if three_class:
        confusion = {
            "labels": ["real", "synthetic", "semisynthetic"],
            "rows": "true class",
            "columns": "predicted class",
            "matrix": confusion_3class(ok["label"].to_numpy(), ok["pred"].to_numpy(), ok["weight"].to_numpy()),
        }
    return {"overall": overall, "per_dataset": per_dataset, "per_media_type": per_media, "confusion": confusion}


def robustness_summary(df, base_metrics: dict, three_class: bool, weight: float, n_boot: int = 1000, seed: int = 0) -> dict:
    """The robustness pass beside the base pass (``base_metrics``: ``summarise`` of the base-pass
    records, already computed for the run): the robust score, the blended score
    ``(1 - weight) * base + weight * robust`` (SN34, overall and per dataset), and the per-sample
    degradation of the probability given to the true class (``p_true(base) - p_true(robust)``,
    binary: ``p_ai`` for AI samples, ``1 - p_ai`` for real ones), mean and p95."""
    base, robust = df[df["pass"] == "base"], df[df["pass"] == "robust"]
    robust_metrics = summarise(robust, three_class, n_boot, seed)

    def blended(b, r):
        return None if b is None or r is None else (1 - weight) * b + weight * r

    keys = ["dataset", "sample_id"]
    paired = base.merge(robust, on=keys, suffixes=("_base", "_robust"))
    paired = paired[(paired["status_base"] != "data_error") & (paired["status_robust"] != "data_error")]

    def p_true(p, label):
        return np.where(label != 0, p, 1 - p)

    paired = paired.assign(degradation=p_true(paired["p_ai_base"], paired["label_base"]) - p_true(paired["p_ai_robust"], paired["label_base"]))

    def spread(values) -> dict:
        v = np.asarray(values, dtype=float)
        return {"n": int(v.size), "mean": float(v.mean()) if v.size else None, "p95": float(np.percentile(v, 95)) if v.size else None}

    per_dataset = []
    for b, r in zip(base_metrics["per_dataset"], robust_metrics["per_dataset"]):
        part = paired[paired["dataset"] == b["dataset"]]["degradation"]
        per_dataset.append({"dataset": b["dataset"], "sn34_base": b["sn34"], "sn34_robust": r["sn34"], "sn34_blended": blended(b["sn34"], r["sn34"]),
                            "accuracy_base": b["accuracy"], "accuracy_robust": r["accuracy"], "degradation": spread(part)})
    overall_b, overall_r = base_metrics["overall"], robust_metrics["overall"]
    return {
        "weight": weight,
        "robust": robust_metrics,
        "sn34_base": overall_b["sn34"],
        "sn34_robust": overall_r["sn34"],
        "sn34_blended": blended(overall_b["sn34"], overall_r["sn34"]),
        "degradation": spread(paired["degradation"]),
        "per_dataset": per_dataset,
    }


def by_tags(df, specs, keys: list[str], three_class: bool) -> dict:
    """Metrics per value of each dataset tag in ``keys`` (``--by``): ``{key: [{"group": value} |
    group_metrics]}``; datasets without the tag form the group ``"(untagged)"``."""
    out = {}
    for key in keys:
        value = {s.name: s.tags.get(key, "(untagged)") for s in specs}
        groups = df.groupby(df["dataset"].map(value), sort=True)
        out[key] = [{"group": name} | group_metrics(g, three_class) for name, g in groups]
    return out
