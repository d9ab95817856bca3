"""Metrics against scikit-learn, the independent reference."""

from __future__ import annotations

import math

import numpy as np
import pytest
from sklearn.metrics import accuracy_score, brier_score_loss, log_loss, matthews_corrcoef

from bench.metrics import Scored, bootstrap_ci, compute, confusion_3class, mcc_from_counts, sn34


def _random_case(seed: int, n: int = 200, weighted: bool = False):
    rng = np.random.default_rng(seed)
    labels = rng.integers(0, 3, n)
    p_ai = np.clip(rng.beta(2, 2, n) * 0.6 + 0.4 * (labels != 0), 0, 1)
    pred = rng.integers(0, 3, n)
    pred_binary = (pred != 0).astype(int)
    weights = rng.uniform(0.2, 3.0, n) if weighted else None
    return labels, p_ai, pred, pred_binary, weights


@pytest.mark.parametrize("seed", [0, 1, 2])
@pytest.mark.parametrize("weighted", [False, True])
def test_metrics_equal_sklearn(seed, weighted):
    labels, p_ai, pred, pred_binary, w = _random_case(seed, weighted=weighted)
    got = compute(Scored.build(labels, p_ai, pred_binary, pred, w))
    y = (labels != 0).astype(int)
    q = np.clip(p_ai, 1e-7, 1 - 1e-7)
    assert got["accuracy"] == pytest.approx(accuracy_score(y, pred_binary, sample_weight=w), abs=1e-12)
    assert got["accuracy_3class"] == pytest.approx(accuracy_score(labels, pred, sample_weight=w), abs=1e-12)
    assert got["mcc"] == pytest.approx(matthews_corrcoef(y, pred_binary, sample_weight=w), abs=1e-12)
    assert got["brier"] == pytest.approx(brier_score_loss(y, q, sample_weight=w), abs=1e-12)
    assert got["cross_entropy"] == pytest.approx(log_loss(y, q, sample_weight=w, labels=[0, 1]), abs=1e-12)


def test_integer_weights_equal_repetition():
    labels, p_ai, pred, pred_binary, _ = _random_case(5, n=60)
    w = np.random.default_rng(1).integers(1, 4, 60)
    weighted = compute(Scored.build(labels, p_ai, pred_binary, pred, w))
    rep = np.repeat(np.arange(60), w)
    repeated = compute(Scored.build(labels[rep], p_ai[rep], pred_binary[rep], pred[rep]))
    for key, value in weighted.items():
        assert value == pytest.approx(repeated[key], abs=1e-12)


def test_mcc_zero_denominator_and_sn34_bounds():
    assert mcc_from_counts(10, 0, 0, 0) == 0.0  # the SPEC formula; groups with one class report None instead (below)
    assert mcc_from_counts(3, 0, 2, 0) == 0.0  # both classes, one prediction: 0 everywhere
    assert sn34(1.0, 0.0) == pytest.approx(1.0)
    assert sn34(0.0, 0.25) == pytest.approx(1e-6)  # coin flip: about 0
    assert sn34(-1.0, 1.0) == pytest.approx(1e-6)
    # the formula, spelled out
    mcc, brier = 0.4, 0.12
    expected = math.sqrt(((mcc + 1) / 2) ** 1.2 * ((0.25 - brier) / 0.25) ** 1.8)
    assert sn34(mcc, brier) == pytest.approx(expected)


def test_single_class_group_has_no_mcc_nor_sn34():
    """One class present: MCC's denominator is 0 for want of a class, so the groups' rule
    (``single_class_none``, what the report uses) gives None for MCC and SN34 (built on it), where
    the bare formula (default, what comparison's differences use) gives 0 and an SN34 from it."""
    labels = np.array([0, 0, 0, 0])
    s = Scored.build(labels, [0.1, 0.2, 0.9, 0.3], [0, 0, 1, 0], labels)
    grouped, plain = compute(s, single_class_none=True), compute(s)
    assert grouped["mcc"] is None and grouped["sn34"] is None and grouped["accuracy"] == 0.75 and grouped["brier"] is not None
    assert plain["mcc"] == 0.0 and plain["sn34"] == pytest.approx(sn34(0.0, plain["brier"]))
    both = np.array([0, 1, 0, 2])  # both classes, the model says AI for all: MCC 0 by the SPEC's rule, in groups too
    got = compute(Scored.build(both, [0.6, 0.7, 0.8, 0.9], [1, 1, 1, 1], both), single_class_none=True)
    assert got["mcc"] == 0.0 and got["sn34"] == pytest.approx(sn34(0.0, got["brier"]))


def test_perfect_confident_model_scores_one():
    labels = np.array([0, 1, 2, 0, 1])
    y = labels != 0
    got = compute(Scored.build(labels, y.astype(float), y.astype(int), labels))
    assert got["accuracy"] == 1.0 and got["mcc"] == pytest.approx(1.0)
    assert got["sn34"] == pytest.approx(1.0, abs=1e-5)


def test_confusion_matches_sklearn():
    from sklearn.metrics import confusion_matrix

    labels, _, pred, _, w = _random_case(3, weighted=True)
    got = np.array(confusion_3class(labels, pred, w))
    np.testing.assert_allclose(got, confusion_matrix(labels, pred, labels=[0, 1, 2], sample_weight=w))


def test_bootstrap_reproducible_and_brackets_estimate():
    labels, p_ai, pred, pred_binary, _ = _random_case(7, n=300)
    s = Scored.build(labels, p_ai, pred_binary, pred)
    a = bootstrap_ci(s, n_boot=300, seed=11)
    b = bootstrap_ci(s, n_boot=300, seed=11)
    c = bootstrap_ci(s, n_boot=300, seed=12)
    assert a == b and a != c
    point = compute(s)
    for key in ("accuracy", "mcc", "sn34", "roc_auc"):
        lo, hi = a[key]
        assert lo <= point[key] <= hi


def test_bootstrap_matches_brute_force_loop():
    labels, p_ai, pred, pred_binary, w = _random_case(9, n=40, weighted=True)
    s = Scored.build(labels, p_ai, pred_binary, pred, w)
    got = bootstrap_ci(s, n_boot=50, seed=3, chunk=7)
    # the same resamples, drawn by the same generator, evaluated one at a time
    rng = np.random.default_rng(3)
    values = {"accuracy": [], "mcc": [], "sn34": [], "roc_auc": []}
    drawn = 0
    while drawn < 50:
        m = min(7, 50 - drawn)
        for counts in rng.multinomial(40, np.full(40, 1 / 40), size=m):
            idx = np.repeat(np.arange(40), counts)
            r = compute(Scored.build(labels[idx], p_ai[idx], pred_binary[idx], pred[idx], w[idx]))
            for k in values:
                if r[k] is not None:  # a resample with one class has no AUC
                    values[k].append(r[k])
        drawn += m
    for k, v in values.items():
        assert got[k] == pytest.approx([np.quantile(v, 0.025), np.quantile(v, 0.975)], abs=1e-12)


def test_bad_input_message():
    with pytest.raises(ValueError, match="Expected `p_ai`"):
        Scored.build([0, 1], [0.5], [0, 1], [0, 1])


def test_empty_group_gives_none():
    got = compute(Scored.build([], [], [], []))
    assert all(v is None for v in got.values())
