"""Paired comparison: McNemar against a direct binomial sum, planted differences, refusals."""

from __future__ import annotations

import json
from fractions import Fraction
from math import comb
from pathlib import Path

import numpy as np
import pytest
from scipy.stats import binomtest

from bench.cli import main
from bench.comparison import compare, compare_markdown, load_run, mcnemar_exact, paired_bootstrap
from bench.metrics import Scored
from tests import models
from tests.test_run import make_project, random_images


def direct_mcnemar(b: int, c: int) -> float:
    n, k = b + c, min(b, c)
    if n == 0:
        return 1.0
    tail = sum(Fraction(comb(n, i), 2**n) for i in range(k + 1))
    return float(min(Fraction(1), 2 * tail))


@pytest.mark.parametrize("b,c", [(0, 0), (0, 5), (3, 3), (1, 9), (12, 30), (40, 41), (200, 150), (0, 60)])
def test_mcnemar_exact_against_direct_binomial(b, c):
    assert mcnemar_exact(b, c) == pytest.approx(direct_mcnemar(b, c), rel=1e-9, abs=1e-15)
    if b + c:
        assert mcnemar_exact(b, c) == pytest.approx(binomtest(min(b, c), b + c, 0.5).pvalue, rel=1e-9)


def test_paired_bootstrap_reproducible_and_zero_for_identical_models():
    rng = np.random.default_rng(0)
    labels = rng.integers(0, 3, 80)
    p = rng.uniform(0, 1, 80)
    s = Scored.build(labels, p, (p > 0.5).astype(int), np.where(p > 0.5, 1, 0))
    t = Scored.build(labels, 1 - p, (p <= 0.5).astype(int), np.where(p <= 0.5, 1, 0))
    assert paired_bootstrap(s, t, 200, seed=4) == paired_bootstrap(s, t, 200, seed=4)
    same = paired_bootstrap(s, s, 200, seed=4)
    assert all(ci == [0.0, 0.0] for ci in same.values())


@pytest.fixture(scope="module")
def planted(tmp_path_factory):
    """Two datasets; model B differs from A only on dataset 'b-fakes', where it is far better."""
    tmp = tmp_path_factory.mktemp("cmp")
    # AI iff brightness fraction m > (b_real - b_synthetic) / 8: A above 0.5, B above 0.28
    a = models.save(models.linear_logits(3), tmp / "A.onnx")
    b = models.save(models.linear_logits(3, bias=[1.12, -1.12, -1.0]), tmp / "B.onnx")
    data = {
        "a-reals": ("real", random_images(40, 1, 5, 45)),  # dark: both say real
        "b-fakes": ("synthetic", random_images(40, 2, 85, 115)),  # mid: A says real, B says AI
    }
    cfg = make_project(tmp, data, a, batch_size=8)
    runs = {}
    for name, model in (("A", a), ("A2", a), ("B", b)):
        out = tmp / f"run-{name}"
        assert main(["run", str(cfg), "--model", str(model), "--output", str(out), "--no-progress"]) == 0
        runs[name] = out
    runs["cfg"] = cfg
    return runs


def test_planted_difference_is_named_first_and_significant(planted, tmp_path, capsys):
    out = tmp_path / "cmp"
    assert main(["compare", str(planted["A"]), str(planted["B"]), "--output", str(out), "--bootstrap", "300"]) == 0
    doc = json.loads((out / "compare.json").read_text())
    paired = doc["paired"][0]
    first = paired["per_dataset"][0]
    assert first["dataset"] == "b-fakes" and first["significant"] and first["delta_accuracy"] > 0.5
    assert paired["metrics"]["accuracy"]["verdict"] == "better"
    assert paired["mcnemar"]["p_value"] < 1e-6
    assert paired["per_dataset"][1]["dataset"] == "a-reals" and not paired["per_dataset"][1]["significant"]
    assert (out / "compare.md").read_text().startswith("# Comparison: A vs B")
    assert "Where the models disagree most" in capsys.readouterr().out
    assert doc["disagreements"][0]["dataset"] == "b-fakes"


def test_same_model_twice_is_no_difference(planted):
    doc = compare([load_run(planted["A"]), load_run(planted["A2"])], n_boot=200)
    for metric in doc["paired"][0]["metrics"].values():
        assert metric["verdict"] == "no significant difference" and metric["delta"] == 0
    assert doc["paired"][0]["mcnemar"]["p_value"] == 1.0
    assert doc["runs"][0]["name"] != doc["runs"][1]["name"]  # same model, told apart by folder


@pytest.mark.parametrize("flag,words", [(["--seed", "5"], "seed"), (["--geometry", "resize-crop"], "geometry"), (["--augment-level", "1"], "augmentation"), (["--fast-decode"], "fast_decode")])
def test_different_preprocessing_is_refused(planted, tmp_path, capsys, flag, words):
    other = tmp_path / "other"
    assert main(["run", str(planted["cfg"]), "--output", str(other), "--no-progress", *flag]) == 0
    capsys.readouterr()
    assert main(["compare", str(planted["A"]), str(other), "--output", str(tmp_path / "c")]) == 2
    err = capsys.readouterr().err
    assert words in err and err.count("\n") == 1 and "Traceback" not in err


def test_different_samples_refused_unless_allowed(planted, tmp_path, capsys):
    part = tmp_path / "part"
    assert main(["run", str(planted["cfg"]), "--limit", "25", "--output", str(part), "--no-progress"]) == 0
    capsys.readouterr()
    assert main(["compare", str(planted["A"]), str(part)]) == 2
    assert "--allow-mismatch" in capsys.readouterr().err
    doc = compare([load_run(planted["A"]), load_run(part)], allow_mismatch=True, n_boot=100)
    assert doc["samples"] == 50 and "50 samples all runs share" in doc["notes"][0]


def test_not_a_run_folder(tmp_path, capsys):
    assert main(["compare", str(tmp_path), str(tmp_path)]) == 2
    assert "not a run folder" in capsys.readouterr().err


def test_one_run_is_not_a_comparison(planted, capsys):
    assert main(["compare", str(planted["A"])]) == 2


def test_compare_json_is_plain_json(planted, tmp_path):
    out: Path = tmp_path / "c"
    assert main(["compare", str(planted["A"]), str(planted["B"]), "--output", str(out), "--bootstrap", "50"]) == 0
    json.loads((out / "compare.json").read_text())


def test_runs_with_the_robustness_pass_compare_on_the_base_pass(planted, tmp_path, capsys):
    robust = tmp_path / "robust"
    assert main(["run", str(planted["cfg"]), "--robustness", "--output", str(robust), "--no-progress"]) == 0
    capsys.readouterr()
    doc = compare([load_run(planted["A"]), load_run(robust)], n_boot=100)
    assert doc["samples"] == 80
    assert all(m["delta"] == 0 for m in doc["paired"][0]["metrics"].values())  # same model, same base pass


@pytest.mark.parametrize("width", [1, 2])
def test_accuracy_3class_is_none_for_models_without_three_logits(planted, tmp_path, width):
    model = models.save(models.linear_logits(width), tmp_path / f"narrow{width}.onnx")
    narrow = tmp_path / "narrow"
    assert main(["run", str(planted["cfg"]), "--model", str(model), "--output", str(narrow), "--no-progress"]) == 0
    assert json.loads((narrow / "results.json").read_text())["metrics"]["overall"]["accuracy_3class"] is None
    doc = compare([load_run(planted["A"]), load_run(narrow)], n_boot=50)
    assert doc["runs"][0]["metrics"]["accuracy_3class"] is not None
    assert doc["runs"][1]["metrics"]["accuracy_3class"] is None
    heads = ["model", "n", "accuracy", "accuracy_3class"]
    row = next(line for line in compare_markdown(doc).splitlines() if line.startswith(f"| narrow{width} "))
    cells = [c.strip() for c in row.strip("|").split("|")]
    assert cells[heads.index("accuracy_3class")] == "-"
