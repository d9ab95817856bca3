"""report.html: one self-contained page per run (``run_html``) and per comparison
(``compare_html``) that opens offline: CSS inline, plots inline SVG, thumbnails inline PNG
(data URIs), no script, no link, no request. Computes nothing: every figure comes from the
results document; the plots and the sample lists are views of the records."""

from __future__ import annotations

import html
import json
from pathlib import Path

import numpy as np
import pandas as pd

from bench.report import (
    DECISION_COLUMNS,
    SCORE_COLUMNS,
    dependence_line,
    fmt,
    plots,
    preprocessing_text,
    strict_line,
    throughput_table,
    trials_table,
)
from bench.report.thumbnails import (
    base_ok,
    confidently_wrong,
    inline_thumbnails,
    runs_thumbnails,
    thumbnail_key,
)

THRESHOLDS = {"eer": ("eer_threshold",), "best_threshold_accuracy": ("best_threshold",)}
# the metrics tables' columns: summary.md's two blocks (bench.report), each threshold beside its figure
BLOCKS = (("decisions", DECISION_COLUMNS), ("scores (from p_ai)", tuple(k for c in SCORE_COLUMNS for k in (c, *THRESHOLDS.get(c, ())))))
LABELS = {  # key: (header, tooltip)
    "n": ("n", "samples scored (status ok)"), "errors": ("errors", "data and model errors"), "sn34": ("SN34", "the leaderboard score"),
    "accuracy": ("acc", "binary accuracy (AI = synthetic or semisynthetic)"), "accuracy_3class": ("acc 3-class", "3-class accuracy"),
    "tnr": ("TNR", "true negative rate: reals called real"), "tpr": ("TPR", "true positive rate: AI called AI"),
    "mcc": ("MCC", "Matthews correlation coefficient"), "brier": ("Brier", "Brier score of p_ai (lower is better)"),
    "cross_entropy": ("CE", "binary cross-entropy of p_ai (lower is better)"), "ece": ("ECE", "expected calibration error, 15 bins (lower is better)"),
    "roc_auc": ("AUC", "ROC AUC of p_ai"), "average_precision": ("AP", "average precision of p_ai"), "eer": ("EER", "equal error rate"),
    "eer_threshold": ("EER thr", "p_ai threshold at the equal error rate"),
    "best_threshold_accuracy": ("oracle acc", "accuracy at the best p_ai threshold: an ORACLE, chosen on these very labels"),
    "best_threshold": ("oracle thr", "that threshold"),
}
HEADLINE = (("accuracy", "accuracy"), ("accuracy_3class", "3-class accuracy"), ("mcc", "MCC"), ("brier", "Brier"), ("cross_entropy", "cross-entropy"),
            ("roc_auc", "ROC AUC"), ("average_precision", "average precision"), ("eer", "EER"), ("ece", "ECE"), ("tnr", "TNR (reals)"),
            ("tpr", "TPR (AI)"), ("best_threshold_accuracy", "oracle accuracy (best threshold)"))
NAV = {"groups": "Per dataset", "curves": "Curves", "wrong": "Confidently wrong", "trials": "Batch trials", "environment": "Environment",
       "overall": "Side by side", "disagree": "Disagreements"}
LABEL_NAMES = {0: "real", 1: "synthetic", 2: "semisynthetic"}
CSS = """
*{box-sizing:border-box}
body{margin:0;font:14px/1.45 system-ui,-apple-system,"Segoe UI",Roboto,"DejaVu Sans",sans-serif;color:#1d232b;background:#f4f5f7;overflow-wrap:anywhere}
main{max-width:1240px;margin:0 auto;padding:12px 20px 40px}
header{background:#1d2f48;color:#fff;padding:14px 20px} header h1{margin:0 auto;max-width:1200px;font-size:21px}
header p{margin:4px auto 0;max-width:1200px;color:#c8d3e2;font-size:13px}
nav{position:sticky;top:0;z-index:2;background:#fff;border-bottom:1px solid #dde1e6;padding:6px 20px;font-size:13px;display:flex;flex-wrap:wrap;gap:2px 16px}
nav a{color:#1f5fa8;text-decoration:none;white-space:nowrap}
section{background:#fff;border:1px solid #dde1e6;border-radius:6px;margin:14px 0;padding:10px 16px 14px}
h2{font-size:17px;margin:4px 0 10px} h3{font-size:14px;margin:14px 0 6px} p.note{color:#4a5563;font-size:13px;margin:6px 0}
.tbl{overflow-x:auto;max-width:100%;margin:6px 0} table{border-collapse:collapse;font-size:12.5px;overflow-wrap:normal}
th,td{padding:3px 6px;border-bottom:1px solid #e6e9ed;text-align:right;vertical-align:top}
th{background:#f0f2f5;font-weight:600;vertical-align:bottom;max-width:10ch} tbody th{vertical-align:middle}
th.span{text-align:center;max-width:none;border-bottom:2px solid #c5ccd6;background:#e6eaf0} th.span:empty{background:none;border:0}
td{font-variant-numeric:tabular-nums;white-space:nowrap} tr.overall td{font-weight:600;background:#f7f9fc} td.hi,th.hi{background:#eef4fb}
td.t,th.t,th.w{text-align:left;white-space:normal;overflow-wrap:break-word;min-width:8ch;max-width:34ch}
td.w{text-align:left;white-space:normal;overflow-wrap:anywhere;min-width:24ch;max-width:70ch}
.cm td,.cm thead th{text-align:center;min-width:92px}
.kv{display:grid;grid-template-columns:repeat(auto-fit,minmax(360px,1fr));gap:4px 18px;align-items:start}
.plots{display:grid;grid-template-columns:repeat(auto-fit,minmax(330px,1fr));gap:10px;align-items:start}
.thumbs{display:grid;grid-template-columns:repeat(auto-fill,minmax(150px,1fr));gap:8px} .kv>div,.plots>div,.thumbs>figure{min-width:0}
svg.plot{max-width:100%;height:auto;display:block;margin:0 auto}
.cards{display:grid;grid-template-columns:repeat(auto-fill,minmax(150px,1fr));gap:8px}
.card{border:1px solid #dde1e6;border-radius:5px;padding:6px 9px;background:#fafbfc} .card .k,.card .c{font-size:12px;color:#4a5563}
.card .v{font-size:18px;font-weight:600;font-variant-numeric:tabular-nums}
.card.big{grid-column:span 2;background:#eef4fb;border-color:#b9cde6} .card.big .v{font-size:30px;color:#1d2f48}
figure{margin:0;border:1px solid #dde1e6;border-radius:5px;padding:6px;background:#fafbfc;font-size:12px}
figure img{width:128px;height:128px;object-fit:contain;image-rendering:pixelated;background:#222;display:block}
figcaption{margin-top:4px} figcaption .p{display:flex;justify-content:space-between;gap:6px}
.bad{color:#b03a2e;font-weight:600} .good{color:#2f7d46;font-weight:600} .muted{color:#6b7480}
.verdict{padding:1px 6px;border-radius:9px;font-size:12px;white-space:nowrap} .verdict.same{background:#eceef1;color:#4a5563}
.verdict.better{background:#dff1e4;color:#1e6b37} .verdict.worse{background:#f8dedb;color:#9c2b20} .verdict.sig{background:#fbeccb;color:#7a5200}
pre{white-space:pre-wrap;font-size:12px;background:#f7f8fa;padding:8px;border-radius:4px;max-height:420px;overflow:auto}
details summary{cursor:pointer;color:#1f5fa8}
"""


class Raw(str):
    """A cell that is already HTML."""


def esc(value) -> str:
    return value if isinstance(value, Raw) else html.escape(fmt(value))


def _numeric(value) -> bool:
    if isinstance(value, Raw):
        return False
    if value is None or isinstance(value, (int, float, np.number)):
        return True
    try:
        float(str(value).replace(" / ", "").strip() or "0")
        return True
    except ValueError:
        return str(value).strip() == "-"


def table(headers: list, rows: list[list], row_classes: list[str] | None = None, cell_classes: list[str] | None = None,
          spans: list[tuple[str, int]] | None = None) -> str:
    """An HTML table in a box that scrolls sideways (never the page). A header is a string or
    ``(text, tooltip)``; a cell is escaped unless ``Raw``. A column is left-aligned text when
    any of its cells is text, else right-aligned numbers; ``cell_classes`` per column can say
    ``n`` (numbers), ``t`` (text), ``w`` (long text) or ``hi`` (highlighted numbers); ``spans``:
    a header row above, of ``(title, columns)``."""
    given = list(cell_classes or [])
    given += [""] * (len(headers) - len(given))
    cls = [c or ("t" if i == 0 or any(not _numeric(r[i]) for r in rows if i < len(r)) else "n") for i, c in enumerate(given)]
    th = []
    for h, c in zip(headers, cls):
        text, tip = h if isinstance(h, tuple) else (h, "")
        title = f' title="{html.escape(tip)}"' if tip else ""
        th.append(f'<th class="{c}"{title}>{html.escape(text)}</th>')
    classes = row_classes or [""] * len(rows)
    body = "".join(f'<tr class="{rc}">' + "".join(f'<td class="{c}">{esc(v)}</td>' for v, c in zip(r, cls)) + "</tr>" for r, rc in zip(rows, classes))
    top = "<tr>" + "".join(f'<th class="span" colspan="{n}">{html.escape(t)}</th>' for t, n in spans) + "</tr>" if spans else ""
    return f'<div class="tbl"><table><thead>{top}<tr>{"".join(th)}</tr></thead><tbody>{body}</tbody></table></div>'


def from_markdown(md: str) -> tuple[list[str], list[list[str]]]:
    """The header and rows of a table of bench.report (the same rows as summary.md: one source)."""
    lines = [ln for ln in md.splitlines() if ln.startswith("|")]
    split = lambda ln: [c.strip() for c in ln.strip()[1:-1].split(" | ")]  # noqa: E731
    return split(lines[0]), [split(ln) for ln in lines[2:]]


def page(title: str, subtitle: str, sections: list[tuple[str, str, str]]) -> str:
    """The document: ``sections`` of ``(anchor, heading, body html)``, empty bodies left out."""
    shown = [s for s in sections if s[2]]
    nav = "".join(f'<a href="#{a}">{html.escape(NAV.get(a, h))}</a>' for a, h, _ in shown)
    body = "".join(f'<section id="{a}"><h2>{html.escape(h)}</h2>{b}</section>' for a, h, b in shown)
    return ("<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">"
            "<meta name=\"viewport\" content=\"width=device-width,initial-scale=1\">"
            f"<title>{html.escape(title)}</title><style>{CSS}</style></head><body>"
            f"<header><h1>{html.escape(title)}</h1><p>{subtitle}</p></header><nav>{nav}</nav><main>{body}</main></body></html>\n")


def interval(ci) -> str:
    return f"[{fmt(ci[0])}, {fmt(ci[1])}]" if ci else "-"


def _p(text: str) -> str:
    return f'<p class="note">{html.escape(text)}</p>' if text else ""


# --------------------------------------------------------------------------- one run


def run_html(doc: dict, records: pd.DataFrame, folder: Path | None = None) -> str:
    """A run's report from its results document and its records; thumbnails named in
    ``doc["thumbnails"]`` are read from ``folder`` (the run folder) and inlined."""
    model, metrics = doc["model"], doc["metrics"]
    env, pre = doc.get("environment") or {}, doc.get("preprocessing") or {}
    runtime = env.get("runtime", "onnxruntime")
    subtitle = html.escape(f"{model.get('modality', '')} model, sha256 {str(model.get('sha256', ''))[:16]}, input {model.get('input_shape')} "
                           f"{model.get('input_dtype', '')}, {model.get('output_width')} logits; {preprocessing_text(pre)}; "
                           f"{env.get('provider')} on {env.get('device')}, {runtime} {env.get(runtime, '')}; {doc.get('created', '')}")
    base = base_ok(records)
    thumbs = inline_thumbnails(doc.get("thumbnails") or {}, folder)
    media = {d["name"]: d.get("media_type") for d in doc.get("datasets") or []}
    sections = [
        ("headline", "Headline", headline(metrics["overall"], doc.get("batch_trials"), doc.get("robustness"))),
        ("groups", "Per dataset and media type", group_tables(metrics, media)),
        ("curves", "Curves and calibration", curves(base, metrics["overall"], records, doc.get("robustness"))),
        ("confusion", "Confusion", confusion(metrics.get("confusion"), base)),
        ("wrong", "Most confidently wrong", wrong_samples(records, thumbs)),
        ("errors", "Errors", errors(records)),
        ("trials", "The range of the pushed score (batch trials)", trials(doc.get("batch_trials"))),
        ("robustness", "Robustness (redistribution chain)", robustness(doc.get("robustness"), metrics["overall"])),
        ("throughput", "Throughput", throughput(doc.get("throughput"), env)),
        ("environment", "Environment and settings", environment(doc)),
    ]
    return page(f"{Path(model['path']).name}", subtitle, sections)


def _card(key: str, value, extra: str = "", big: bool = False) -> str:
    return (f'<div class="card{" big" if big else ""}"><div class="k">{html.escape(key)}</div><div class="v">{esc(value)}</div>'
            + (f'<div class="c">{html.escape(extra)}</div>' if extra else "") + "</div>")


def headline(overall: dict, batch_trials: dict | None, robust: dict | None) -> str:
    ci = overall.get("ci") or {}
    extra = f"95% interval {interval(ci.get('sn34'))}"
    sn = (batch_trials or {}).get("metrics", {}).get("sn34")
    if sn and sn.get("min") is not None:
        extra += f"; over {batch_trials['trials']} batch groupings {fmt(sn['min'])} to {fmt(sn['max'])}"
    cards = [_card("SN34 (leaderboard score)", overall.get("sn34"), extra, big=True)]
    if robust:
        cards.append(_card(f"SN34 blended ({1 - robust['weight']:g} base + {robust['weight']:g} robust)", robust.get("sn34_blended"), f"robust alone {fmt(robust.get('sn34_robust'))}"))
    for key, name in HEADLINE:
        if key in overall:
            note = f"95% {interval(ci[key])}" if ci.get(key) else ""
            if key == "eer" and overall.get("eer_threshold") is not None:
                note = f"at p_ai {fmt(overall['eer_threshold'])}"
            if key == "best_threshold_accuracy" and overall.get("best_threshold") is not None:
                note = f"oracle threshold {fmt(overall['best_threshold'])}"
            cards.append(_card(name, overall.get(key), note))
    cards.append(_card("samples scored", overall.get("n"), f"{overall.get('data_errors', 0)} data / {overall.get('model_errors', 0)} model errors"))
    return f'<div class="cards">{"".join(cards)}</div>' + _p(strict_line({"overall": overall}))


def _blocks(present) -> list[tuple[str, list[str]]]:
    """The metrics columns by block, only the keys ``present`` (a key no group has is left out)."""
    return [(title, cols) for title, keys in BLOCKS if (cols := [k for k in keys if present(k)])]


def group_tables(metrics: dict, media: dict) -> str:
    overall = metrics["overall"]
    out = []
    sections = [("Per dataset", "dataset", metrics.get("per_dataset") or [], True), ("Per media type", "media_type", metrics.get("per_media_type") or [], False)]
    sections += [(f"By {tag}", "group", rows, False) for tag, rows in (metrics.get("per_group") or {}).items()]  # bench run --by TAG
    for title, key, groups, extra in sections:
        blocks = _blocks(lambda k, gs=[overall, *groups]: any(k in g for g in gs))
        cols = [k for _, ks in blocks for k in ks]
        lead = [key.replace("_", " "), *(["media type"] if extra else [])]
        rows = [["overall", *([""] if extra else []), *(overall.get(k) for k in cols)]]
        rows += [[g[key], *([media.get(g[key], "")] if extra else []), *(g.get(k) for k in cols)] for g in groups]
        hi = [""] * len(lead) + ["hi" if k == "sn34" else "" for k in cols]
        spans = [("", len(lead)), *((t, len(ks)) for t, ks in blocks)]
        out.append(f"<h3>{title}</h3>" + table([*lead, *(LABELS.get(k, (k, "")) for k in cols)], rows, ["overall"] + [""] * len(groups), hi, spans))
    return "".join(out) + _p("MCC and SN34 are undefined (-) in a group with one class only; so are AUC, AP, EER and the oracle threshold. "
                             "The oracle accuracy uses the threshold best for these very labels: an upper bound, not a score.")


def _arrays(rows: pd.DataFrame) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    w = rows["weight"].to_numpy(float) if "weight" in rows else np.ones(len(rows))
    return (rows["label"].to_numpy() != 0).astype(float), rows["p_ai"].to_numpy(float), w


def _series(label: str, rows: pd.DataFrame, m: dict) -> dict:
    y, p, w = _arrays(rows)
    d = rows["pred_binary"].to_numpy() == 1
    pos, neg = w[y == 1].sum(), w[y == 0].sum()
    tp, fp = w[(y == 1) & d].sum(), w[(y == 0) & d].sum()
    point = (fp / neg, tp / pos) if pos > 0 and neg > 0 else None
    pr_point = (tp / pos, tp / (tp + fp)) if pos > 0 and tp + fp > 0 else None
    return {"label": label, "y": y, "p": p, "w": w, "auc": m.get("roc_auc"), "ap": m.get("average_precision"), "point": point, "pr_point": pr_point}


def curves(base: pd.DataFrame, overall: dict, records: pd.DataFrame, robust: dict | None) -> str:
    series = [_series("base", base, overall)]
    if robust and "pass" in records:
        rows = records[(records["pass"] == "robust") & (records["status"] == "ok")]
        series.append(_series("robust", rows, robust["robust"]["overall"]))
    y, p, w = _arrays(base)
    svgs = [s for s in (plots.roc_svg(series), plots.pr_svg(series), plots.reliability_svg(y, p, w, overall.get("ece"))) if s]
    if not svgs:
        return _p("No sample was scored.")
    note = "" if len(svgs) == 3 else _p("ROC and precision-recall curves need real and AI samples; this run has one class only.")
    return f'<div class="plots">{"".join(f"<div>{s}</div>" for s in svgs)}</div>' + note + _p(
        "From the base pass, status ok (the samples of the headline). The dot is the model's own decisions.")


def confusion(found: dict | None, base: pd.DataFrame) -> str:
    if found:
        labels, matrix = found["labels"], np.asarray(found["matrix"], float)
        note = "3-class decisions (argmax of the logits), status ok."
    else:
        y, d = (base["label"].to_numpy() != 0).astype(int), base["pred_binary"].to_numpy()
        labels, matrix = ["real", "AI"], np.array([[((y == t) & (d == q)).sum() for q in (0, 1)] for t in (0, 1)], float)
        note = "Binary decisions, status ok (the model has no 3-class output)."
    rows = []
    for lab, row in zip(labels, matrix):
        total = row.sum()
        cells = []
        for j, v in enumerate(row):
            share = v / total if total else 0.0
            right = lab == labels[j]
            colour = f"rgba(47,143,78,{0.1 + 0.6 * share:.2f})" if right else f"rgba(192,57,43,{0.6 * share:.2f})"
            count = f"{v:.0f}" if float(v).is_integer() else f"{v:.2f}"
            cells.append(f'<td style="background:{colour}">{count}<br><span class="muted">{share:.1%}</span></td>')
        rows.append(f'<tr><th class="t">{html.escape(lab)}</th>{"".join(cells)}</tr>')
    head = "".join(f"<th>{html.escape(lab)}</th>" for lab in labels)
    return (f'<div class="tbl"><table class="cm"><thead><tr><th class="t">true \\ predicted</th>{head}</tr></thead><tbody>{"".join(rows)}</tbody></table></div>'
            + _p(note + " Shares are of each true class (its row)."))


def _label(value) -> str:
    return LABEL_NAMES.get(int(value), str(value))


def wrong_samples(records: pd.DataFrame, thumbs: dict[str, str]) -> str:
    rows = confidently_wrong(records)
    if rows.empty:
        return _p("No sample of the base pass got a wrong binary decision.")
    parts = []
    for dataset, group in rows.groupby("dataset", sort=False):
        figs, plain = [], []
        for r in group.itertuples():
            uri = thumbs.get(thumbnail_key(r.dataset, r.sample_id))
            called = "AI" if r.pred_binary == 1 else "real"
            if uri:
                figs.append(f'<figure><img alt="{html.escape(r.sample_id)}" src="{uri}"><figcaption><b>{html.escape(r.sample_id)}</b><br>'
                            f"{html.escape(_label(r.label))}, called {called}<br>p_ai {r.p_ai:.4f}</figcaption></figure>")
            else:
                plain.append([r.sample_id, _label(r.label), called, r.p_ai])
        parts.append(f"<h3>{html.escape(str(dataset))}</h3>" + (f'<div class="thumbs">{"".join(figs)}</div>' if figs else "")
                     + (table(["sample", "label", "called", "p_ai"], plain) if plain else ""))
    note = "Base pass, status ok, the binary decision wrong, highest |p_ai - 0.5| first" + ("; thumbnails are the exact pixels the model saw." if thumbs else ".")
    return _p(note) + "".join(parts)


def errors(records: pd.DataFrame, limit: int = 50) -> str:
    bad = records[records["status"] != "ok"]
    if bad.empty:
        return _p("No data or model errors: every sample was read, prepared and scored.")
    by = [c for c in ("pass", "status", "error_stage") if c in bad]
    counts = bad.groupby(by, dropna=False).size().reset_index(name="samples")
    summary = table([*by, "samples"], counts.astype(object).where(counts.notna(), None).values.tolist())
    cols = [c for c in ("status", "pass", "dataset", "sample_id", "error_stage", "error") if c in bad]
    rows = bad.head(limit)[cols].astype(object).where(bad.head(limit)[cols].notna(), None).values.tolist()
    more = _p(f"... and {len(bad) - limit} more in records.parquet.") if len(bad) > limit else ""
    return summary + table(cols, rows, cell_classes=["w" if c == "error" else "t" for c in cols]) + more


def trials(found: dict | None) -> str:
    if not found:
        return ""
    md = trials_table(found)
    heads, rows = from_markdown(md.split("\n\n")[0])
    return table(heads, rows) + _p(md.split("\n\n", 1)[1])


def robustness(found: dict | None, overall: dict) -> str:
    if not found:
        return ""
    w = found["weight"]
    heads = ["group", "SN34 base", "SN34 robust", f"SN34 blended ({1 - w:g}/{w:g})", "accuracy base", "accuracy robust", "p(true) drop mean", "p(true) drop p95"]
    ro = found["robust"]["overall"]
    rows = [["overall", found["sn34_base"], found["sn34_robust"], found["sn34_blended"], overall.get("accuracy"), ro.get("accuracy"), found["degradation"]["mean"], found["degradation"]["p95"]]]
    rows += [[d["dataset"], d["sn34_base"], d["sn34_robust"], d["sn34_blended"], d.get("accuracy_base"), d.get("accuracy_robust"), d["degradation"]["mean"], d["degradation"]["p95"]] for d in found["per_dataset"]]
    return table(heads, rows, ["overall"] + [""] * len(found["per_dataset"])) + _p(
        "Every sample scored again after the redistribution chain; the drop is p(true class) base minus robust, per sample. The robust pass's curves are in Curves.")


def throughput(tp: dict | None, env: dict) -> str:
    if not tp:
        return ""
    heads, rows = from_markdown(throughput_table(tp, env))
    return table(heads, rows)


def _flat(d: dict, prefix: str = "") -> list[list]:
    rows = []
    for k, v in d.items():
        if isinstance(v, dict):
            rows += _flat(v, f"{prefix}{k}.")
        else:
            rows.append([f"{prefix}{k}", Raw(f'<span>{html.escape(v if isinstance(v, str) else json.dumps(v, default=str))}</span>')])
    return rows


def environment(doc: dict) -> str:
    kv = [f"<div><h3>{title}</h3>" + table(["key", "value"], _flat(doc[key]), cell_classes=["t", "w"]) + "</div>"
          for title, key in (("Model", "model"), ("Environment", "environment"), ("Preprocessing", "preprocessing"), ("Batches", "pipeline")) if doc.get(key)]
    parts = [f'<div class="kv">{"".join(kv)}</div>', _p(dependence_line(doc.get("batch_dependence")))]
    if doc.get("datasets"):
        rows = [[d["name"], d.get("modality"), d.get("media_type"), json.dumps(d.get("source"), default=str), d.get("weight"), d.get("max_samples")] for d in doc["datasets"]]
        parts.append("<h3>Datasets</h3>" + table(["dataset", "modality", "media type", "source", "weight", "max samples"], rows, cell_classes=["t", "t", "t", "w", "n", "n"]))
    parts.append(f"<details><summary>Resolved configuration</summary><pre>{html.escape(json.dumps(doc.get('config'), indent=2, default=str))}</pre></details>")
    return "".join(parts)


# --------------------------------------------------------------------------- comparison


def compare_html(doc: dict) -> str:
    """A comparison's report from compare.json's document; thumbnails of the disagreeing samples
    come from the compared runs' folders when their results.json name them."""
    names = [r["name"] for r in doc["runs"]]
    subtitle = html.escape(f"{doc['samples']} samples scored by every run; baseline {doc['baseline']}.")
    notes = "".join(_p(n) for n in doc.get("notes") or [])
    sections = [("overall", "Side by side", notes + side_by_side(doc["runs"], doc["paired"]))]
    for n, paired in enumerate(doc["paired"]):
        sections.append((f"paired{n}", f"{paired['name']} against {doc['baseline']}", paired_section(paired, doc["baseline"])))
    sections.append(("disagree", "Where the models disagree most", disagreements(doc.get("disagreements") or [], doc["runs"])))
    return page(f"Comparison: {' vs '.join(names)}", subtitle, sections)


def _with_ci(value, ci) -> Raw:
    return Raw(html.escape(fmt(value)) + (f' <span class="muted">{html.escape(interval(ci))}</span>' if ci else ""))


def side_by_side(runs: list[dict], paired: list[dict]) -> str:
    """One row per metric, one column per model (the baseline first; beside each other model's
    figure its verdict against the baseline): stays narrow for any number of metrics."""
    keys = [k for _, ks in _blocks(lambda k: any(k in r["metrics"] for r in runs)) for k in ks]
    verdicts = {p["name"]: p["metrics"] for p in paired}

    def shown(run: dict, key: str) -> Raw:
        value = _with_ci(run["metrics"].get(key), (run["metrics"].get("ci") or {}).get(key))
        found = verdicts.get(run["name"], {}).get(key)
        return Raw(value + " " + _verdict(found["verdict"])) if found else value

    heads = ["metric", *(r["name"] + (" (baseline)" if i == 0 else "") for i, r in enumerate(runs))]
    rows = [[Raw(f'<span title="{html.escape(LABELS.get(k, (k, ""))[1])}">{html.escape(LABELS.get(k, (k, ""))[0])}</span>'), *(shown(r, k) for r in runs)] for k in keys]
    rows += [["samples/s", *(r.get("samples_per_s") for r in runs)], ["model-only samples/s", *(r.get("model_only_samples_per_s") for r in runs)]]
    classes = ["overall" if k == "sn34" else "" for k in keys] + ["", ""]
    return table(heads, rows, classes, ["t", *["n"] * len(runs)]) + _p(
        "Beside each figure its 95% bootstrap interval on the samples every run scored, and for accuracy, MCC, Brier and SN34 the paired verdict against the baseline.")


def _verdict(v: str) -> Raw:
    kind = {"better": "better", "worse": "worse", "yes": "sig"}.get(v, "same")
    return Raw(f'<span class="verdict {kind}">{html.escape(v)}</span>')


def paired_section(paired: dict, baseline: str) -> str:
    t = paired["mcnemar"]
    line = (f"McNemar exact test on binary correctness: {t['other_only_correct']} samples right only for {paired['name']}, "
            f"{t['baseline_only_correct']} right only for {baseline}, p = {t['p_value']:.4g}.")
    rows = [[k, m["delta"], interval(m["ci"]), _verdict(m["verdict"])] for k, m in paired["metrics"].items()]
    classes = ["t", "n", "n", "t"]
    plot = plots.differences_svg([{"name": paired["name"], "metrics": paired["metrics"]}]) or ""
    drows = [[d["dataset"], d["n"], d["accuracy_baseline"], d["accuracy_other"], d["delta_accuracy"], d.get("delta_mcc"), d["delta_brier"], d["delta_sn34"],
              f"{d['p_value']:.3g}", _verdict("yes" if d["significant"] else "no")] for d in paired["per_dataset"]]
    dheads = ["dataset", "n", "accuracy (baseline)", "accuracy", "difference", "MCC difference", "Brier difference", "SN34 difference", "McNemar p", "significant"]
    return (_p(line) + table(["metric", "difference (this - baseline)", "paired 95% interval", "verdict"], rows, cell_classes=classes) + plot
            + "<h3>Per dataset, largest change first</h3>" + table(dheads, drows, cell_classes=["t", *["n"] * 8, "t"]))


def disagreements(rows: list[dict], runs: list[dict]) -> str:
    """The samples the models disagree on most: as thumbnails with each model's p_ai where the
    runs named thumbnails for them, the others in a table."""
    if not rows:
        return ""
    thumbs = runs_thumbnails([Path(r["folder"]) for r in runs])
    keys = [k for k in rows[0] if k.startswith("p_ai[")]
    figs, plain = [], []
    for d in rows:
        uri = thumbs.get(thumbnail_key(d["dataset"], d["sample_id"]))
        if uri:
            ps = "".join(f'<span class="p"><span>{html.escape(k[5:-1])}</span>{_p_cell(d[k], d["label"])}</span>' for k in keys)
            figs.append(f'<figure><img alt="{html.escape(d["sample_id"])}" src="{uri}"><figcaption><b>{html.escape(d["sample_id"])}</b><br>'
                        f'{html.escape(d["dataset"])}, {html.escape(_label(d["label"]))}<br>{ps}</figcaption></figure>')
        else:
            plain.append([d["dataset"], d["sample_id"], _label(d["label"]), d["spread"], *(_p_cell(d[k], d["label"]) for k in keys)])
    heads = ["dataset", "sample", "label", "spread", *keys]
    return (_p("Largest spread of p_ai between the models first; p_ai on the wrong side of 0.5 in red. Thumbnails: the pixels the models saw.")
            + (f'<div class="thumbs">{"".join(figs)}</div>' if figs else "") + (table(heads, plain, cell_classes=["t", "t", "t", *["n"] * (1 + len(keys))]) if plain else ""))


def _p_cell(p: float, label: int) -> Raw:
    wrong = (p > 0.5) != (label != 0)
    return Raw(f'<span class="{"bad" if wrong else "good"}">{html.escape(fmt(p))}</span>')
