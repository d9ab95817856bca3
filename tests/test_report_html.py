"""report.html: thumbnails of the exact pixels the model saw, the confidently wrong picks, and
the run and comparison reports rendered in a real headless Chromium, offline."""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import tempfile
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import cv2
import numpy as np
import onnx
import pandas as pd
import pytest
from onnx import TensorProto, helper, numpy_helper

from bench import modalities
from bench.comparison import compare, load_run, write_compare
from bench.config import load_config
from bench.data.registry import iter_samples
from bench.preprocess import Views
from bench.report.html import run_html
from bench.report.thumbnails import inline_thumbnails, pick_confidently_wrong, thumbnails_json
from bench.results import write_json, write_text
from bench.scoring import load_models, open_datasets, resolve_views, run_all
from bench.thumbnails import write_thumbnails
from tests import models
from tests.test_run import make_project, random_images

SHOTS = Path(os.environ.get("BENCH_REPORT_SHOTS", "/tmp/report-shots"))


def _view_and_specs(cfg):
    runtimes = load_models(cfg)
    modality = modalities.get(runtimes[0].spec.modality)
    views, _ = resolve_views(cfg, modality, runtimes[:1])
    return views[0], open_datasets(cfg, modality.name).specs


def build_runs(tmp: Path) -> dict:
    """Two models on three datasets (one with an unreadable file), with robustness and batch
    trials; thumbnails of each run's confidently wrong samples and of the disagreements, as the
    scoring run names them in results.json; the comparison of both."""
    a = models.save(models.linear_logits(3, 24, 24), tmp / "alpha.onnx")
    b = models.save(models.linear_logits(3, 24, 24, bias=[1.2, -1.2, -1.0]), tmp / "beta.onnx")
    data = {
        "reals": ("real", random_images(24, 1, 20, 160)),
        "fakes": ("synthetic", random_images(20, 2, 80, 240)),
        "semis": ("semisynthetic", random_images(10, 3, 60, 220)),
    }
    path = make_project(tmp, data, a, batch_size=8, robustness=True, batch_trials=2, augment_level=1, cache=False)
    (tmp / "media" / "reals" / "broken.png").write_bytes(b"\x89PNG not really")
    cfg = load_config(path, {"model": [str(a), str(b)], "output": str(tmp / "out")})
    results = run_all(cfg)
    assert all("<svg" in (r.folder / "report.html").read_text() for r in results)  # ModelResult.save writes it (no thumbnails yet)
    view, specs = _view_and_specs(cfg)
    runs = [load_run(r.folder) for r in results]
    doc = compare(runs, n_boot=100, top=8)
    disagree = [(d["dataset"], d["sample_id"]) for d in doc["disagreements"]]
    folders = []
    for result in results:
        picks = pick_confidently_wrong(result.records)
        mapping = write_thumbnails(cfg, view, specs, picks + disagree, result.folder)
        run_doc = result.to_json() | {"thumbnails": thumbnails_json(mapping)}
        write_json(result.folder / "results.json", run_doc)
        write_text(result.folder / "report.html", run_html(run_doc, result.records, result.folder))
        folders.append(result.folder)
    write_compare(doc, tmp / "compare")
    return {"cfg": cfg, "view": view, "specs": specs, "folders": folders, "compare": tmp / "compare", "doc": doc}


@pytest.fixture(scope="module")
def built(tmp_path_factory):
    return build_runs(tmp_path_factory.mktemp("report"))


# --------------------------------------------------------------------------- thumbnails


def test_pick_confidently_wrong_orders_by_confidence_per_dataset():
    records = pd.DataFrame({
        "dataset": ["x"] * 5 + ["y"] * 3 + ["x"],
        "sample_id": [f"s{i}" for i in range(9)],
        "label": [0, 0, 0, 1, 0, 2, 2, 1, 0],
        "p_ai": [0.9, 0.6, 0.99, 0.1, 0.2, 0.05, 0.3, 0.9, 0.97],
        "pred_binary": [1, 1, 1, 0, 0, 0, 0, 1, 1],
        "status": ["ok"] * 8 + ["model_error"],
        "pass": ["base"] * 7 + ["robust", "base"],
    })
    assert pick_confidently_wrong(records, per_dataset=2) == [("x", "s2"), ("x", "s0"), ("y", "s5"), ("y", "s6")]
    assert pick_confidently_wrong(records, per_dataset=6) == [("x", "s2"), ("x", "s0"), ("x", "s3"), ("x", "s1"), ("y", "s5"), ("y", "s6")]
    assert pick_confidently_wrong(records.iloc[0:0]) == []


def corner_pixels(h: int = 24, w: int = 24) -> onnx.ModelProto:
    """logits = the red values of the input's pixels (0, 0), (0, 1), (0, 2): shows the model's
    exact crop, flips included."""
    x = helper.make_tensor_value_info("image", TensorProto.UINT8, ["batch", 3, h, w])
    y = helper.make_tensor_value_info("logits", TensorProto.FLOAT, ["batch", 3])
    const = lambda name, v: numpy_helper.from_array(np.array(v, dtype=np.int64), name)  # noqa: E731
    nodes = [
        helper.make_node("Slice", ["image", "starts", "ends", "axes"], ["s"]),
        helper.make_node("Flatten", ["s"], ["f"], axis=1),
        helper.make_node("Cast", ["f"], ["logits"], to=TensorProto.FLOAT),
    ]
    return models._model(nodes, [x], [y], [const("starts", [0, 0, 0]), const("ends", [1, 1, 3]), const("axes", [1, 2, 3])])


def test_thumbnails_are_the_exact_pixels_the_model_saw(tmp_path):
    """A model whose logits are three pixels of its input, on images with random content and
    random flips (augmentation level 1): every thumbnail holds exactly those pixels, and is
    exactly what ``Views`` prepares for the sample."""
    model = models.save(corner_pixels(), tmp_path / "corner.onnx")
    path = make_project(tmp_path, {"mixed": ("real", random_images(10, 7)), "odd": ("synthetic", random_images(4, 8))}, model, augment_level=1, batch_size=4)
    (tmp_path / "media" / "odd" / "broken.png").write_bytes(b"\x89PNG not really")
    cfg = load_config(path, {"output": str(tmp_path / "out")})
    result = run_all(cfg)[0]
    view, specs = _view_and_specs(cfg)
    records = result.records
    picks = [(r.dataset, r.sample_id) for r in records.itertuples()] + [("odd", "no-such.png")]
    mapping = write_thumbnails(cfg, view, specs, picks, tmp_path / "t", size=128)
    assert set(mapping) == {(r.dataset, r.sample_id) for r in records.itertuples() if r.status == "ok"}  # broken and unknown left out
    assert ("odd", "broken.png") in picks[:-1]
    flipped = 0
    refs = {(ref.dataset, ref.sample_id): ref for spec in specs for ref in iter_samples(spec)}
    for r in records[records["status"] == "ok"].itertuples():
        rel = mapping[(r.dataset, r.sample_id)]
        assert rel.startswith("thumbs/") and rel.endswith(".png")
        png = cv2.cvtColor(cv2.imread(str(tmp_path / "t" / rel)), cv2.COLOR_BGR2RGB)
        assert png.shape == (24, 24, 3)  # the model's 24x24 input, at its own pixels
        np.testing.assert_array_equal(png[0, 0:3, 0], np.asarray(r.logits))  # what the model saw
        slot = np.zeros(view.batch_shape(1)[1:], np.uint8)
        Views([view])(refs[(r.dataset, r.sample_id)], [slot])
        np.testing.assert_array_equal(png, slot.transpose(1, 2, 0))
        plain = cv2.cvtColor(cv2.imread(str(tmp_path / "media" / r.dataset / r.sample_id)), cv2.COLOR_BGR2RGB)
        flipped += not np.array_equal(png, view.fit_one(plain))
    assert flipped > 0  # the augmentation is in the thumbnails
    small = write_thumbnails(cfg, view, specs, picks[:1], tmp_path / "t", size=12)
    assert cv2.imread(str(tmp_path / "t" / small[picks[0]])).shape == (12, 12, 3)
    assert write_thumbnails(cfg, view, specs, [], tmp_path / "t") == {}


# --------------------------------------------------------------------------- the pages


def _chromium() -> str | None:
    for name in ("/usr/bin/chromium", "chromium", "chromium-browser"):
        found = shutil.which(name)
        if found:
            return found
    return None


FLAGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run", "--disable-background-networking",
         "--disable-component-update", "--disable-sync", "--disable-extensions", "--host-resolver-rules=MAP * ~NOTFOUND",
         "--window-size=1366,900", "--hide-scrollbars"]


def _chrome(binary: str, page: Path, *extra: str) -> subprocess.CompletedProcess:
    profile = tempfile.mkdtemp(prefix="chromium-")
    try:
        return subprocess.run([binary, *FLAGS, f"--user-data-dir={profile}", *extra, page.as_uri()], capture_output=True, text=True, timeout=60)
    finally:
        shutil.rmtree(profile, ignore_errors=True)


def _render(binary: str, page: Path, shot: Path, netlog: Path) -> tuple[str, np.ndarray, dict]:
    """The DOM after load, a 1366-wide screenshot, and the network log of the screenshot run."""
    with ThreadPoolExecutor(2) as pool:
        dom = pool.submit(_chrome, binary, page, "--dump-dom")
        png = pool.submit(_chrome, binary, page, f"--screenshot={shot}", f"--log-net-log={netlog}")
        dom, png = dom.result(), png.result()
    assert dom.returncode == 0 and "<table" in dom.stdout, dom.stderr[-2000:]
    assert png.returncode == 0 and shot.is_file(), png.stderr[-2000:]
    image = cv2.imread(str(shot))
    return dom.stdout, image, json.loads(netlog.read_text() or "{}") if netlog.is_file() else {}


def _offline(text: str) -> None:
    """No way for the page to ask for anything: no link, no script, no URL in an attribute."""
    assert "<link" not in text.lower() and "<script" not in text.lower() and "<iframe" not in text.lower()
    attrs = re.findall(r"""(?:src|href|xlink:href|action|poster|data)\s*=\s*["']([^"']*)["']""", text, flags=re.I)
    assert attrs and all(a.startswith(("#", "data:image/png;base64,")) for a in attrs), sorted({a[:40] for a in attrs})
    assert not re.search(r"url\(\s*['\"]?(?!#|data:)", text), "a CSS url() that is not local"
    assert "@import" not in text
    tags = re.sub(r">[^<]*<", "><", text)  # the markup without its text
    assert "http://" not in tags and "https://" not in tags


def _requests(netlog: dict) -> list[str]:
    """Every URL the page asked for. Chromium's own background requests (network time,
    component updates, accounts: they fail here, every host maps to NOTFOUND) have no
    initiator (``not an origin``); the page's have its origin (``null`` for a file)."""
    urls = set()
    for event in netlog.get("events", []):
        params = event.get("params") or {}
        if "url" in params and "initiator" in params and params["initiator"] != "not an origin":
            urls.add(params["url"])
    return sorted(u for u in urls if not u.startswith(("file:", "data:")))


def test_request_detector_sees_a_page_request(tmp_path):
    """The net-log check above is not blind: a page with one remote image and one remote
    stylesheet shows both."""
    if _chromium() is None:
        pytest.skip("no Chromium (apt-get install chromium)")
    page = tmp_path / "remote.html"
    page.write_text('<html><body><img src="http://example.invalid/x.png"><link rel="stylesheet" href="https://fonts.example.invalid/a.css"></body></html>')
    log = tmp_path / "netlog.json"
    _chrome(_chromium(), page, f"--screenshot={tmp_path / 'x.png'}", f"--log-net-log={log}")
    assert _requests(json.loads(log.read_text())) == ["http://example.invalid/x.png", "https://fonts.example.invalid/a.css"]


def _check_not_blank(image: np.ndarray, name: str) -> None:
    assert image is not None and image.shape[1] == 1366, None if image is None else image.shape
    SHOTS.mkdir(parents=True, exist_ok=True)
    cv2.imwrite(str(SHOTS / name), image)
    assert image.std() > 20, f"{name} looks blank (pixel std {image.std():.1f})"
    assert len(np.unique(image.reshape(-1, 3)[::7], axis=0)) > 50  # text, plots and photos, not a flat page


def _page_width(binary: str, page: Path) -> int:
    """The laid-out page's scroll width at 1366 px (probed with a copy that writes it into its title)."""
    probe = page.with_name(".width-probe.html")
    probe.write_text(page.read_text().replace("</body>", "<script>document.title='W'+document.documentElement.scrollWidth</script></body>"))
    try:
        out = _chrome(binary, probe, "--dump-dom").stdout
    finally:
        probe.unlink()
    return int(re.search(r"<title>W(\d+)</title>", out).group(1))


@pytest.mark.skipif(_chromium() is None, reason="no Chromium (apt-get install chromium)")
def test_run_report_in_headless_chromium(built, tmp_path):
    folder = built["folders"][0]
    page = folder / "report.html"
    text = page.read_text()
    _offline(text)
    dom, image, netlog = _render(_chromium(), page, tmp_path / "run.png", tmp_path / "run-netlog.json")
    for anchor in ("headline", "groups", "curves", "confusion", "wrong", "errors", "trials", "robustness", "throughput", "environment"):
        assert f'id="{anchor}"' in dom, anchor
    assert dom.count("<svg") >= 3 and "ROC curve" in dom and "reliability diagram" in dom and "precision-recall curve" in dom
    assert dom.count("<table") >= 6 and "fakes" in dom and "broken.png" in dom  # per dataset, the data error
    doc = json.loads((folder / "results.json").read_text())
    assert doc["thumbnails"] and dom.count('src="data:image/png;base64,') >= len(pick_confidently_wrong(pd.read_parquet(folder / "records.parquet")))
    assert f"{doc['metrics']['overall']['sn34']:.4f}" in dom
    assert _requests(netlog) == []
    _check_not_blank(image, "run-report.png")
    assert _page_width(_chromium(), page) <= 1366  # nothing makes the page scroll sideways


@pytest.mark.skipif(_chromium() is None, reason="no Chromium (apt-get install chromium)")
def test_comparison_report_in_headless_chromium(built, tmp_path):
    page = built["compare"] / "report.html"
    text = page.read_text()
    _offline(text)
    dom, image, netlog = _render(_chromium(), page, tmp_path / "cmp.png", tmp_path / "cmp-netlog.json")
    assert "Side by side" in dom and "paired differences" in dom and "McNemar" in dom and dom.count("<table") >= 3
    assert 'class="verdict' in dom
    disagreements = built["doc"]["disagreements"]
    assert disagreements and dom.count('src="data:image/png;base64,') == len(disagreements)
    assert _requests(netlog) == []
    _check_not_blank(image, "compare-report.png")
    assert _page_width(_chromium(), page) <= 1366


def test_report_without_thumbnails_and_without_optional_sections(built, tmp_path):
    """An older results.json (no thumbnails, no robustness, no trials, no new metric keys)
    still renders: the samples as a table, '-' where a figure is missing."""
    folder = built["folders"][0]
    doc = json.loads((folder / "results.json").read_text())
    for key in ("thumbnails", "robustness", "batch_trials", "batch_dependence", "pipeline"):
        doc.pop(key, None)
    doc["metrics"]["overall"].pop("roc_auc", None)
    doc["metrics"]["confusion"] = None
    records = pd.read_parquet(folder / "records.parquet")
    records = records[records["pass"] == "base"].drop(columns="pass")
    text = run_html(doc, records, None)
    assert "data:image/png" not in text and 'id="robustness"' not in text and 'id="trials"' not in text
    assert 'id="wrong"' in text and "true \\ predicted" in text and "<svg" in text
    _offline(text)


@pytest.mark.skipif(_chromium() is None, reason="no Chromium (apt-get install chromium)")
def test_long_and_hostile_names_neither_widen_the_page_nor_inject(built, tmp_path):
    """Unbreakable dataset names, sample ids and settings of 200 characters stay inside the
    page's 1366 pixels (tables scroll in their box); a sample id full of markup stays text."""
    folder = built["folders"][0]
    doc = json.loads((folder / "results.json").read_text())
    records = pd.read_parquet(folder / "records.parquet")
    long = "x" * 200
    hostile = '<img src=x onerror=alert(1)>"https://evil.example/' + long
    wrong = pick_confidently_wrong(records)[0]
    records.loc[(records["dataset"] == wrong[0]) & (records["sample_id"] == wrong[1]), "sample_id"] = hostile
    records["dataset"] = records["dataset"].map(lambda d: d + long)
    for group in doc["metrics"]["per_dataset"]:
        group["dataset"] += long
    doc["environment"]["device"] = long
    doc.pop("thumbnails")
    page = tmp_path / "report.html"
    page.write_text(run_html(doc, records, folder))
    text = page.read_text()
    assert "<img src=x" not in text and "&lt;img src=x onerror=alert(1)&gt;" in text
    _offline(text)
    assert _page_width(_chromium(), page) <= 1366


def test_inline_thumbnails_read_only_pngs_under_thumbs(tmp_path):
    """A results.json from elsewhere cannot pull other files into a report: only PNGs under the
    run's thumbs/ are inlined."""
    (tmp_path / "thumbs").mkdir()
    ok, png = cv2.imencode(".png", np.zeros((4, 4, 3), np.uint8))
    (tmp_path / "thumbs" / "a.png").write_bytes(png.tobytes())
    (tmp_path / "thumbs" / "fake.png").write_text("not a png")
    (tmp_path / "secret.png").write_bytes(png.tobytes())
    mapping = {"d/a": "thumbs/a.png", "d/up": "thumbs/../secret.png", "d/abs": str(tmp_path / "secret.png"), "d/fake": "thumbs/fake.png",
               "d/missing": "thumbs/none.png", "d/odd": 3}
    assert list(inline_thumbnails(mapping, tmp_path)) == ["d/a"]
    assert inline_thumbnails(mapping, None) == {}


def test_to_hwc_takes_chw_and_the_first_frame_of_tchw():
    from bench.thumbnails import to_hwc

    chw = np.arange(2 * 3 * 4 * 5).reshape(2, 3, 4, 5).astype(np.uint8)
    assert to_hwc(chw[0]).shape == (4, 5, 3) and to_hwc(chw).shape == (4, 5, 3)
    np.testing.assert_array_equal(to_hwc(chw), chw[0].transpose(1, 2, 0))
    np.testing.assert_array_equal(to_hwc(chw.astype(np.float32)), chw[0].transpose(1, 2, 0))
