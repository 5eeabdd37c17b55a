"""WAV parser: every PCM width, float, extensible, multi-channel, bad headers and unsupported codecs."""

from __future__ import annotations

import io
import struct
import wave

import numpy as np
import pytest

from crisp_eml.core.errors import InputError
from crisp_eml.data.formats.wav import parse_wav, write_wav


def riff(tag: int, channels: int, rate: int, bits: int, body: bytes, *, extensible: bool = False) -> bytes:
    width = bits // 8
    fmt = struct.pack("<HHIIHH", 0xFFFE if extensible else tag, channels, rate, rate * channels * width,
                      channels * width, bits)
    if extensible:
        guid = struct.pack("<H", tag) + bytes.fromhex("000000001000800000aa00389b71")
        fmt += struct.pack("<HHI", 22, bits, 0) + guid
    chunks = b"fmt " + struct.pack("<I", len(fmt)) + fmt
    chunks += b"LIST" + struct.pack("<I", 3) + b"abc\x00"  # odd-sized unknown chunk with pad byte
    chunks += b"data" + struct.pack("<I", len(body)) + body
    return b"RIFF" + struct.pack("<I", 4 + len(chunks)) + b"WAVE" + chunks


def test_pcm16_stereo_via_stdlib_writer() -> None:
    frames = np.array([[0, -32768], [16384, 32767], [-1, 1]], dtype="<i2")
    buf = io.BytesIO()
    with wave.open(buf, "wb") as w:
        w.setnchannels(2)
        w.setsampwidth(2)
        w.setframerate(22050)
        w.writeframes(frames.tobytes())
    p = parse_wav(buf.getvalue(), "yes.1.wav")
    assert p.kind == "audio" and p.frequency_hz == 22050 and p.array.shape == (3, 2)
    assert [s.name for s in p.sensors] == ["audio0", "audio1"] and p.sensors[0].units == "wav"
    assert p.array.tolist() == (frames / 32768.0).tolist()


@pytest.mark.parametrize("extensible", [False, True])
def test_all_widths(extensible: bool) -> None:
    u8 = parse_wav(riff(1, 1, 8000, 8, bytes([0, 128, 255])), "a.wav", ) if not extensible else None
    if u8 is not None:
        assert u8.array[:, 0].tolist() == [-1.0, 0.0, 127 / 128]
    b24 = b"".join(int(v).to_bytes(3, "little", signed=True) for v in (-(1 << 23), 0, (1 << 23) - 1))
    p24 = parse_wav(riff(1, 1, 48000, 24, b24, extensible=extensible), "a.wav")
    assert p24.array[:, 0].tolist() == pytest.approx([-1.0, 0.0, 1 - 2**-23])
    i32 = np.array([-(2**31), 2**30], dtype="<i4").tobytes()
    assert parse_wav(riff(1, 1, 16000, 32, i32, extensible=extensible), "a.wav").array[:, 0].tolist() == [-1.0, 0.5]
    f32 = np.array([0.25, -0.75], dtype="<f4").tobytes()
    assert parse_wav(riff(3, 1, 16000, 32, f32, extensible=extensible), "a.wav").array[:, 0].tolist() == [0.25, -0.75]
    f64 = np.array([[0.5, -0.125]], dtype="<f8").tobytes()
    p64 = parse_wav(riff(3, 2, 7, 64, f64, extensible=extensible), "a.wav")
    assert p64.array.tolist() == [[0.5, -0.125]] and p64.frequency_hz == 7


@pytest.mark.parametrize(
    ("data", "match"),
    [
        (b"RIFX\x00\x00\x00\x00WAVE", "bad WAV header"),
        (b"RIFF", "bad WAV header"),
        (riff(1, 1, 8000, 16, b"\x00\x00")[:-1], "truncated WAV"),
        (riff(2, 1, 8000, 16, b"\x00\x00"), "unsupported WAV codec: format tag 0x0002"),
        (riff(1, 1, 8000, 12, b"\x00\x00"), "unsupported WAV codec: PCM with 12 bits"),
        (riff(3, 1, 8000, 16, b"\x00\x00"), "unsupported WAV codec: float with 16 bits"),
        (riff(1, 0, 8000, 16, b"\x00\x00"), "zero channels"),
        (riff(1, 1, 0, 16, b"\x00\x00"), "sample rate 0"),
        (riff(1, 1, 8000, 16, b""), "no audio frames"),
        (riff(1, 2, 8000, 16, b"\x00\x00\x00\x00\x00\x00"), "not a multiple of the frame size"),
        (b"RIFF\x10\x00\x00\x00WAVEdata\x02\x00\x00\x00\x00\x00", "no 'fmt ' chunk"),
    ],
)
def test_bad_wav(data: bytes, match: str) -> None:
    with pytest.raises(InputError, match=match) as info:
        parse_wav(data, "clip.wav")
    assert "clip.wav" in str(info.value)


def test_write_wav_is_lossless_both_ways() -> None:
    pcm = (np.arange(-5, 5, dtype=np.float32) / 32768.0).reshape(5, 2)
    data = write_wav(pcm, 16000)
    assert struct.unpack_from("<H", data, 20)[0] == 1  # chose 16-bit PCM
    assert parse_wav(data, "a.wav").array.tobytes() == pcm.tobytes()
    fl = np.array([[0.1], [-0.3333]], dtype=np.float32)
    data = write_wav(fl, 44100)
    assert struct.unpack_from("<H", data, 20)[0] == 3  # needed float
    assert parse_wav(data, "a.wav").array.tobytes() == fl.tobytes()


def test_streaming_placeholder_size_reads_to_end() -> None:
    body = np.array([1, -2, 3], dtype="<i2").tobytes()
    data = bytearray(riff(1, 1, 22050, 16, body))
    pos = data.index(b"data")
    data[pos + 4:pos + 8] = (0x7FFFF000).to_bytes(4, "little")
    assert parse_wav(bytes(data), "s.wav").array[:, 0].tolist() == [1 / 32768, -2 / 32768, 3 / 32768]


def test_channel_count_is_capped() -> None:
    """A WAV header claiming 65,535 channels used to be accepted; 64 is the most a sample may have."""
    assert parse_wav(riff(1, 64, 8000, 16, b"\x00\x00" * 64), "a.wav").array.shape == (1, 64)
    for channels in (65, 65535):
        # block align is a 16-bit field: 65535 x 2 bytes cannot even be stated, so the header is checked first
        with pytest.raises(InputError, match=f"{channels} channels, more than the 64") as info:
            parse_wav(riff(1, channels, 8000, 8, b"\x00" * channels), "many.wav")
        assert "many.wav" in str(info.value)


@pytest.mark.parametrize(("bits", "values"), [(32, [0.5, np.inf]), (64, [0.5, 1e39]), (64, [-np.inf, 0.0])])
def test_infinite_float_samples_refused(bits: int, values: list[float]) -> None:
    body = np.array(values, dtype="<f4" if bits == 32 else "<f8").tobytes()
    with pytest.raises(InputError, match="infinite sample value at frame"):
        parse_wav(riff(3, 1, 8000, bits, body), "inf.wav")


def test_nan_float_samples_are_left_to_quality_checks() -> None:
    body = np.array([0.5, np.nan], dtype="<f4").tobytes()
    assert np.isnan(parse_wav(riff(3, 1, 8000, 32, body), "nan.wav").array[1, 0])


@pytest.mark.parametrize("rate", [10_000_001, 0x7FFFFFFF])
def test_absurd_rate_refused(rate: int) -> None:
    with pytest.raises(InputError, match="faster than"):
        parse_wav(riff(1, 1, rate, 16, b"\x00\x00"), "fast.wav")


def test_huge_fmt_chunk_refused() -> None:
    data = b"RIFF\x00\x00\x00\x00WAVEfmt " + (1 << 30).to_bytes(4, "little") + b"\x00" * 40
    with pytest.raises(InputError, match="'fmt ' chunk of 1073741824 bytes"):
        parse_wav(data, "a.wav")


@pytest.mark.parametrize("bits", [8, 16, 24, 32])
def test_block_conversion_matches_one_block(bits: int, monkeypatch: pytest.MonkeyPatch) -> None:
    """Converting in small blocks into the preallocated array gives exactly the one-block result."""
    import crisp_eml.data.formats.wav as wav

    rng = np.random.default_rng(bits)
    body = rng.integers(0, 256, 3 * 7 * (bits // 8), dtype=np.uint8).tobytes()
    data = riff(1, 3, 16000, bits, body)
    whole = parse_wav(data, "a.wav").array
    monkeypatch.setattr(wav, "BLOCK_BYTES", 5)  # smaller than a frame: one frame per block
    assert parse_wav(data, "a.wav").array.tobytes() == whole.tobytes()
    monkeypatch.setattr(wav, "BLOCK_BYTES", 2 * 3 * (bits // 8))
    assert parse_wav(data, "a.wav").array.tobytes() == whole.tobytes()


def test_stream_parse_reads_forward_only() -> None:
    """The stream parser never seeks (ingest hashes the bytes as they are read)."""
    import io

    from crisp_eml.data.formats.wav import parse_wav_stream

    class Forward(io.RawIOBase):
        def __init__(self, data: bytes) -> None:
            self._buf = io.BytesIO(data)

        def read(self, size: int | None = -1, /) -> bytes:
            return self._buf.read(size)

        def seekable(self) -> bool:
            return False

    data = riff(1, 2, 8000, 16, np.arange(8, dtype="<i2").tobytes())
    p = parse_wav_stream(Forward(data), "f.wav", size=len(data))
    assert p.array.shape == (4, 2) and p.array[3, 1] == 7 / 32768
