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


class _Trickle(io.RawIOBase):
    """A forward-only stream that hands out at most ``k`` bytes a read (a pipe or a slow network file)."""

    def __init__(self, data: bytes, k: int) -> None:
        self._buf, self._k = io.BytesIO(data), k

    def read(self, size: int | None = -1, /) -> bytes:
        if size is None or size < 0:
            return self._buf.read()
        return self._buf.read(min(size, self._k))


def _chunks(*chunks: tuple[bytes, bytes]) -> bytes:
    body = b"".join(cid + struct.pack("<I", len(data)) + data + b"\x00" * (len(data) & 1) for cid, data in chunks)
    return b"RIFF" + struct.pack("<I", 4 + len(body)) + b"WAVE" + body


def _fmt(tag: int = 1, channels: int = 1, rate: int = 8000, bits: int = 16, align: int | None = None) -> bytes:
    width = bits // 8
    return struct.pack("<HHIIHH", tag, channels, rate, rate * channels * width,
                       channels * width if align is None else align, bits)


def _error(data: bytes, name: str = "clip.wav", **kw: int) -> InputError:
    from crisp_eml.data.formats.wav import parse_wav_stream

    with pytest.raises(InputError) as info:
        parse_wav_stream(io.BytesIO(data), name, size=kw.get("size", len(data)))
    return info.value


@pytest.mark.parametrize("k", [1, 3, 7])
def test_short_reads_give_the_same_sample(k: int) -> None:
    """Reads may return fewer bytes than asked: chunks, padding and audio must still line up."""
    from crisp_eml.data.formats.wav import parse_wav_stream

    pcm = np.arange(-9, 9, dtype="<i2").tobytes()
    for data in (riff(1, 2, 8000, 16, pcm), _chunks((b"fmt ", _fmt(channels=3) + b"\x00"), (b"junk", b"12345"),
                                                    (b"data", pcm))):
        whole = parse_wav(data, "a.wav")
        p = parse_wav_stream(_Trickle(data, k), "a.wav", size=len(data))
        assert p.array.tobytes() == whole.array.tobytes() and p.array.shape == whole.array.shape


def test_mono_sensor_and_metadata() -> None:
    from crisp_eml.core.sample import Sensor

    p = parse_wav(riff(1, 1, 8000, 16, b"\x01\x00"), "a.wav")
    assert p.sensors == (Sensor("audio", "wav"),) and p.metadata == {"wav_bits": 16, "wav_codec": "pcm"}
    p = parse_wav(riff(3, 2, 8000, 64, bytes(16)), "a.wav")
    assert [s.name for s in p.sensors] == ["audio0", "audio1"]
    assert p.metadata == {"wav_bits": 64, "wav_codec": "float"}
    assert parse_wav(riff(3, 1, 8000, 32, bytes(4), extensible=True), "a.wav").metadata["wav_codec"] == "float"


def test_header_refusals_are_exact() -> None:
    assert str(_error(b"RIFF\x00\x00\x00\x00WAVX" + bytes(40))) == "clip.wav: bad WAV header: not a RIFF/WAVE file"
    assert str(_error(b"RIFX\x00\x00\x00\x00WAVE" + bytes(40))) == "clip.wav: bad WAV header: not a RIFF/WAVE file"
    assert str(_error(_chunks((b"LIST", b"abcd")))) == "clip.wav: bad WAV header: no 'fmt ' chunk before the data"
    assert str(_error(_chunks((b"data", b"\x00\x00")))) == "clip.wav: bad WAV header: no 'fmt ' chunk before the data"
    assert str(_error(_chunks((b"fmt ", _fmt())))) == "clip.wav: bad WAV file: no 'data' chunk"
    assert str(_error(_chunks((b"fmt ", _fmt()[:15]), (b"data", b"\x00\x00")))) == (
        "clip.wav: bad WAV header: 'fmt ' chunk shorter than 16 bytes")
    huge = b"RIFF\x00\x00\x00\x00WAVEfmt " + (0x80000000).to_bytes(4, "little") + bytes(40)
    assert str(_error(huge)) == "clip.wav: bad WAV header: 'fmt ' chunk of 2147483648 bytes"
    assert str(_error(_chunks((b"fmt ", _fmt()), (b"data", b"")))) == "clip.wav: WAV file has no audio frames"


def test_fmt_chunk_sizes_odd_even_and_at_the_limit() -> None:
    from crisp_eml.data.formats.wav import MAX_FMT_BYTES

    pcm = np.array([3, -4], dtype="<i2").tobytes()
    for extra in (1, 2, 3, MAX_FMT_BYTES - 16):  # odd sizes are followed by a pad byte
        p = parse_wav(_chunks((b"fmt ", _fmt() + bytes(extra)), (b"data", pcm)), "a.wav")
        assert p.array[:, 0].tolist() == [3 / 32768, -4 / 32768], extra
    assert "chunk of 65537 bytes" in str(_error(_chunks((b"fmt ", _fmt() + bytes(MAX_FMT_BYTES - 15)))))


def test_streaming_placeholders() -> None:
    pcm = np.array([1, 2], dtype="<i2").tobytes()
    data = bytearray(riff(1, 1, 8000, 16, pcm))
    at = data.index(b"data") + 4
    data[at:at + 4] = (0xFFFFFFFF).to_bytes(4, "little")
    assert parse_wav(bytes(data), "a.wav").array[:, 0].tolist() == [1 / 32768, 2 / 32768]
    # 8-bit mono with a placeholder and nothing after it: no frames (not a 1-byte read past the end)
    empty = bytearray(_chunks((b"fmt ", _fmt(bits=8)), (b"data", b"")))
    empty[-4:] = (0x7FFFF000).to_bytes(4, "little")
    assert str(_error(bytes(empty))) == "clip.wav: WAV file has no audio frames"
    assert str(_error(bytes(empty), size=len(empty) - 4)) == "clip.wav: WAV file has no audio frames"


def test_data_ending_early_while_read_is_named() -> None:
    """The caller's size says more bytes follow than the stream then gives (a file shrinking under us)."""
    data = _chunks((b"fmt ", _fmt()), (b"data", bytes(8)))[:-4]
    assert str(_error(data, size=len(data) + 4)) == "clip.wav: truncated WAV: data ends after 4 of 8 bytes"


def test_infinite_sample_position_is_exact(monkeypatch: pytest.MonkeyPatch) -> None:
    import crisp_eml.data.formats.wav as wav

    body = np.zeros((8, 2), dtype="<f4")
    body[5, 1] = np.inf
    monkeypatch.setattr(wav, "BLOCK_BYTES", 16)  # two frames a block: the frame number counts earlier blocks
    assert str(_error(riff(3, 2, 8000, 32, body.tobytes()), "inf.wav")) == (
        "inf.wav: infinite sample value at frame 5, channel 1 (float data must be finite float32)")


def test_float64_overflow_raises_no_numpy_warning() -> None:
    import warnings

    body = np.array([0.5, 1e39], dtype="<f8").tobytes()
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        with pytest.raises(InputError, match="infinite sample value at frame 1, channel 0"):
            parse_wav(riff(3, 1, 8000, 64, body), "a.wav")


def test_fmt_refusals_are_exact() -> None:
    short_ext = _chunks((b"fmt ", _fmt(tag=0xFFFE) + bytes(8)), (b"data", b"\x00\x00"))
    assert str(_error(short_ext)) == "clip.wav: bad WAV header: WAVE_FORMAT_EXTENSIBLE 'fmt ' chunk too short"
    unknown = _chunks((b"fmt ", _fmt(tag=0xFFFE) + struct.pack("<HHI", 22, 16, 0) + struct.pack("<H", 1) + bytes(14)),
                      (b"data", b"\x00\x00"))
    assert str(_error(unknown)) == "clip.wav: unsupported WAV codec: unknown WAVE_FORMAT_EXTENSIBLE sub-format"
    high = riff(0xFFFD, 1, 8000, 16, b"\x00\x00", extensible=True)
    assert str(_error(high)) == "clip.wav: unsupported WAV codec: format tag 0xfffd with 16 bits per sample"
    assert str(_error(riff(1, 0, 8000, 16, b"\x00\x00"))) == "clip.wav: bad WAV header: zero channels"
    assert _error(riff(1, 65, 8000, 8, bytes(65))).field == "channels"
    assert str(_error(riff(1, 1, 0, 16, b"\x00\x00"))) == "clip.wav: bad WAV header: sample rate 0"
    fast = _error(riff(1, 1, 20_000_000, 16, b"\x00\x00"), "fast.wav")
    assert str(fast) == "fast.wav: field 'sample_rate': absurd sampling interval 5e-05 ms (faster than 1e+07 Hz)"
    misaligned = _chunks((b"fmt ", _fmt(align=3)), (b"data", b"\x00\x00\x00"))
    assert str(_error(misaligned)) == "clip.wav: bad WAV header: block align 3 != 1 channels x 2 bytes"


def test_longer_extensible_fmt_and_slow_rates_are_accepted() -> None:
    ext = riff(1, 1, 8000, 16, b"\x05\x00", extensible=True)
    at = ext.index(b"fmt ")
    longer = ext[:at + 4] + struct.pack("<I", 42) + ext[at + 8:at + 8 + 40] + b"\x00\x00" + ext[at + 48:]
    assert parse_wav(longer, "a.wav").array[0, 0] == 5 / 32768
    assert parse_wav(riff(1, 1, 1, 16, b"\x05\x00"), "a.wav").frequency_hz == 1.0


def test_24_bit_byte_order() -> None:
    b24 = (0x123456).to_bytes(3, "little") + (-0x123456 & 0xFFFFFF).to_bytes(3, "little")
    assert parse_wav(riff(1, 1, 8000, 24, b24), "a.wav").array[:, 0].tolist() == pytest.approx(
        [0x123456 / 2**23, -0x123456 / 2**23])


def test_write_wav_layout_and_16_bit_range() -> None:
    for frames in (1, 2, 3):
        data = write_wav(np.zeros((frames, 1), np.float32), 8000)
        assert len(data) == 44 + 2 * frames and struct.unpack_from("<I", data, 4)[0] == len(data) - 8
    edges = np.array([[-1.0], [32767 / 32768], [0.0]], dtype=np.float32)
    data = write_wav(edges, 8000)
    assert struct.unpack_from("<H", data, 20)[0] == 1 and parse_wav(data, "a.wav").array.tobytes() == edges.tobytes()
    for beyond in (1.0, -32769 / 32768):  # one step past the 16-bit range: float, still lossless
        a = np.array([[beyond], [0.5]], dtype=np.float32)
        data = write_wav(a, 8000)
        assert struct.unpack_from("<H", data, 20)[0] == 3 and parse_wav(data, "a.wav").array.tobytes() == a.tobytes()
    mono = write_wav(np.array([0.25, -0.5], dtype=np.float32), 8000)  # 1-D: one channel
    assert parse_wav(mono, "a.wav").array.shape == (2, 1)
    # the values are float32 first: a float64 a hair off a 16-bit step is that step
    assert struct.unpack_from("<H", write_wav(np.array([[1 / 32768 + 1e-12]]), 8000), 20)[0] == 1
    many = np.full((1, 64), 0.1, dtype=np.float32)  # byte rate 10 MHz x 64 x 4 > 2**31: an unsigned field
    assert parse_wav(write_wav(many, 10_000_000), "a.wav").array.tobytes() == many.tobytes()


def test_write_wav_of_an_empty_signal_is_a_header_only_file() -> None:
    data = write_wav(np.zeros((0, 2), np.float32), 8000)
    assert len(data) == 44 and data.endswith(b"data\x00\x00\x00\x00")
    with pytest.raises(InputError, match="no audio frames"):
        parse_wav(data, "empty.wav")


def test_truncation_after_an_odd_fmt_chunk_is_measured_from_the_right_place() -> None:
    data = _chunks((b"fmt ", _fmt() + b"\x00"), (b"data", bytes(4)))[:-2]
    assert str(_error(data)) == "clip.wav: truncated WAV: data chunk declares 4 bytes, 2 present"
