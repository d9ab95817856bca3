"""The threshold-free scores of SPEC section 4, pure functions over arrays: ROC AUC, average
precision, the equal error rate and its threshold, the oracle best-threshold accuracy, expected
calibration error, and the class-conditional rates TNR and TPR. Positive class = AI
(label != 0); weights count as repetition; a value undefined for the samples given (a class
absent) is ``None``, never 0. bench/metrics.py groups them with the decision metrics."""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np


def check_length(y: np.ndarray, n: int, name: str) -> np.ndarray:
    y = np.asarray(y)
    if y.ndim != 1 or y.shape[0] != n:
        raise ValueError(f"Expected `{name}` to be a 1-D array of length {n}, but got shape {y.shape}")
    return y


def check_weights(weights: np.ndarray | None, n: int) -> np.ndarray:
    if weights is None:
        return np.ones(n)
    w = check_length(weights, n, "weights").astype(float)
    if (w < 0).any() or not np.isfinite(w).all():
        raise ValueError("Expected `weights` to be finite and non-negative, but got other values")
    return w


def _inputs(labels, values, weights, name: str) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Binary truth (AI = label != 0), values, weights; samples of weight 0 dropped (repeated
    zero times)."""
    labels = np.asarray(labels)
    if labels.ndim != 1:
        raise ValueError(f"Expected `labels` to be a 1-D array, but got shape {labels.shape}")
    y = (labels != 0).astype(float)
    v = check_length(values, y.shape[0], name).astype(float)
    w = check_weights(weights, y.shape[0])
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
class Curve:
    """The samples grouped by distinct ``p_ai`` (descending): ``pos[k]`` and ``neg[k]`` are the
    weights of the AI and real samples scoring exactly ``thresholds[k]``. Cutting at
    ``thresholds[k]`` (AI iff ``p_ai >= thresholds[k]``) gives TP = ``cumsum(pos)[k]`` and
    FP = ``cumsum(neg)[k]``: the points of the ROC and precision-recall curves."""

    thresholds: np.ndarray
    pos: np.ndarray
    neg: np.ndarray

    @classmethod
    def build(cls, y: np.ndarray, p: np.ndarray, w: np.ndarray) -> Curve:
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

    def points(self) -> dict[str, np.ndarray] | None:
        """The ROC points (from (0, 0)) and the precision-recall points, one per distinct score
        from the highest down, and the share of AI; None when a class is absent."""
        if not self.defined:
            return None
        tp, fp = np.cumsum(self.pos), np.cumsum(self.neg)
        tpr, fpr = tp / tp[-1], fp / fp[-1]
        return {"fpr": np.r_[0.0, fpr], "tpr": np.r_[0.0, tpr], "recall": tpr, "precision": tp / (tp + fp), "prevalence": np.array(tp[-1] / (tp[-1] + fp[-1]))}


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
    return _roc_auc(Curve.build(*_inputs(labels, p_ai, weights, "p_ai")))


def _roc_auc(c: Curve) -> float | None:
    return float(_auc_grouped(c.pos, c.neg)) if c.defined else None


def average_precision(labels, p_ai, weights=None) -> float | None:
    """Average precision, scikit-learn's definition (step-wise, no interpolation):
    ``AP = sum_n (R_n - R_{n-1}) P_n`` over the distinct thresholds ``t_n`` in descending order,
    with ``P_n = TP_n / (TP_n + FP_n)`` and ``R_n = TP_n / W_AI`` for the rule AI iff
    ``p_ai >= t_n`` (``R_0 = 0``). ``None`` when a class is absent (with AI samples only it is
    trivially 1)."""
    return _average_precision(Curve.build(*_inputs(labels, p_ai, weights, "p_ai")))


def _average_precision(c: Curve) -> float | None:
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
    return _equal_error_rate(Curve.build(*_inputs(labels, p_ai, weights, "p_ai")))


def _equal_error_rate(c: Curve) -> tuple[float | None, float | None]:
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
    return _best_threshold(Curve.build(*_inputs(labels, p_ai, weights, "p_ai")))


def _best_threshold(c: Curve) -> tuple[float | None, float | None]:
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


def calibration_bins(p: np.ndarray, bins: int = ECE_BINS) -> np.ndarray:
    """The bin of each ``p_ai`` among ``bins`` equal-width bins of [0, 1] (edges
    ``linspace(0, 1, bins + 1)``, the last bin closed; values outside go to the end bins)."""
    edges = np.linspace(0.0, 1.0, bins + 1)
    return np.clip(np.searchsorted(edges, p, side="right") - 1, 0, bins - 1)


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
    gap = np.bincount(calibration_bins(p, bins), weights=w * (y - p), minlength=bins)
    return float(np.abs(gap).sum() / w.sum())



def score_metrics(labels, p_ai, weights) -> dict:
    """Every threshold-free score of one group, from one sorted curve."""
    curve = Curve.build((np.asarray(labels) != 0).astype(float), np.asarray(p_ai, dtype=float), np.asarray(weights, dtype=float))
    out = {"roc_auc": _roc_auc(curve), "average_precision": _average_precision(curve)}
    out["eer"], out["eer_threshold"] = _equal_error_rate(curve)
    out["best_threshold_accuracy"], out["best_threshold"] = _best_threshold(curve)
    out["ece"] = ece(labels, p_ai, weights)
    return out


class AucResampler:
    """ROC AUC of many resamples at once: the samples sorted by ``p_ai`` once, each resample's
    weights (count x weight) summed per distinct score with one ``reduceat``."""

    def __init__(self, s):  # a bench.metrics.Scored
        self.order = np.argsort(-s.p_ai)
        self.starts = _starts(s.p_ai[self.order])
        self.wy = (s.weights * s.y)[self.order]
        self.wn = (s.weights * (1 - s.y))[self.order]

    def __call__(self, counts: np.ndarray) -> np.ndarray:
        c = counts[:, self.order]
        return _auc_grouped(np.add.reduceat(c * self.wy, self.starts, axis=1), np.add.reduceat(c * self.wn, self.starts, axis=1))

