"""Audio decoding (bench/data/audio.py) against the leaderboard's decode, the ``ffmpeg -vn -ac 1
-ar 16000 -f f32le`` command: formats, rates, channel layouts, the length rule, seeking in long
files, and hostile files (each a one-line data error with its reason)."""

from __future__ import annotations

import time

import numpy as np
import pytest

from bench.data.audio import _Kept, crop_start, decode_clip, decode_waveform, fit_length
from bench.data.decode import DataError
from bench.data.refs import read_cell, wav_from_array
from tests import audio_clips as ac
from tests.audio_clips import needs_ffmpeg

EXACT = ("wav", "flac", "mp3")  # the same decoder and resampler run: bit-identical
TOLERANCE = 1e-4


@pytest.fixture(scope="module")
def clips(tmp_path_factory):
    folder = tmp_path_factory.mktemp("clips")
    return {key: ac.clip(folder, *key) for key in ac.MATRIX}


@needs_ffmpeg
@pytest.mark.parametrize("key", ac.MATRIX, ids=lambda k: f"{k[0]}-{k[1]}-{k[2]}")
def test_waveform_matches_the_ffmpeg_command(clips, key):
    path = clips[key]
    ours, ref = decode_waveform(str(path)), ac.ffmpeg_decode(path)
    assert len(ours) == len(ref)
    diff = np.abs(ours - ref)
    print(f"{key}: max |diff| {diff.max():.3g}, mean {diff.mean():.3g}")
    if key[0] in EXACT:
        assert diff.max() == 0
    assert diff.max() <= TOLERANCE
    assert ours.dtype == np.float32


@needs_ffmpeg
@pytest.mark.parametrize("ext", ["wav", "flac", "mp3", "ogg", "m4a"])
@pytest.mark.parametrize("seconds", [8.3, 2.5])
def test_window_is_the_leaderboards_centre_crop_or_right_padding(tmp_path, ext, seconds):
    rate = 48000 if ext == "ogg" else 44100
    path = ac.clip(tmp_path, ext, rate, "stereo", seconds=seconds)
    expected = ac.leaderboard_window(ac.ffmpeg_decode(path))
    got = decode_clip(str(path))
    assert not got.seeked and got.length == len(ac.ffmpeg_decode(path))
    window = fit_length(got.wave, 96000)
    assert np.abs(window - expected).max() <= (0 if ext in EXACT else TOLERANCE)


def test_bytes_and_paths_decode_alike(tmp_path):
    path = ac.clip(tmp_path, "flac", 22050, "stereo", seconds=1.5)
    assert np.array_equal(decode_waveform(path.read_bytes()), decode_waveform(str(path)))


def test_crop_start_rule():
    assert crop_start(100, 96000) == 0
    assert crop_start(96001, 96000) == 0
    assert crop_start(96003, 96000) == 1
    assert crop_start(200000, 96000) == 52000
    starts = {crop_start(200000, 96000, "random", seed) for seed in range(50)}
    assert len(starts) > 40 and all(0 <= s <= 104000 for s in starts)
    assert crop_start(200000, 96000, "random", 7) == crop_start(200000, 96000, "random", 7)


def test_random_crop_window_is_that_slice(tmp_path):
    path = ac.clip(tmp_path, "wav", 16000, "mono", seconds=9.0)
    whole = decode_waveform(str(path))
    got = decode_clip(str(path), crop="random", seed=11)
    assert got.start == crop_start(len(whole), 96000, "random", 11)
    assert np.array_equal(got.wave, whole[got.start : got.start + 96000])


# --------------------------------------------------------------------------- long files


def _noise_block(n: int, channels: int, seed: int = 0) -> np.ndarray:
    return (np.random.default_rng(seed).standard_normal((n, channels)) * 6000).astype("<i2")


@needs_ffmpeg
def test_long_wav_is_seeked_and_bit_identical(tmp_path):
    rate, seconds = 22050, 12 * 60  # past SEEK_AFTER_S
    centre = int(rate * seconds) // 2
    path = ac.sparse_wav(tmp_path / "long.wav", rate, 2, seconds, {centre - 5 * rate: _noise_block(10 * rate, 2)})
    got = decode_clip(str(path))
    assert got.seeked
    expected = ac.leaderboard_window(ac.ffmpeg_decode(path))
    assert np.abs(expected).max() > 0.05  # the window holds the noise, not silence
    assert np.array_equal(got.wave, expected)


@needs_ffmpeg
def test_long_flac_is_seeked_and_bit_identical(tmp_path):
    rate, seconds = 8000, 11 * 60
    data = np.zeros((1, rate * seconds), np.float32)
    mid = rate * seconds // 2
    data[0, mid - 8 * rate : mid + 8 * rate] = ac.signal(rate, 1, 16.0, seed=3)[0]
    path = ac.encode(tmp_path / "long.flac", data, rate, "mono", "flac", "flac")
    got = decode_clip(str(path))
    assert got.seeked
    assert np.array_equal(got.wave, ac.leaderboard_window(ac.ffmpeg_decode(path)))


def test_ten_hour_file_is_not_decoded_whole(tmp_path):
    rate, seconds = 16000, 10 * 3600
    n = rate * seconds
    start = (n - 96000) // 2
    marker = _noise_block(96000, 1, seed=5)
    path = ac.sparse_wav(tmp_path / "ten-hours.wav", rate, 1, seconds, {start: marker})
    begun = time.perf_counter()
    got = decode_clip(str(path))
    elapsed = time.perf_counter() - begun
    assert got.seeked and got.length == n and got.start == start
    assert np.array_equal(got.wave, marker[:, 0].astype(np.float32) / 32768)  # s16 -> float is x / 32768
    assert elapsed < 5.0


def test_decode_time_limit_is_a_data_error(tmp_path):
    path = ac.sparse_wav(tmp_path / "hours.wav", 48000, 2, 3 * 3600)
    begun = time.perf_counter()
    with pytest.raises(DataError, match=r"took more than 0.3 s"):
        decode_clip(str(path), seek_after=float("inf"), timeout=0.3)
    assert time.perf_counter() - begun < 5.0


def test_kept_stream_holds_only_what_the_centre_crop_can_need():
    keep = _Kept(1000, "center", 3600, 16000)
    whole = np.arange(50_000, dtype=np.float32)
    for i in range(0, len(whole), 700):
        keep.add(whole[i : i + 700])
        assert keep.held <= (keep.total + 1000) // 2 + 700
    start = crop_start(len(whole), 1000)
    assert np.array_equal(keep.window(start, 1000), whole[start : start + 1000])
    small = _Kept(None, "all", 0.1, 16000)
    with pytest.raises(DataError, match="no usable duration in its header"):
        small.add(np.zeros(2000, np.float32))


# --------------------------------------------------------------------------- hostile files


def test_empty_file_and_bytes(tmp_path):
    (tmp_path / "empty.wav").write_bytes(b"")
    for source in (str(tmp_path / "empty.wav"), b""):
        with pytest.raises(DataError, match="empty file") as info:
            decode_clip(source)
        assert info.value.stage == "decode"


def test_missing_file_is_a_read_error(tmp_path):
    with pytest.raises(DataError) as info:
        decode_clip(str(tmp_path / "nope.wav"))
    assert info.value.stage == "read"


def test_garbage_is_not_a_media_file():
    with pytest.raises(DataError, match="not a media file FFmpeg can read"):
        decode_clip(b"this is not audio at all, just text " * 40)


def test_image_named_wav_has_no_audio_stream(tmp_path):
    import cv2

    ok, png = cv2.imencode(".png", np.full((16, 16, 3), 200, np.uint8))
    with pytest.raises(DataError, match="no audio stream .*video only"):
        decode_clip(png.tobytes())


def _video(path, with_audio: bool):
    import av

    with av.open(str(path), "w") as out:
        v = out.add_stream("mpeg4", rate=10)
        v.width, v.height, v.pix_fmt = 32, 32, "yuv420p"
        a = out.add_stream("aac", rate=44100, layout="stereo") if with_audio else None
        for i in range(10):
            frame = av.VideoFrame.from_ndarray(np.full((32, 32, 3), i * 20, np.uint8), format="rgb24")
            out.mux(v.encode(frame))
        out.mux(v.encode(None))
        if a is not None:
            data = ac.signal(44100, 2, 1.0)
            resampler = av.AudioResampler(format="fltp", layout="stereo", rate=44100, frame_size=1024)
            frame = av.AudioFrame.from_ndarray(data, format="fltp", layout="stereo")
            frame.sample_rate, frame.pts = 44100, 0
            for chunk in resampler.resample(frame) + resampler.resample(None):
                out.mux(a.encode(chunk))
            out.mux(a.encode(None))
    return path


def test_video_without_sound_has_no_audio_stream(tmp_path):
    with pytest.raises(DataError, match="no audio stream"):
        decode_clip(str(_video(tmp_path / "silent.mp4", False)))


@needs_ffmpeg
def test_video_with_sound_gives_its_sound_track_like_vn(tmp_path):
    path = _video(tmp_path / "talking.mp4", True)
    assert np.abs(decode_waveform(str(path)) - ac.ffmpeg_decode(path)).max() <= TOLERANCE


def test_zero_length_wav(tmp_path):
    path = ac.sparse_wav(tmp_path / "zero.wav", 16000, 1, 0.0)
    with pytest.raises(DataError, match="zero-length audio"):
        decode_clip(str(path))


def test_a_few_samples_shorter_than_the_resampler_gives_zero_length(tmp_path):
    path = ac.encode(tmp_path / "tiny.wav", np.full((1, 3), 0.5, np.float32), 44100, "mono", "wav", "pcm_s16le")
    with pytest.raises(DataError, match="zero-length"):
        decode_clip(str(path))


@needs_ffmpeg
def test_truncated_wav_decodes_what_it_holds_like_ffmpeg(tmp_path):
    rate = 44100
    full = ac.sparse_wav(tmp_path / "claims-20-min.wav", rate, 2, 20 * 60, {0: _noise_block(3 * rate, 2)})
    cut = tmp_path / "cut.wav"
    cut.write_bytes(full.read_bytes()[: 44 + 3 * rate * 4])  # the header says 20 minutes, 3 s are there
    got = decode_clip(str(cut))
    assert not got.seeked and got.length == len(ac.ffmpeg_decode(cut))
    assert np.array_equal(fit_length(got.wave, 96000), ac.leaderboard_window(ac.ffmpeg_decode(cut)))


@needs_ffmpeg
def test_truncated_mp3_decodes_what_it_holds_like_ffmpeg(tmp_path):
    whole = ac.clip(tmp_path, "mp3", 44100, "stereo", seconds=3.0).read_bytes()
    cut = tmp_path / "cut.mp3"
    cut.write_bytes(whole[: len(whole) // 2 + 17])
    got = decode_waveform(str(cut))
    ref = ac.ffmpeg_decode(cut)
    assert len(got) == len(ref) and np.abs(got - ref).max() <= TOLERANCE


def test_header_only_is_truncated(tmp_path):
    whole = ac.clip(tmp_path, "flac", 44100, "stereo", seconds=1.0).read_bytes()
    with pytest.raises(DataError) as info:
        decode_clip(whole[:60])
    assert info.value.stage == "decode"
    assert any(word in info.value.reason for word in ("truncated", "zero-length", "not a media file"))


# --------------------------------------------------------------------------- decoded arrays (Hugging Face Audio cells)


@needs_ffmpeg
def test_array_cell_is_the_leaderboards_pcm16_wav(tmp_path):
    x = np.concatenate([ac.signal(44100, 1, 1.0)[0], [1.0, -1.0, 0.49999 / 32767]]).astype(np.float32)
    data, problem = read_cell({"array": x.tolist(), "sampling_rate": 44100}, None)
    assert problem is None
    (tmp_path / "cell.wav").write_bytes(data)
    pcm = ac.ffmpeg_decode(tmp_path / "cell.wav", 44100)  # no resampling: the 16-bit values back
    assert np.array_equal(pcm, (np.rint(x.astype(np.float64) * 32767) / 32768).astype(np.float32))
    ours = decode_waveform(data)  # and resampled to 16 kHz by the same resampler as any file
    assert np.array_equal(ours, ac.ffmpeg_decode(tmp_path / "cell.wav"))


def test_array_cell_defaults_and_refusals():
    data, problem = wav_from_array(np.zeros(1600, np.float32), None)
    assert problem is None and int.from_bytes(data[24:28], "little") == 16000  # the leaderboard's default rate
    assert wav_from_array([["a"]], 16000)[1] is not None
    assert "shape" in wav_from_array(np.zeros((2, 3, 4)), 16000)[1]
