"""CI gates over results: ``--fail-under METRIC=VALUE`` (exit 3), ``--fail-on worse`` for
comparisons (exit 3), and too many model errors (exit 4). Each failed gate is one line."""

from __future__ import annotations

from bench.errors import BenchError

GATE_FAILED = 3
TOO_MANY_MODEL_ERRORS = 4
HIGHER_IS_BETTER = ("accuracy", "accuracy_3class", "mcc", "sn34", "roc_auc", "average_precision", "tnr", "tpr", "best_threshold_accuracy")


def parse_fail_under(items: list[str] | None) -> dict[str, float]:
    """``["sn34=0.6", "accuracy=0.8"]`` -> ``{"sn34": 0.6, "accuracy": 0.8}``; a one-line error
    for anything else."""
    gates: dict[str, float] = {}
    for item in items or []:
        name, sep, value = item.partition("=")
        name = name.strip()
        if not sep or name not in HIGHER_IS_BETTER:
            raise BenchError(f"--fail-under takes METRIC=VALUE with METRIC one of {', '.join(HIGHER_IS_BETTER)}, got {item!r}")
        try:
            threshold = float(value)
        except ValueError:
            raise BenchError(f"--fail-under {item!r}: {value!r} is not a number") from None
        if threshold != threshold or threshold in (float("inf"), float("-inf")):
            raise BenchError(f"--fail-under {item!r}: the threshold must be a finite number")
        gates[name] = threshold
    return gates


def failed_thresholds(name: str, overall: dict, gates: dict[str, float]) -> list[str]:
    """One line per metric of ``overall`` (headline) below its gate; an undefined metric fails."""
    lines = []
    for metric, threshold in gates.items():
        value = overall.get(metric)
        if value is None:
            lines.append(f"gate failed: {name}: {metric} is undefined (needs both classes), required >= {threshold:g}")
        elif value < threshold:
            lines.append(f"gate failed: {name}: {metric} {value:.4f} < {threshold:g}")
    return lines


def model_error_rate(overall: dict) -> float:
    attempted = overall["n"] + overall["model_errors"]
    return overall["model_errors"] / attempted if attempted else 0.0


def failed_comparison(doc: dict, fail_on: str | None) -> list[str]:
    """``fail_on == "worse"``: one line per metric any model is significantly worse on."""
    if fail_on is None:
        return []
    lines = []
    for paired in doc["paired"]:
        for metric, m in paired["metrics"].items():
            if m["verdict"] == fail_on:
                lines.append(f"gate failed: {paired['name']} is {fail_on} than {doc['baseline']} on {metric} (difference {m['delta']:+.4f})")
    return lines
