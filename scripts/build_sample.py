"""Rebuild the bundled image sample ``data/sample/`` from media shipped inside PyPI wheels.

Deterministic: pinned wheel versions, fixed seeds, fixed JPEG settings. The wheels are fetched with
``python -m pip download --no-deps --only-binary=:all:`` into a temporary folder (or taken from
``--wheels DIR`` when already downloaded) and read with ``zipfile``; nothing is installed.

    python scripts/build_sample.py            # writes data/sample/{real,synthetic,semisynthetic}/

Folders (labels follow the folder name):
- ``real/``: crops of colour photographs from scikit-image, scikit-learn and matplotlib.
- ``synthetic/``: all 60 AI-generated images of the ``openpeople`` package.
- ``semisynthetic/``: other crops of the same real photographs with an AI-generated region (a face or
  a piece of scene from an ``openpeople`` image) blended in through a feathered elliptical mask.
"""

from __future__ import annotations

import shutil
from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np

try:
    from . import common  # imported as scripts.build_sample
except ImportError:  # run as python scripts/build_sample.py: scripts/ is on sys.path
    import common

ROOT = Path(__file__).resolve().parent.parent
OUT = ROOT / "data" / "sample"

# Exact versions: the sample must not change when a package publishes a new release.
PINS = {
    "scikit-image": "0.26.0",
    "scikit-learn": "1.9.1",
    "matplotlib": "3.11.2",
    "openpeople": "0.1.2",
}

MAX_SIDE = 512
JPEG_QUALITY = 90
SEED = 20240611
REAL_CROPS = 4  # crop 0 is the whole frame, 1..3 are random windows
SEMI_CROPS = 3  # crops REAL_CROPS .. REAL_CROPS+SEMI_CROPS-1, chosen to overlap the real ones little


@dataclass(frozen=True)
class Photo:
    name: str  # stem of the output files
    package: str
    member: str  # path inside the wheel
    licence: str  # as stated in the file quoted in ``licence_source``
    licence_source: str


SK = "skimage/data/_fetchers.py (docstring of the loader function)"
REAL_PHOTOS = [
    Photo(
        "astronaut",
        "scikit-image",
        "skimage/data/astronaut.png",
        'NASA photograph of Eileen Collins: "No known copyright restrictions, released into the public domain."',
        SK,
    ),
    Photo(
        "chelsea",
        "scikit-image",
        "skimage/data/chelsea.png",
        '"No copyright restrictions. CC0 by the photographer (Stefan van der Walt)."',
        SK,
    ),
    Photo(
        "coffee",
        "scikit-image",
        "skimage/data/coffee.png",
        '"No copyright restrictions. CC0 by the photographer (Rachel Michetti)." (courtesy of Pikolo Espresso Bar)',
        SK,
    ),
    Photo(
        "rocket",
        "scikit-image",
        "skimage/data/rocket.jpg",
        'SpaceX launch photo of DSCOVR on Falcon 9, "released in the public domain" by SpaceX',
        SK,
    ),
    Photo(
        "hubble_deep_field",
        "scikit-image",
        "skimage/data/hubble_deep_field.jpg",
        'Hubble eXtreme Deep Field, captured by NASA, "may be freely used in the public domain"',
        SK,
    ),
    Photo(
        "immunohistochemistry",
        "scikit-image",
        "skimage/data/ihc.png",
        'IHC micrograph acquired at CMMI: "No known copyright restrictions."',
        SK,
    ),
    Photo(
        "retina",
        "scikit-image",
        "skimage/data/retina.jpg",
        'Fundus photograph (Mikael Häggström, Wikimedia Commons): "Creative Commons CC0 1.0 Universal Public Domain Dedication"',
        SK,
    ),
    Photo(
        "motorcycle_left",
        "scikit-image",
        "skimage/data/motorcycle_left.png",
        "Middlebury 2014 stereo benchmark (Scharstein et al.), down-sampled. The docstring states NO licence for "
        "the image itself; it is distributed inside the BSD-3-Clause scikit-image wheel",
        SK,
    ),
    Photo(
        "motorcycle_right",
        "scikit-image",
        "skimage/data/motorcycle_right.png",
        "as motorcycle_left (no licence statement for the image itself)",
        SK,
    ),
    Photo(
        "china",
        "scikit-learn",
        "sklearn/datasets/images/china.jpg",
        "Creative Commons, https://creativecommons.org/licenses/by/2.0/ (CC BY 2.0); attribution "
        '"Some rights reserved by danielbuechele", https://www.flickr.com/photos/danielbuechele/6061409035/',
        "sklearn/datasets/images/README.txt",
    ),
    Photo(
        "flower",
        "scikit-learn",
        "sklearn/datasets/images/flower.jpg",
        "Creative Commons, https://creativecommons.org/licenses/by/2.0/ (CC BY 2.0); the README's attribution line "
        'says "danielbuechele" but its links point to https://www.flickr.com/photos/vultilion/6056698931/',
        "sklearn/datasets/images/README.txt",
    ),
    Photo(
        "grace_hopper",
        "matplotlib",
        "matplotlib/mpl-data/sample_data/grace_hopper.jpg",
        "NO licence statement for the photograph in the wheel (sample_data/README.txt only says it is sample data "
        "for matplotlib's examples); it is distributed under the matplotlib licence (PSF-style, dist-info/LICENSE)",
        "matplotlib/mpl-data/sample_data/README.txt, matplotlib-3.11.2.dist-info/LICENSE",
    ),
]

OPENPEOPLE_ASSETS = [
    "studio_portrait",
    "studio_posture",
    "character_sheet",
    "emotions_sheet",
    "amateur_selfie",
    "amateur_posture",
]

# AI regions for semisynthetic samples, as fractions (x0, y0, x1, y1) of the openpeople image.
# studio_portrait is a centred head shot (the prompt asks for 10% padding above the face), so a fixed box
# holds the face; amateur_posture is a full-body outdoor shot whose upper-left quarter is scenery.
AI_REGIONS = {
    "studio_portrait": common.OPENPEOPLE_FACE_BOX,
    "amateur_posture": (0.02, 0.04, 0.40, 0.36),
}


def limit_size(image: np.ndarray) -> np.ndarray:
    h, w = image.shape[:2]
    scale = MAX_SIDE / max(h, w)
    if scale >= 1:
        return image
    size = (max(1, round(w * scale)), max(1, round(h * scale)))
    return cv2.resize(image, size, interpolation=cv2.INTER_AREA)


def write_jpeg(path: Path, image: np.ndarray) -> None:
    ok, buf = cv2.imencode(".jpg", image, [cv2.IMWRITE_JPEG_QUALITY, JPEG_QUALITY])
    if not ok:
        raise SystemExit(f"JPEG encoding failed for {path}")
    path.write_bytes(buf.tobytes())


def iou(a: tuple[int, int, int, int], b: tuple[int, int, int, int]) -> float:
    ax0, ay0, aw, ah = a
    bx0, by0, bw, bh = b
    ix = max(0, min(ax0 + aw, bx0 + bw) - max(ax0, bx0))
    iy = max(0, min(ay0 + ah, by0 + bh) - max(ay0, by0))
    inter = ix * iy
    return inter / (aw * ah + bw * bh - inter)


def crop_windows(name: str, h: int, w: int, count: int) -> list[tuple[int, int, int, int]]:
    """``count`` windows ``(x, y, width, height)``: the whole frame first, then random windows of 55-90% of
    each side, each drawn (best of 200 candidates) to overlap the earlier ones as little as possible."""
    rng = common.rng_for(SEED, "crops", name)
    windows = [(0, 0, w, h)]
    while len(windows) < count:
        best, best_overlap = None, 2.0
        for _ in range(200):
            s = rng.uniform(0.55, 0.9)
            aspect = rng.uniform(0.85, 1.15)
            cw = int(min(w, max(64, round(w * s * aspect))))
            ch = int(min(h, max(64, round(h * s / aspect))))
            x = int(rng.integers(0, w - cw + 1))
            y = int(rng.integers(0, h - ch + 1))
            cand = (x, y, cw, ch)
            overlap = max(iou(cand, other) for other in windows)
            if overlap < best_overlap:
                best, best_overlap = cand, overlap
        windows.append(best)
    return windows


def composite(
    background: np.ndarray, donor: np.ndarray, region: tuple[float, float, float, float], seed: int
) -> tuple[np.ndarray, dict]:
    """Blend ``region`` of ``donor`` into ``background`` at a seeded size and position."""
    rng = np.random.default_rng(seed)
    bh, bw = background.shape[:2]
    frac = rng.uniform(0.35, 0.6)  # patch height as a fraction of the background's shorter side
    patch = common.paste_patch(donor, region, bh, bw, frac)
    ph, pw = patch.shape[:2]
    px = int(rng.integers(0, bw - pw + 1))
    py = int(rng.integers(0, bh - ph + 1))
    alpha = common.feathered_ellipse(ph, pw)[..., None]
    out = background.astype(np.float32)
    window = out[py : py + ph, px : px + pw]
    out[py : py + ph, px : px + pw] = alpha * patch.astype(np.float32) + (1.0 - alpha) * window
    info = {"x": px, "y": py, "w": pw, "h": ph, "area": float(alpha.sum()) / (bh * bw)}
    return np.clip(np.rint(out), 0, 255).astype(np.uint8), info


def build(wheel_dir: Path) -> dict:
    wheels, zips = common.open_wheels(wheel_dir, PINS)
    if OUT.exists():
        for sub in ("real", "synthetic", "semisynthetic"):
            shutil.rmtree(OUT / sub, ignore_errors=True)
    for sub in ("real", "synthetic", "semisynthetic"):
        (OUT / sub).mkdir(parents=True, exist_ok=True)

    provenance: dict = {"real": [], "synthetic": [], "semisynthetic": [], "sources": []}

    # Synthetic: every JPEG of openpeople's curated people, re-encoded like the others.
    op = zips["openpeople"]
    people = common.openpeople_people(op)
    generators = {}
    for person in people:
        generators[person] = common.openpeople_generator(op, person)
        for asset in OPENPEOPLE_ASSETS:
            member = common.openpeople_asset(person, asset)
            data = op.read(member)
            image = limit_size(common.decode_bgr(data))
            name = f"{person}_{asset}.jpg"
            write_jpeg(OUT / "synthetic" / name, image)
            provenance["synthetic"].append(
                {
                    "file": f"synthetic/{name}",
                    "source": member,
                    "source_sha256": common.sha256(data),
                    "generator": generators[person],
                }
            )

    donors = [(person, asset) for asset in AI_REGIONS for person in people]  # 20 donors, cycled

    semi_index = 0
    for photo in REAL_PHOTOS:
        data = zips[photo.package].read(photo.member)
        image = common.decode_bgr(data)
        h, w = image.shape[:2]
        provenance["sources"].append(
            {
                "name": photo.name,
                "package": photo.package,
                "version": PINS[photo.package],
                "member": photo.member,
                "size": f"{w}x{h}",
                "sha256": common.sha256(data),
                "licence": photo.licence,
                "licence_source": photo.licence_source,
            }
        )
        windows = crop_windows(photo.name, h, w, REAL_CROPS + SEMI_CROPS)
        for k, (x, y, cw, ch) in enumerate(windows):
            crop = limit_size(image[y : y + ch, x : x + cw])
            name = f"{photo.name}_{k}.jpg"
            entry = {"crop": [x, y, cw, ch], "source": photo.member}
            if k < REAL_CROPS:
                write_jpeg(OUT / "real" / name, crop)
                provenance["real"].append({"file": f"real/{name}", **entry})
                continue
            person, asset = donors[(semi_index * 7) % len(donors)]
            semi_index += 1
            donor = common.decode_bgr(op.read(common.openpeople_asset(person, asset)))
            seed = common.stable_seed(SEED, "paste", photo.name, k)
            mixed, placed = composite(crop, donor, AI_REGIONS[asset], seed)
            write_jpeg(OUT / "semisynthetic" / name, mixed)
            provenance["semisynthetic"].append(
                {
                    "file": f"semisynthetic/{name}",
                    **entry,
                    "ai_region_from": f"{person}/{asset}",
                    "pasted_at": placed,
                }
            )
    provenance["generators"] = sorted(set(generators.values()))
    provenance["wheels"] = wheels
    return provenance


def write_docs(prov: dict) -> None:
    counts = {k: len(prov[k]) for k in ("real", "synthetic", "semisynthetic")}
    gen = ", ".join(prov["generators"])
    lines = common.wheels_header("# Attribution of the bundled sample", "image", prov["wheels"], PINS)
    lines += [
        "",
        "Package licences, as read from the wheels' own metadata:",
        "",
        "- scikit-image 0.26.0: BSD-3-Clause (`scikit_image-0.26.0.dist-info/LICENSE.txt`, `Files: *`).",
        "- scikit-learn 1.9.1: BSD-3-Clause (`scikit_learn-1.9.1.dist-info/METADATA`, `License-Expression`; text in",
        "  `licenses/COPYING`).",
        '- matplotlib 3.11.2: "License agreement for matplotlib versions 1.3.0 and later" (PSF-style;',
        "  `matplotlib-3.11.2.dist-info/LICENSE`).",
        '- openpeople 0.1.2: MIT, "Copyright (c) 2026 Prompt Haus" (`openpeople-0.1.2.dist-info/licenses/LICENSE`,',
        "  `License-Expression: MIT` in `METADATA`).",
        "",
        "## Real photographs (`real/`, and the backgrounds of `semisynthetic/`)",
        "",
        'The licence column quotes the file named in the last column; "SK" means the docstring of the',
        "loader function in `skimage/data/_fetchers.py` (the wheel's `skimage/data/README.txt` has no licence",
        "information).",
        "",
        "| sample files | source file | package | size | licence (as stated) | read in |",
        "|---|---|---|---|---|---|",
    ]
    for s in prov["sources"]:
        where = "SK" if s["licence_source"] == SK else f"`{s['licence_source']}`"
        lines.append(
            f"| `{s['name']}_*.jpg` | `{s['member']}` | {s['package']} {s['version']} | {s['size']} | "
            f"{s['licence']} | {where} |"
        )
    lines += [
        "",
        "Caveats: the scikit-image docstring of `stereo_motorcycle` names the source (Middlebury 2014 stereo",
        "benchmark) but states no licence for the images, and the matplotlib wheel states no licence for",
        "`grace_hopper.jpg` beyond the package licence. The two flickr photos of scikit-learn are CC BY 2.0:",
        "redistribution needs the attribution above. Drop those photos from `REAL_PHOTOS` in",
        "`scripts/build_sample.py` if that is not acceptable for your use.",
        "",
        "## AI-generated images (`synthetic/`, and the pasted regions of `semisynthetic/`)",
        "",
        "Source: `openpeople/data/curated/P*/assets/*.jpg` in openpeople 0.1.2 (MIT, see above): 10 fictional",
        f"people x 6 assets. Generator, from each `openpeople/data/curated/P*/metadata.json` (`generated_with`): "
        f"**{gen}**",
        '(the package README says "Gemini 3 Pro image generation"); prompts are in',
        '`openpeople/data/prompts/prompts.json`. The package README states: "All people in this library are',
        'entirely synthetic. They do not represent real individuals".',
        "",
        *common.CHECKSUMS_HEADER,
    ]
    for s in prov["sources"]:
        lines.append(f"- `{s['member']}`: `{s['sha256']}`")
    for s in prov["synthetic"]:
        lines.append(f"- `{s['source']}`: `{s['source_sha256']}`")
    (OUT / "ATTRIBUTION.md").write_text("\n".join(lines) + "\n")

    readme = [
        "# Bundled image sample",
        "",
        "A small, labelled image set for smoke tests and demos of the harness. Labels are the folder names",
        "(SPEC section 3: `real = 0`, `synthetic = 1`, `semisynthetic = 2`). Sources and licences:",
        "[ATTRIBUTION.md](ATTRIBUTION.md).",
        "",
        "| folder | files | what |",
        "|---|---|---|",
        f"| `real/` | {counts['real']} | {REAL_CROPS} crops of each of {len(REAL_PHOTOS)} colour photographs bundled with "
        "scikit-image, scikit-learn and matplotlib: `<photo>_0.jpg` is the whole frame, `_1`..`_3` are seeded "
        "random windows of 55-90% of each side |",
        f"| `synthetic/` | {counts['synthetic']} | every image of the `openpeople` package (10 fictional people x "
        f"6 assets: studio portrait and posture, character and emotion sheets, amateur selfie and full-body "
        f"photo), generated with {gen}; `<person>_<asset>.jpg` |",
        f"| `semisynthetic/` | {counts['semisynthetic']} | {SEMI_CROPS} further crops of each real photograph "
        f"(`<photo>_{REAL_CROPS}.jpg`..`_{REAL_CROPS + SEMI_CROPS - 1}.jpg`, windows chosen to overlap the real "
        "crops as little as possible) with one AI-generated region blended in |",
        "",
        "## How semisynthetic samples are made",
        "",
        "1. Crop the real photograph (seeded window) and downscale it like the real samples.",
        "2. Take a region of an openpeople image, cycling over 20 donors: the face box of a `studio_portrait`",
        "   (x 27-73%, y 14-68% of the frame) or a piece of outdoor scenery from the upper-left of an",
        "   `amateur_posture` (x 2-40%, y 4-36%).",
        "3. Resize it (INTER_AREA) so its height is 35-60% of the crop's shorter side, place it at a seeded",
        "   position, and blend it through an elliptical mask (ellipse 84% of the box, Gaussian-feathered,",
        "   sigma 6% of the patch's shorter side): `out = a * patch + (1 - a) * photo`.",
        "4. Encode as JPEG like everything else.",
        "",
        "| file | AI region from | crop (x, y, w, h) in the source | pasted at (x, y, w, h) |",
        "|---|---|---|---|",
    ]
    for s in prov["semisynthetic"]:
        p = s["pasted_at"]
        readme.append(
            f"| `{s['file']}` | openpeople `{s['ai_region_from']}` | {tuple(s['crop'])} | "
            f"({p['x']}, {p['y']}, {p['w']}, {p['h']}) |"
        )
    areas = [s["pasted_at"]["area"] for s in prov["semisynthetic"]]
    readme += [
        "",
        f"The blended region (sum of the mask) covers {100 * min(areas):.0f}-{100 * max(areas):.0f}% of the frame "
        f"(median {100 * float(np.median(areas)):.0f}%).",
        "",
        "## Encoding (all three folders)",
        "",
        f"Longest side at most {MAX_SIDE} px (OpenCV `INTER_AREA` downscale, never upscaled), then JPEG quality "
        f"{JPEG_QUALITY} with OpenCV's default 4:2:0 chroma subsampling. The openpeople originals (large JPEGs",
        "of 1536-2752 px) are re-encoded the same way on purpose, so that a detector cannot separate the",
        "classes by file size, resolution or compression setting alone. Content differences remain, and they",
        "are large: the AI images are portraits of people, mostly studio-lit on grey backgrounds, while the real",
        "photos are mixed scenes (an astronaut, a cat, a rocket, a galaxy field, micrographs, a fundus photo).",
        "The resolution history differs too: the AI originals are shrunk 3-5x to reach 512 px, while many real",
        "crops are shrunk little or not at all, which by itself changes per-pixel sharpness and noise.",
        "Treat scores on this sample as a pipeline check, not as evidence that a detector works.",
        "",
        "## Rebuild",
        "",
        "```",
        "python scripts/build_sample.py            # downloads the pinned wheels into a temporary folder",
        "python scripts/build_sample.py --wheels /some/cache   # reuse (or fill) a wheel folder",
        "```",
        "",
        f"Pinned: {common.pinned(PINS)}. Needs numpy and opencv-python-headless;",
        "output is byte-identical for the same OpenCV (libjpeg-turbo) build.",
    ]
    (OUT / "README.md").write_text("\n".join(readme) + "\n")


def main() -> None:
    prov = common.build_with_wheels(__doc__, "bench-sample-", build)
    write_docs(prov)
    counts = {k: len(prov[k]) for k in ("real", "synthetic", "semisynthetic")}
    total = sum(f.stat().st_size for f in OUT.rglob("*") if f.is_file())
    print(f"wrote {OUT}: {counts}, {total / 1e6:.2f} MB")


if __name__ == "__main__":
    main()
