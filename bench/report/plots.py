"""The report's plots as inline SVG (matplotlib, Agg, imported only inside the functions that
plot): ROC and precision-recall curves, the reliability diagram, the paired differences of a
comparison. Each takes the records' arrays (or the comparison's figures) and draws them; the
curves are the plot's own points, the headline figures come from the metrics."""

from __future__ import annotations

import functools
import io
import re

import numpy as np

from bench.scores import ECE_BINS, Curve, calibration_bins

RELIABILITY_BINS = ECE_BINS
COLOURS = ("#1f5fa8", "#d9622b", "#2f8f4e", "#8a4fb8", "#b8860b", "#5f6b7a")
LINES = ("-", "--", "-.", ":")


def curve_points(y: np.ndarray, p: np.ndarray, w: np.ndarray) -> dict[str, np.ndarray] | None:
    """Weighted ROC and precision-recall points (bench.scores.Curve, the curve the metrics are
    computed from); None when a class is absent."""
    return Curve.build(np.asarray(y, dtype=float), np.asarray(p, dtype=float), np.asarray(w, dtype=float)).points()


def reliability_bins(y: np.ndarray, p: np.ndarray, w: np.ndarray, bins: int = RELIABILITY_BINS) -> dict[str, np.ndarray]:
    """Per equal-width bin of ``p`` over [0, 1]: total weight, mean ``p`` and the weighted
    fraction of positives (NaN in an empty bin)."""
    idx = calibration_bins(p, bins)  # the bins of the reported ECE
    weight = np.bincount(idx, w, bins)
    with np.errstate(invalid="ignore", divide="ignore"):
        mean_p = np.bincount(idx, w * p, bins) / weight
        frac = np.bincount(idx, w * y, bins) / weight
    return {"edges": np.linspace(0, 1, bins + 1), "weight": weight, "count": np.bincount(idx, minlength=bins), "mean_p": mean_p, "fraction": frac}


STYLE = {"font.size": 9, "axes.titlesize": 10, "axes.labelsize": 9, "legend.fontsize": 8, "svg.fonttype": "none"}


def _styled(plot):
    """Run a plotting function on the Agg backend in the report's style (matplotlib's global
    settings are left as they were)."""

    @functools.wraps(plot)
    def wrapper(*args, **kwargs):
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt

        with plt.rc_context(STYLE):
            return plot(*args, **kwargs)

    return wrapper


def _figure(width: float = 4.6, height: float = 3.8):
    import matplotlib.pyplot as plt

    return plt.figure(figsize=(width, height))


def to_svg(fig, name: str) -> str:
    """The figure as an ``<svg>`` element to inline in HTML: no XML prologue, doctype,
    metadata or namespace declarations (the HTML parser supplies them), its own size (CSS
    shrinks it to fit); element ids salted with ``name`` so several plots on a page never collide."""
    import matplotlib.pyplot as plt

    buf = io.StringIO()
    with plt.rc_context({"svg.hashsalt": name, "svg.fonttype": "none"}):
        fig.savefig(buf, format="svg", bbox_inches="tight", metadata={"Date": None, "Creator": None, "Format": None, "Type": None})
    plt.close(fig)
    text = buf.getvalue()
    text = text[text.index("<svg"):]
    text = re.sub(r"<metadata>.*?</metadata>", "", text, flags=re.S)
    text = re.sub(r'\s+xmlns(:\w+)?="[^"]*"', "", text)
    return text.replace("<svg", f'<svg class="plot" role="img" aria-label="{name}"', 1)


@_styled
def roc_svg(series: list[dict]) -> str | None:
    """ROC curves; each series: ``label``, ``y``, ``p``, ``w``, optional ``auc`` (from the
    metrics) and ``point`` (the decisions' ``(fpr, tpr)``). None when no series has both classes."""
    drawn = [(s, c) for s in series if (c := curve_points(s["y"], s["p"], s["w"])) is not None]
    if not drawn:
        return None
    fig = _figure()
    ax = fig.add_subplot()
    ax.plot([0, 1], [0, 1], ls=":", c="#999", lw=1)
    for i, (s, c) in enumerate(drawn):
        colour = COLOURS[i % len(COLOURS)]
        auc = f" (AUC {s['auc']:.3f})" if s.get("auc") is not None else ""
        ax.plot(c["fpr"], c["tpr"], c=colour, ls=LINES[i % len(LINES)], lw=1.6, label=f"{s['label']}{auc}", drawstyle="steps-post")
        if s.get("point") is not None:
            ax.plot(*s["point"], "o", c=colour, ms=5, mec="white", label=f"{s['label']}: its decisions")
    _square(ax, "false positive rate (real called AI)", "true positive rate (AI caught)", "ROC")
    ax.legend(loc="lower right")
    return to_svg(fig, "ROC curve")


@_styled
def pr_svg(series: list[dict]) -> str | None:
    """Precision-recall curves (positive: AI); each series as in ``roc_svg`` with ``ap``."""
    drawn = [(s, c) for s in series if (c := curve_points(s["y"], s["p"], s["w"])) is not None]
    if not drawn:
        return None
    fig = _figure()
    ax = fig.add_subplot()
    for i, (s, c) in enumerate(drawn):
        colour = COLOURS[i % len(COLOURS)]
        ap = f" (AP {s['ap']:.3f})" if s.get("ap") is not None else ""
        ax.plot(np.r_[0.0, c["recall"]], np.r_[c["precision"][0], c["precision"]], c=colour, ls=LINES[i % len(LINES)], lw=1.6, label=f"{s['label']}{ap}", drawstyle="steps-pre")
        ax.axhline(float(c["prevalence"]), ls=":", c=colour, lw=1)
        if s.get("pr_point") is not None:
            ax.plot(*s["pr_point"], "o", c=colour, ms=5, mec="white", label=f"{s['label']}: its decisions")
    _square(ax, "recall (AI caught)", "precision (AI calls that are AI)", "Precision-recall (dotted: share of AI)")
    ax.legend(loc="lower left")
    return to_svg(fig, "precision-recall curve")


@_styled
def reliability_svg(y: np.ndarray, p: np.ndarray, w: np.ndarray, ece: float | None = None, bins: int = RELIABILITY_BINS) -> str | None:
    """Reliability diagram: per bin of p_ai, the share of AI samples against the mean p_ai (the
    diagonal is perfect calibration), the samples per bin below."""
    if p.size == 0:
        return None
    import matplotlib.gridspec as gridspec

    r = reliability_bins(y, p, w, bins)
    fig = _figure(4.6, 4.2)
    grid = gridspec.GridSpec(2, 1, height_ratios=[3, 1], hspace=0.08, figure=fig)
    ax, hist = fig.add_subplot(grid[0]), fig.add_subplot(grid[1])
    edges, width = r["edges"], 1 / bins
    filled = r["weight"] > 0
    ax.plot([0, 1], [0, 1], ls=":", c="#999", lw=1)
    ax.bar(edges[:-1][filled], r["fraction"][filled], width=width, align="edge", color="#9dbbe0", edgecolor="#1f5fa8", lw=0.6, label="share of AI in the bin")
    ax.plot(r["mean_p"][filled], r["fraction"][filled], "o", c="#d9622b", ms=4, label="at the bin's mean p_ai")
    title = f"Reliability ({bins} bins" + (f", ECE {ece:.3f})" if ece is not None else ")")
    ax.set(xlim=(0, 1), ylim=(0, 1), ylabel="share of AI samples", title=title)
    ax.tick_params(labelbottom=False)
    ax.grid(alpha=0.3)
    ax.legend(loc="upper left")
    hist.bar(edges[:-1], r["count"], width=width, align="edge", color="#c9c9c9", edgecolor="#777", lw=0.6)
    hist.set(xlim=(0, 1), xlabel="p_ai", ylabel="samples")
    hist.grid(alpha=0.3)
    return to_svg(fig, "reliability diagram")


@_styled
def differences_svg(rows: list[dict]) -> str | None:
    """A comparison's paired differences: per metric one panel, per model its difference to the
    baseline with the paired 95% interval; the zero line is "no difference". ``rows``: ``name``
    and ``metrics`` ``{metric: {delta, ci, verdict}}``."""
    metrics = [k for k in ("accuracy", "mcc", "brier", "sn34") if any(k in r["metrics"] for r in rows)]
    if not rows or not metrics:
        return None
    fig = _figure(2.3 * len(metrics), 0.9 + 0.45 * len(rows))
    axes = fig.subplots(1, len(metrics), sharey=True, squeeze=False)[0]
    colour = {"better": "#2f8f4e", "worse": "#c0392b"}
    for ax, k in zip(axes, metrics):
        for i, r in enumerate(rows):
            m = r["metrics"].get(k)
            if not m or m.get("delta") is None:
                continue
            c = colour.get(m.get("verdict"), "#555")
            if m.get("ci"):
                ax.plot(m["ci"], [i, i], c=c, lw=2)
            ax.plot([m["delta"]], [i], "o", c=c, ms=5)
        ax.axvline(0, c="#999", ls=":", lw=1)
        ax.set_title(f"{k} ({'lower' if k == 'brier' else 'higher'} is better)")
        ax.grid(axis="x", alpha=0.3)
        ax.tick_params(axis="x", labelrotation=30)
    axes[0].set_yticks(range(len(rows)), [_short(r["name"]) for r in rows])
    axes[0].set_ylim(-0.6, len(rows) - 0.4)
    axes[0].invert_yaxis()
    return to_svg(fig, "paired differences")


def _short(name: str, n: int = 28) -> str:
    return name if len(name) <= n else name[: n - 1] + "\u2026"


def _square(ax, xlabel: str, ylabel: str, title: str) -> None:
    ax.set(xlim=(-0.01, 1.01), ylim=(-0.01, 1.01), xlabel=xlabel, ylabel=ylabel, title=title)
    ax.set_aspect("equal")
    ax.grid(alpha=0.3)
