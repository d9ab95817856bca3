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

EPS = 1e-7
N_CLASSES = 3


def _validate(y: np.ndarray, n: int, name: str) -> np.ndarray:
    y = np.asarray(y)
    if y.ndim != 1 or y.shape[0] != n:
        raise ValueError(f"Expected `{name}` to be a 1-D array of length {n}, but got shape {y.shape}")
    return y


def _weights(weights: np.ndarray | None, n: int) -> np.ndarray:
    if weights is None:
        return np.ones(n)
    w = _validate(weights, n, "weights").astype(float)
    if (w < 0).any() or not np.isfinite(w).all():
        raise ValueError("Expected `weights` to be finite and non-negative, but got other values")
    return w


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


def _inputs(labels, values, weights, name: str) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Binary truth (AI = label != 0), values, weights; samples of weight 0 dropped (repeated
    zero times)."""
    labels = np.asarray(labels)
    if labels.ndim != 1:
        raise ValueError(f"Expected `labels` to be a 1-D array, but got shape {labels.shape}")
    y = (labels != 0).astype(float)
    v = _validate(values, y.shape[0], name).astype(float)
    w = _weights(weights, y.shape[0])
    keep = w > 0
    return y[keep], v[keep], w[keep]


def tnr(labels, pred_binary, weights=None) -> float | None:
    """Real accuracy (true negative rate) under the decision rule: TN / (TN + FP), weighted;
    ``None`` without real samples."""
    y, hat, w = _inputs(labels, pred_binary, weights, "pred_binary")
    neg = float((w * (1 - y)).sum())
    return float((w * (1 - y) * (hat == 0)).sum()) / neg if neg > 0 else None


def tpr(labels, pred_binary, weights=None) -> float | None:
    """AI accuracy (true positive rate, recall) under the decision rule: TP / (TP + FN),
    weighted; ``None`` without AI samples."""
    y, hat, w = _inputs(labels, pred_binary, weights, "pred_binary")
    pos = float((w * y).sum())
    return float((w * y * (hat != 0)).sum()) / pos if pos > 0 else None


@dataclass(frozen=True)
class _Curve:
    """The samples grouped by distinct ``p_ai`` (descending): ``pos[k]`` and ``neg[k]`` are the
    weights of the AI and real samples scoring exactly ``thresholds[k]``. Cutting at
    ``thresholds[k]`` (AI iff ``p_ai >= thresholds[k]``) gives TP = ``cumsum(pos)[k]`` and
    FP = ``cumsum(neg)[k]``: the points of the ROC and precision-recall curves."""

    thresholds: np.ndarray
    pos: np.ndarray
    neg: np.ndarray

    @classmethod
    def build(cls, y: np.ndarray, p: np.ndarray, w: np.ndarray) -> _Curve:
        keep = w > 0
        y, p, w = y[keep], p[keep], w[keep]
        if not p.size:
            return cls(p, p, p)
        order = np.argsort(-p)  # ties are grouped below: stability is not needed
        p = p[order]
        starts = _starts(p)
        return cls(p[starts], np.add.reduceat((w * y)[order], starts), np.add.reduceat((w * (1 - y))[order], starts))

    @property
    def defined(self) -> bool:
        return bool(self.pos.sum() > 0 and self.neg.sum() > 0)


def _starts(sorted_p: np.ndarray) -> np.ndarray:
    """Where each run of equal values begins in a sorted, non-empty array."""
    return np.r_[0, np.flatnonzero(np.diff(sorted_p)) + 1].astype(np.intp)


def _auc_grouped(pos: np.ndarray, neg: np.ndarray) -> np.ndarray:
    """AUC from per-score weights in descending score order, along the last axis (so the
    bootstrap evaluates many resamples at once): sum_k pos_k (N_below_k + neg_k / 2) / (P N)."""
    total_pos, total_neg = pos.sum(axis=-1), neg.sum(axis=-1)
    below = total_neg[..., None] - np.cumsum(neg, axis=-1)
    with np.errstate(invalid="ignore", divide="ignore"):
        return (pos * (below + 0.5 * neg)).sum(axis=-1) / (total_pos * total_neg)


def roc_auc(labels, p_ai, weights=None) -> float | None:
    """ROC AUC = P(p_ai of a random AI sample > p_ai of a random real one) + P(tie) / 2, the
    pairs drawn with probability proportional to ``w_i * w_j``:
    ``sum_{i AI, j real} w_i w_j [1(p_i > p_j) + 1(p_i = p_j) / 2] / (W_AI * W_real)`` (equal to
    the trapezoidal area under the ROC curve). ``None`` when a class is absent."""
    return _roc_auc(_Curve.build(*_inputs(labels, p_ai, weights, "p_ai")))


def _roc_auc(c: _Curve) -> float | None:
    return float(_auc_grouped(c.pos, c.neg)) if c.defined else None


def average_precision(labels, p_ai, weights=None) -> float | None:
    """Average precision, scikit-learn's definition (step-wise, no interpolation):
    ``AP = sum_n (R_n - R_{n-1}) P_n`` over the distinct thresholds ``t_n`` in descending order,
    with ``P_n = TP_n / (TP_n + FP_n)`` and ``R_n = TP_n / W_AI`` for the rule AI iff
    ``p_ai >= t_n`` (``R_0 = 0``). ``None`` when a class is absent (with AI samples only it is
    trivially 1)."""
    return _average_precision(_Curve.build(*_inputs(labels, p_ai, weights, "p_ai")))


def _average_precision(c: _Curve) -> float | None:
    if not c.defined:
        return None
    tp, fp = np.cumsum(c.pos), np.cumsum(c.neg)
    return float((c.pos * tp / (tp + fp)).sum() / c.pos.sum())


def equal_error_rate(labels, p_ai, weights=None) -> tuple[float | None, float | None]:
    """``(eer, eer_threshold)``. The ROC points are ``(FPR_k, FNR_k)`` for the cuts AI iff
    ``p_ai >= t_k`` over the distinct scores ``t_k`` (descending), preceded by the point
    ``(0, 1)`` of the cut above every score; ``d_k = FPR_k - FNR_k`` rises strictly from -1 to
    1. With ``k`` the first point where ``d_k >= 0``, the curve crosses FPR = FNR (= 1 - TPR)
    on the segment from point ``k-1`` to ``k``; linear interpolation along it gives
    ``EER = FPR_{k-1} + a (FPR_k - FPR_{k-1})``, ``a = -d_{k-1} / (d_k - d_{k-1})`` (ties in
    ``p_ai`` make that segment diagonal: a tie counts half, as in the AUC).
    ``eer_threshold`` is ``t`` of the bracketing point with the smaller ``|d|`` (ties: point
    ``k``, the lower cut), always an observed ``p_ai``. ``None`` when a class is absent."""
    return _equal_error_rate(_Curve.build(*_inputs(labels, p_ai, weights, "p_ai")))


def _equal_error_rate(c: _Curve) -> tuple[float | None, float | None]:
    if not c.defined:
        return None, None
    fpr = np.r_[0.0, np.cumsum(c.neg) / c.neg.sum()]
    fnr = np.r_[1.0, 1 - np.cumsum(c.pos) / c.pos.sum()]
    d = fpr - fnr
    k = int(np.argmax(d >= 0))  # >= 1: d_0 = -1, and the last point has d = 1
    a = -d[k - 1] / (d[k] - d[k - 1])
    rate = float(fpr[k - 1] + a * (fpr[k] - fpr[k - 1]))
    point = k if abs(d[k]) <= abs(d[k - 1]) else k - 1  # point 0 has |d| = 1 >= |d_k|: never chosen
    return rate, float(c.thresholds[point - 1])


def eer(labels, p_ai, weights=None) -> float | None:
    """Equal error rate: see ``equal_error_rate``."""
    return equal_error_rate(labels, p_ai, weights)[0]


def eer_threshold(labels, p_ai, weights=None) -> float | None:
    """The cut of the equal error rate: see ``equal_error_rate``."""
    return equal_error_rate(labels, p_ai, weights)[1]


def best_threshold(labels, p_ai, weights=None) -> tuple[float | None, float | None]:
    """``(best_threshold_accuracy, best_threshold)``: an ORACLE figure, the binary accuracy of
    the rule AI iff ``p_ai >= t`` at the cut ``t`` chosen on the very samples it is scored on
    (an upper bound on what a threshold fitted elsewhere can do, not a score). The cuts are
    every distinct ``p_ai`` plus the cut above them all (everything real, reported as the next
    float above the largest ``p_ai``); ``accuracy(t) = (TP(t) + TN(t)) / W``. Ties (within
    1e-12): the highest observed ``p_ai``; the everything-real cut only when it is better than
    every observed one. ``None`` when a class is absent."""
    return _best_threshold(_Curve.build(*_inputs(labels, p_ai, weights, "p_ai")))


def _best_threshold(c: _Curve) -> tuple[float | None, float | None]:
    if not c.defined:
        return None, None
    neg, total = c.neg.sum(), c.pos.sum() + c.neg.sum()
    acc = np.r_[np.cumsum(c.pos) + neg - np.cumsum(c.neg), neg] / total  # [t_0, t_1, ..., above all]
    i = int(np.flatnonzero(acc >= acc.max() - 1e-12)[0])
    cut = float(c.thresholds[i]) if i < c.thresholds.size else math.nextafter(float(c.thresholds[0]), math.inf)
    return float(acc[i]), cut


def best_threshold_accuracy(labels, p_ai, weights=None) -> float | None:
    """ORACLE best-threshold accuracy: see ``best_threshold``."""
    return best_threshold(labels, p_ai, weights)[0]


ECE_BINS = 15


def ece(labels, p_ai, weights=None, bins: int = ECE_BINS) -> float | None:
    """Expected calibration error of ``p_ai`` for the binary event "AI":
    ``ECE = sum_b (W_b / W) |mean_b(y) - mean_b(p_ai)| = sum_b |sum_{i in b} w_i (y_i - p_i)| / W``
    (weighted means; empty bins add 0). Bins: ``bins`` equal-width bins with edges
    ``e = linspace(0, 1, bins + 1)``; bin ``b`` holds ``e_b <= p_ai < e_{b+1}``, the last one
    also ``p_ai = 1`` (``[e_{bins-1}, 1]`` closed); values outside [0, 1] go to the end bins.
    ``p_ai`` itself, not the clipped ``q``. Defined with one class present; ``None`` when empty."""
    y, p, w = _inputs(labels, p_ai, weights, "p_ai")
    if not y.size:
        return None
    edges = np.linspace(0.0, 1.0, bins + 1)
    b = np.clip(np.searchsorted(edges, p, side="right") - 1, 0, bins - 1)
    gap = np.bincount(b, weights=w * (y - p), minlength=bins)
    return float(np.abs(gap).sum() / w.sum())


def confusion_3class(labels: np.ndarray, preds: np.ndarray, weights: np.ndarray | None = None) -> list[list[float]]:
    """3x3 confusion matrix, rows = true class, columns = predicted class (a prediction outside
    0..2, i.e. a model error, appears in no column)."""
    labels = np.asarray(labels)
    preds = _validate(preds, labels.shape[0], "preds")
    w = _weights(weights, labels.shape[0])
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
            p_ai=_validate(p_ai, n, "p_ai").astype(float),
            pred_binary=_validate(pred_binary, n, "pred_binary").astype(np.int64),
            pred=_validate(pred, n, "pred").astype(np.int64),
            weights=_weights(weights, n),
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
    curve = _Curve.build(s.y, s.p_ai, s.weights)
    out["roc_auc"] = _roc_auc(curve)
    out["average_precision"] = _average_precision(curve)
    out["eer"], out["eer_threshold"] = _equal_error_rate(curve)
    out["best_threshold_accuracy"], out["best_threshold"] = _best_threshold(curve)
    out["ece"] = ece(s.labels, s.p_ai, s.weights)
    return {k: out[k] for k in METRIC_KEYS}


class _AucResampler:
    """ROC AUC of many resamples at once: the samples sorted by ``p_ai`` once, each resample's
    weights (count x weight) summed per distinct score with one ``reduceat``."""

    def __init__(self, s: Scored):
        self.order = np.argsort(-s.p_ai)
        self.starts = _starts(s.p_ai[self.order])
        self.wy = (s.weights * s.y)[self.order]
        self.wn = (s.weights * (1 - s.y))[self.order]

    def __call__(self, counts: np.ndarray) -> np.ndarray:
        c = counts[:, self.order]
        return _auc_grouped(np.add.reduceat(c * self.wy, self.starts, axis=1), np.add.reduceat(c * self.wn, self.starts, axis=1))


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
    auc = _AucResampler(s)
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
