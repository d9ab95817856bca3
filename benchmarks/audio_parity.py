"""Audio decode parity and cost: our decode (bench/data/audio.py: PyAV, FFmpeg's resampler)
against the leaderboard's ``ffmpeg -vn -ac 1 -ar 16000 -f f32le`` command, per format, sample rate
and channel layout (max and mean absolute difference, lengths); then long files: the 6 s centre
window found by seeking against decoding the whole file, in time and in values.

    python benchmarks/audio_parity.py [--seconds 3] [--long-hours 2] [--mp3-minutes 15]

Clips are generated here (numpy signals encoded with PyAV; long WAVs as sparse files). Needs the
``ffmpeg`` command (Debian: apt-get install ffmpeg).
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

import numpy as np  # noqa: E402

from bench.data.audio import SEEK_AFTER_S, decode_clip, decode_waveform, fit_length  # noqa: E402
from bench.data.decode import DataError  # noqa: E402
from bench.report import table  # noqa: E402
from tests import audio_clips as ac  # noqa: E402


def parity(folder: Path, seconds: float) -> list[list]:
    rows = []
    for ext, rate, layout in ac.MATRIX:
        path = ac.clip(folder, ext, rate, layout, seconds=seconds)
        ours, ref = decode_waveform(str(path)), ac.ffmpeg_decode(path)
        n = min(len(ours), len(ref))
        diff = np.abs(ours[:n] - ref[:n])
        rows.append([ext, rate, layout, len(ours), len(ref), f"{diff.max():.3g}", f"{diff.mean():.3g}", "yes" if len(ours) == len(ref) and diff.max() == 0 else "no"])
        print(f"  {ext} {rate} {layout}", file=sys.stderr)
    return rows


def timed(step):
    begun = time.perf_counter()
    out = step()
    return out, time.perf_counter() - begun


def long_file(name: str, path: Path) -> list:
    """Seeked window, whole streamed decode (no time limit; its memory bound still holds), and
    the ffmpeg command; a decode refused by the bound is shown as such."""
    seeked, t_seek = timed(lambda: decode_clip(str(path)))
    ref, t_ffmpeg = timed(lambda: ac.leaderboard_window(ac.ffmpeg_decode(path)))
    a = fit_length(seeked.wave, 96000)
    head = [name, f"{seeked.length / 16000 / 60:.1f} min", "yes" if seeked.seeked else "no", f"{t_seek * 1000:.0f}"]
    try:
        whole, t_whole = timed(lambda: decode_clip(str(path), seek_after=float("inf"), timeout=3600))
    except DataError as exc:
        return head + [f"refused: {exc.reason[:40]}", f"{t_ffmpeg * 1000:.0f}", "-", "-", f"{np.abs(a - ref).max():.3g}"]
    b = fit_length(whole.wave, 96000)
    return head + [f"{t_whole * 1000:.0f}", f"{t_ffmpeg * 1000:.0f}", seeked.length - whole.length, f"{np.abs(a - b).max():.3g}", f"{np.abs(a - ref).max():.3g}"]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--seconds", type=float, default=3.0, help="length of each parity clip")
    parser.add_argument("--long-hours", type=float, default=2.0, help="length of the long sparse WAV (over 2 h the whole decode meets its memory bound)")
    parser.add_argument("--mp3-minutes", type=float, default=15.0, help="length of the long MP3 (encoded here: about 1 s per minute)")
    args = parser.parse_args()
    if ac.FFMPEG is None:
        raise SystemExit("the ffmpeg command is needed: apt-get install ffmpeg")
    with tempfile.TemporaryDirectory(prefix="audio-parity-") as tmp:
        folder = Path(tmp)
        print("parity clips:", file=sys.stderr)
        rows = parity(folder, args.seconds)
        print(f"## Ours against `ffmpeg -vn -ac 1 -ar 16000 -f f32le` ({args.seconds:g} s clips)\n")
        print(table(["format", "rate", "layout", "ours n", "ffmpeg n", "max |diff|", "mean |diff|", "bit-identical"], rows))

        print("long files:", file=sys.stderr)
        rate, hours = 44100, args.long_hours
        n = int(rate * hours * 3600)
        noise = (np.random.default_rng(0).standard_normal((20 * rate, 2)) * 5000).astype("<i2")
        wav = ac.sparse_wav(folder / "long.wav", rate, 2, hours * 3600, {n // 2 - 10 * rate: noise})
        mp3_rate, minutes = 44100, args.mp3_minutes
        data = ac.signal(mp3_rate, 2, minutes * 60, seed=2)
        mp3 = ac.encode(folder / "long.mp3", data, mp3_rate, "stereo", "mp3", "libmp3lame")
        flac = ac.encode(folder / "long.flac", ac.signal(48000, 2, 12 * 60, seed=3), 48000, "stereo", "flac", "flac")
        longs = [long_file(f"WAV 44.1 kHz stereo, {hours:g} h (sparse)", wav), long_file("FLAC 48 kHz stereo, 12 min", flac),
                 long_file(f"MP3 44.1 kHz stereo, {minutes:g} min", mp3)]
        print(f"\n## Long files: the centre window by seeking (files over {SEEK_AFTER_S:g} s) against decoding everything\n")
        print(table(["file", "length", "seeked", "seek ms", "whole ms", "ffmpeg ms", "length diff", "max |seek - whole|", "max |seek - ffmpeg|"], longs))


if __name__ == "__main__":
    main()
