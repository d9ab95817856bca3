"""Threshold-free and per-class metrics against independent references: scikit-learn, and
brute-force loops written here without the module's code."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest
from sklearn.metrics import average_precision_score, confusion_matrix, roc_auc_score, roc_curve

from bench.metrics import (
    METRIC_KEYS,
    Scored,
    bootstrap_ci,
    compute,
    group_metrics,
    robustness_summary,
    summarise,
)
from bench.report import metric_tables
from bench.scores import average_precision, best_threshold, ece, equal_error_rate, roc_auc, tnr, tpr


def _case(seed: int, n: int = 300, weighted: bool = False, ties: bool = True):
    """Labels 0..2, an informative but imperfect p_ai (rounded to 2 decimals: many ties), the
    1-logit decision rule, random weights."""
    rng = np.random.default_rng(seed)
    labels = rng.integers(0, 3, n)
    p_ai = np.clip(rng.beta(2, 2, n) * 0.7 + 0.3 * (labels != 0), 0, 1)
    if ties:
        p_ai = np.round(p_ai, 2)
    pred_binary = (p_ai > 0.5).astype(int)
    weights = rng.uniform(0.2, 3.0, n) if weighted else None
    return labels, p_ai, pred_binary, weights


CASES = [(seed, weighted) for seed in (0, 1, 2) for weighted in (False, True)]


@pytest.mark.parametrize("seed,weighted", CASES)
def test_roc_auc_and_average_precision_equal_sklearn(seed, weighted):
    labels, p_ai, _, w = _case(seed, weighted=weighted)
    y = (labels != 0).astype(int)
    assert roc_auc(labels, p_ai, w) == pytest.approx(roc_auc_score(y, p_ai, sample_weight=w), abs=1e-12)
    assert average_precision(labels, p_ai, w) == pytest.approx(average_precision_score(y, p_ai, sample_weight=w), abs=1e-12)


def test_roc_auc_is_the_pair_probability_with_ties_half():
    labels, p_ai, _, w = _case(4, n=60, weighted=True)
    y = labels != 0
    num = den = 0.0
    for i in np.flatnonzero(y):
        for j in np.flatnonzero(~y):
            num += w[i] * w[j] * (1.0 if p_ai[i] > p_ai[j] else 0.5 if p_ai[i] == p_ai[j] else 0.0)
            den += w[i] * w[j]
    assert roc_auc(labels, p_ai, w) == pytest.approx(num / den, abs=1e-12)
    assert roc_auc([0, 1, 1, 0], [0.5, 0.5, 0.5, 0.5]) == 0.5


def _eer_brute_force(y, p_ai, w):
    """Every segment of scikit-learn's full ROC curve (no point dropped), solved for its crossing
    of FPR = 1 - TPR; and the observed cut with the smallest |FPR - FNR| (ties: the lower cut),
    from explicit masks over the raw samples."""
    fpr, tpr_, _ = roc_curve(y, p_ai, sample_weight=w, drop_intermediate=False)
    fnr = 1 - tpr_
    crossings = []
    for i in range(len(fpr) - 1):
        d0, d1 = fpr[i] - fnr[i], fpr[i + 1] - fnr[i + 1]
        if d0 < 0 <= d1:
            a = -d0 / (d1 - d0)
            crossings.append(fpr[i] + a * (fpr[i + 1] - fpr[i]))
    assert len(crossings) == 1
    best_gap, best_cut = math.inf, None
    for t in sorted(set(p_ai.tolist()), reverse=True):
        hat = p_ai >= t
        fpr_t = w[hat & (y == 0)].sum() / w[y == 0].sum()
        fnr_t = w[~hat & (y == 1)].sum() / w[y == 1].sum()
        gap = abs(fpr_t - fnr_t)
        if gap <= best_gap:  # descending cuts: `<=` keeps the lower cut on a tie
            best_gap, best_cut = gap, t
    return crossings[0], best_cut


@pytest.mark.parametrize("seed,weighted", CASES)
def test_eer_equals_brute_force_on_sklearn_roc_curve(seed, weighted):
    labels, p_ai, _, w = _case(seed, weighted=weighted)
    w = np.ones(len(labels)) if w is None else w
    y = (labels != 0).astype(int)
    rate, cut = equal_error_rate(labels, p_ai, w)
    want_rate, want_cut = _eer_brute_force(y, p_ai, w)
    assert rate == pytest.approx(want_rate, abs=1e-12)
    assert cut == want_cut


def test_eer_simple_cases():
    assert equal_error_rate([0, 0, 1, 1], [0.1, 0.2, 0.8, 0.9]) == (0.0, 0.8)  # separable
    assert equal_error_rate([0, 1, 0, 1], [0.3, 0.3, 0.3, 0.3])[0] == pytest.approx(0.5)  # one tie: the diagonal
    assert equal_error_rate([0, 0, 1, 1], [0.9, 0.8, 0.2, 0.1])[0] == pytest.approx(1.0)  # reversed


@pytest.mark.parametrize("seed,weighted", CASES)
def test_tnr_tpr_equal_confusion_matrix(seed, weighted):
    labels, _, pred_binary, w = _case(seed, weighted=weighted)
    y = (labels != 0).astype(int)
    (tn, fp), (fn, tp) = confusion_matrix(y, pred_binary, labels=[0, 1], sample_weight=w)
    assert tnr(labels, pred_binary, w) == pytest.approx(tn / (tn + fp), abs=1e-12)
    assert tpr(labels, pred_binary, w) == pytest.approx(tp / (tp + fn), abs=1e-12)
    got = compute(Scored.build(labels, np.full(len(labels), 0.5), pred_binary, labels, w))
    assert got["tnr"] == pytest.approx(tn / (tn + fp), abs=1e-12) and got["tpr"] == pytest.approx(tp / (tp + fn), abs=1e-12)


def _best_threshold_brute_force(y, p_ai, w):
    """Every observed cut (AI iff p_ai >= t), highest first, then the cut above all."""
    results = [(float(w[(p_ai >= t) == (y == 1)].sum() / w.sum()), t) for t in sorted(set(p_ai.tolist()), reverse=True)]
    results.append((float(w[y == 0].sum() / w.sum()), math.inf))
    best = max(acc for acc, _ in results)
    return next((acc, t) for acc, t in results if acc >= best - 1e-12)


@pytest.mark.parametrize("seed,weighted", CASES)
def test_best_threshold_equals_brute_force(seed, weighted):
    labels, p_ai, _, w = _case(seed, weighted=weighted)
    w = np.ones(len(labels)) if w is None else w
    y = (labels != 0).astype(int)
    acc, cut = best_threshold(labels, p_ai, w)
    want_acc, want_cut = _best_threshold_brute_force(y, p_ai, w)
    assert acc == pytest.approx(want_acc, abs=1e-12) and cut == want_cut
    assert acc == pytest.approx(float(w[(p_ai >= cut) == (y == 1)].sum() / w.sum()), abs=1e-12)  # the cut gives the accuracy


def test_best_threshold_everything_real_is_a_finite_cut_above_all():
    labels, p_ai = np.array([0, 0, 0, 1]), np.array([0.9, 0.8, 0.7, 0.1])  # reversed: "all real" (3/4) is best
    acc, cut = best_threshold(labels, p_ai)
    assert acc == 0.75 and math.isfinite(cut) and cut > 0.9 and not (p_ai >= cut).any()


def _ece_hand_loop(y, p_ai, w, bins=15):
    edges = [b / bins for b in range(bins + 1)]
    total = 0.0
    for b in range(bins):
        inside = [i for i in range(len(y)) if edges[b] <= p_ai[i] < edges[b + 1] or (b == bins - 1 and p_ai[i] == 1.0)]
        wb = sum(w[i] for i in inside)
        if wb > 0:
            mean_y = sum(w[i] * y[i] for i in inside) / wb
            mean_p = sum(w[i] * p_ai[i] for i in inside) / wb
            total += wb / w.sum() * abs(mean_y - mean_p)
    return total


@pytest.mark.parametrize("seed,weighted", CASES)
def test_ece_equals_hand_loop(seed, weighted):
    labels, p_ai, _, w = _case(seed, weighted=weighted, ties=False)
    w = np.ones(len(labels)) if w is None else w
    assert ece(labels, p_ai, w) == pytest.approx(_ece_hand_loop((labels != 0).astype(int), p_ai, w), abs=1e-12)


def test_ece_bin_edges():
    edges = np.linspace(0, 1, 16)
    # gaps of opposite sign cancel inside one bin and add up across two: the sum tells the bins apart
    assert ece([0, 1], [1.0, 0.95]) == pytest.approx(abs(-1.0 + 0.05) / 2)  # p_ai = 1 is in the last bin [14/15, 1]
    assert ece([1, 0], [0.0, 0.03]) == pytest.approx(abs(1.0 - 0.03) / 2)  # p_ai = 0 in the first bin
    assert ece([1, 0], [edges[1], 0.03]) == pytest.approx((abs(1 - edges[1]) + 0.03) / 2)  # a left edge opens its bin
    assert ece([1, 0], [edges[1], 0.1]) == pytest.approx(abs(1 - edges[1] - 0.1) / 2)
    assert ece([0, 1, 1, 0], [0.0, 1.0, 1.0, 0.0]) == 0.0  # perfect and confident
    assert ece([1], [0.5]) == 0.5 and ece([], []) is None


def test_single_class_is_none_never_zero():
    labels, p_ai, pred_binary, w = _case(3, n=50, weighted=True)
    for only in (0, 1):
        keep = (labels != 0) == bool(only)
        s = Scored.build(labels[keep], p_ai[keep], pred_binary[keep], labels[keep], w[keep])
        got = compute(s, single_class_none=True)
        for key in ("roc_auc", "average_precision", "eer", "eer_threshold", "best_threshold_accuracy", "best_threshold", "mcc", "sn34"):
            assert got[key] is None, key
        assert (got["tpr"] is None) == (only == 0) and (got["tnr"] is None) == (only == 1)
        for key in ("accuracy", "brier", "cross_entropy", "ece"):
            assert isinstance(got[key], float), key
        # the SPEC formula (what comparison's differences use) still gives MCC 0 there
        plain = compute(s)
        assert plain["mcc"] == 0.0 and isinstance(plain["sn34"], float) and plain["roc_auc"] is None
        assert roc_auc(labels[keep], p_ai[keep]) is None and average_precision(labels[keep], p_ai[keep]) is None
        assert equal_error_rate(labels[keep], p_ai[keep]) == (None, None) and best_threshold(labels[keep], p_ai[keep]) == (None, None)


def test_both_classes_one_prediction_keeps_mcc_zero():
    labels = np.array([0, 0, 1, 2, 1])
    got = compute(Scored.build(labels, [0.6, 0.7, 0.8, 0.9, 0.6], np.ones(5), labels), single_class_none=True)
    assert got["mcc"] == 0.0 and got["sn34"] is not None and got["tnr"] == 0.0 and got["tpr"] == 1.0


def _assert_same(a: dict, b: dict):
    for key in METRIC_KEYS:
        if a[key] is None or b[key] is None:
            assert a[key] is b[key] is None, key
        else:
            assert a[key] == pytest.approx(b[key], abs=1e-9), key


def test_weight_two_equals_the_samples_twice():
    labels, p_ai, pred_binary, _ = _case(6, n=80)
    twice = np.r_[np.arange(80), np.arange(80)]
    _assert_same(compute(Scored.build(labels, p_ai, pred_binary, labels, np.full(80, 2.0))),
                 compute(Scored.build(labels[twice], p_ai[twice], pred_binary[twice], labels[twice])))


def test_integer_weights_equal_repetition_and_zero_weight_drops():
    labels, p_ai, pred_binary, _ = _case(7, n=80)
    w = np.random.default_rng(2).integers(0, 4, 80)  # 0: the sample is not there at all
    rep = np.repeat(np.arange(80), w)
    _assert_same(compute(Scored.build(labels, p_ai, pred_binary, labels, w)),
                 compute(Scored.build(labels[rep], p_ai[rep], pred_binary[rep], labels[rep])))


def test_bootstrap_roc_auc_matches_brute_force_and_skips_single_class():
    labels, p_ai, pred_binary, w = _case(8, n=30, weighted=True)
    s = Scored.build(labels, p_ai, pred_binary, labels, w)
    got = bootstrap_ci(s, n_boot=60, seed=5, chunk=9)
    rng, values, drawn = np.random.default_rng(5), [], 0
    while drawn < 60:
        m = min(9, 60 - drawn)
        for counts in rng.multinomial(30, np.full(30, 1 / 30), size=m):
            idx = np.repeat(np.arange(30), counts)
            y = (labels[idx] != 0).astype(int)
            if 0 < y.sum() < len(y):
                values.append(roc_auc_score(y, p_ai[idx], sample_weight=w[idx]))
        drawn += m
    assert got["roc_auc"] == pytest.approx([np.quantile(values, 0.025), np.quantile(values, 0.975)], abs=1e-12)
    reals = Scored.build([0, 0, 0], [0.1, 0.2, 0.3], [0, 0, 1], [0, 0, 1])
    ci = bootstrap_ci(reals, n_boot=20, single_class_none=True)
    assert ci["roc_auc"] is None and ci["mcc"] is None and ci["sn34"] is None and ci["accuracy"] is not None


def _records(rows: list[tuple]) -> pd.DataFrame:
    df = pd.DataFrame(rows, columns=["dataset", "label", "p_ai"])
    df["pred_binary"] = (df["p_ai"] > 0.5).astype(int)
    df["pred"] = np.where(df["pred_binary"] == 1, 1, 0)
    df["media_type"] = np.where(df["label"] == 0, "real", "synthetic")
    df["status"], df["weight"] = "ok", 1.0
    df["sample_id"] = [f"s{i}" for i in range(len(df))]
    return df


RECORDS = [("reals", 0, 0.2), ("reals", 0, 0.7), ("reals", 0, 0.1), ("mixed", 0, 0.3), ("mixed", 1, 0.8), ("mixed", 2, 0.4), ("mixed", 0, 0.6)]


def test_groups_single_class_none_and_table_dash():
    doc = summarise(_records(RECORDS), three_class=False, n_boot=50)
    reals, mixed = doc["per_dataset"]
    assert reals["dataset"] == "reals" and reals["mcc"] is None and reals["sn34"] is None and reals["roc_auc"] is None
    assert reals["tnr"] == pytest.approx(2 / 3) and reals["tpr"] is None and reals["strict"]["mcc"] is None
    assert mixed["roc_auc"] == pytest.approx(roc_auc_score([0, 1, 1, 0], [0.3, 0.8, 0.4, 0.6]))
    assert doc["overall"]["ci"]["roc_auc"] is not None and set(doc["overall"]) >= set(METRIC_KEYS)
    assert group_metrics(_records(RECORDS[:3]), False)["mcc"] is None
    text = metric_tables(doc)
    decisions, scores = text.split("\n\n")[:2]
    assert decisions.startswith("| decisions") and "tnr" in decisions and "sn34" in decisions
    assert scores.startswith("| scores") and "ORACLE" in scores and "ece" in scores
    row = next(line for line in decisions.splitlines() if line.startswith("| dataset reals"))
    cells = [c.strip() for c in row.strip("|").split("|")]
    assert cells[-4:] == ["0.6667", "-", "-", "-"]  # tnr, tpr, mcc, sn34: no MCC 0.0000 for want of a class


def test_robustness_summary_copes_with_none():
    base = _records(RECORDS).assign(**{"pass": "base"})
    robust = base.assign(p_ai=base["p_ai"] * 0.9, **{"pass": "robust"})
    df = pd.concat([base, robust], ignore_index=True)
    base_metrics = summarise(base, three_class=False, n_boot=0)
    out = robustness_summary(df, base_metrics, three_class=False, weight=0.5, n_boot=0)
    reals = next(d for d in out["per_dataset"] if d["dataset"] == "reals")
    assert reals["sn34_base"] is None and reals["sn34_robust"] is None and reals["sn34_blended"] is None
    assert out["sn34_blended"] is not None
