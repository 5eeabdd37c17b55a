"""WAV (RIFF/WAVE) audio: PCM 8/16/24/32-bit integer and 32/64-bit float, 1 to 64 channels, any rate.

The stdlib ``wave`` module reads integer PCM only (no float, no WAVE_FORMAT_EXTENSIBLE float), so the
RIFF chunks are parsed here. Samples are normalized to float32 in [-1, 1): unsigned 8-bit as
``(x - 128) / 128``, signed n-bit as ``x / 2**(n-1)``; float data is kept as is (float64 -> float32;
``inf``, or a float64 beyond the float32 range, is refused; NaN is left to the quality checks).
A data chunk size that is a known streaming placeholder (``0xFFFFFFFF``, ``0x7FFFF000``...) means "to
the end of the file"; any other size beyond the end is a truncated file. Channels become axes
``audio`` (mono) or ``audio0, audio1, ...`` with units ``wav``.

The file is read forward once; the audio data is converted in blocks into a float32 array allocated
once, so parsing holds the result plus one block, never a second copy of the file.
"""

from __future__ import annotations

import io
import struct

import numpy as np

from crisp_eml.core.errors import InputError
from crisp_eml.core.sample import Sensor
from crisp_eml.data.formats.parsed import ByteReader, ParsedSample, check_axes, check_interval_ms, first_infinite

PCM, IEEE_FLOAT, EXTENSIBLE = 0x0001, 0x0003, 0xFFFE
STREAMING_SIZES = {0xFFFFFFFF, 0x7FFFFFFF, 0x7FFFF000}  # placeholders written by pipes (ffmpeg, espeak-ng)
_SUBFORMAT_TAIL = bytes.fromhex("000000001000800000aa00389b71")  # KSDATAFORMAT_SUBTYPE_* GUID after the tag
MAX_FMT_BYTES = 1 << 16  # a 'fmt ' chunk is 16 to 40 bytes; anything huge is a corrupt header
BLOCK_BYTES = 1 << 22  # audio data converted per block


def audio_sensors(channels: int) -> tuple[Sensor, ...]:
    if channels == 1:
        return (Sensor("audio", "wav"),)
    return tuple(Sensor(f"audio{i}", "wav") for i in range(channels))


def parse_wav(data: bytes, name: str) -> ParsedSample:
    return parse_wav_stream(io.BytesIO(data), name, size=len(data))


def _read(stream: ByteReader, n: int) -> bytes:
    """Up to ``n`` bytes (fewer only at the end of the stream)."""
    out = stream.read(n)
    if len(out) == n or not out:
        return out
    parts = [out]
    got = len(out)
    while got < n and (more := stream.read(n - got)):
        parts.append(more)
        got += len(more)
    return b"".join(parts)


def _skip(stream: ByteReader, n: int) -> int:
    """Read past ``n`` bytes (no seek: the caller may be hashing the stream); the count actually skipped."""
    done = 0
    while done < n and (got := len(stream.read(min(BLOCK_BYTES, n - done)))):
        done += got
    return done


def parse_wav_stream(stream: ByteReader, name: str, *, size: int) -> ParsedSample:
    """Parse a WAV file of ``size`` bytes read forward from ``stream``."""
    head = _read(stream, 12)
    if len(head) < 12 or head[:4] != b"RIFF" or head[8:12] != b"WAVE":
        raise InputError("bad WAV header: not a RIFF/WAVE file", source=name)
    pos, fmt = 12, None
    while True:
        chunk = _read(stream, 8)
        if len(chunk) < 8:
            if fmt is None:
                raise InputError("bad WAV header: no 'fmt ' chunk before the data", source=name)
            raise InputError("bad WAV file: no 'data' chunk", source=name)
        cid, csize = chunk[:4], struct.unpack_from("<I", chunk, 4)[0]
        pos += 8
        if cid == b"data":
            break
        if cid == b"fmt ":
            if csize > MAX_FMT_BYTES:
                raise InputError(f"bad WAV header: 'fmt ' chunk of {csize} bytes", source=name)
            body = _read(stream, csize)
            if len(body) < 16:
                raise InputError("bad WAV header: 'fmt ' chunk shorter than 16 bytes", source=name)
            fmt = body
            pos += len(body) + _skip(stream, csize & 1)
        else:
            pos += _skip(stream, csize + (csize & 1))
    remaining = max(0, size - pos)
    if csize in STREAMING_SIZES and remaining < csize:
        data_len = remaining  # a streaming writer's placeholder: the data runs to the end
    elif remaining < csize:
        raise InputError(f"truncated WAV: data chunk declares {csize} bytes, {remaining} present", source=name)
    else:
        data_len = csize
    if fmt is None:
        raise InputError("bad WAV header: no 'fmt ' chunk before the data", source=name)
    tag, channels, rate, bits, block_align = _check_fmt(fmt, name)
    frames = data_len // block_align
    if frames == 0:
        raise InputError("WAV file has no audio frames", source=name)
    if data_len % block_align:
        raise InputError(f"truncated WAV: data length {data_len} is not a multiple of the frame size {block_align}",
                         source=name)
    out = np.empty((frames, channels), dtype=np.float32)
    step = max(1, BLOCK_BYTES // block_align)
    for start in range(0, frames, step):
        n = min(step, frames - start)
        raw = _read(stream, n * block_align)
        if len(raw) < n * block_align:  # the file shrank while being read
            raise InputError(f"truncated WAV: data ends after {start * block_align + len(raw)} of {data_len} bytes",
                             source=name)
        block = _decode(raw, tag, bits).reshape(n, channels)
        bad = first_infinite(block) if tag == IEEE_FLOAT else None
        if bad is not None:
            raise InputError(f"infinite sample value at frame {start + bad[0]}, channel {bad[1]} (float data must be "
                             "finite float32)", source=name)
        out[start:start + n] = block
    return ParsedSample(
        array=out, kind="audio", sensors=audio_sensors(channels), frequency_hz=float(rate),
        metadata={"wav_bits": bits, "wav_codec": "float" if tag == IEEE_FLOAT else "pcm"},
    )


def _check_fmt(fmt: bytes, name: str) -> tuple[int, int, int, int, int]:
    """(codec tag, channels, rate, bits, block align) of a supported 'fmt ' chunk."""
    tag, channels, rate, _byte_rate, block_align, bits = struct.unpack_from("<HHIIHH", fmt, 0)
    if tag == EXTENSIBLE:
        if len(fmt) < 40:
            raise InputError("bad WAV header: WAVE_FORMAT_EXTENSIBLE 'fmt ' chunk too short", source=name)
        sub = fmt[24:40]
        if sub[2:] != _SUBFORMAT_TAIL:
            raise InputError("unsupported WAV codec: unknown WAVE_FORMAT_EXTENSIBLE sub-format", source=name)
        tag = struct.unpack_from("<H", sub, 0)[0]
    if channels < 1:
        raise InputError("bad WAV header: zero channels", source=name)
    check_axes(channels, name, "channels", "channels")
    if rate < 1:
        raise InputError("bad WAV header: sample rate 0", source=name)
    check_interval_ms(1000.0 / rate, name, "sample_rate")
    if (tag == PCM and bits in (8, 16, 24, 32)) or (tag == IEEE_FLOAT and bits in (32, 64)):
        width = bits // 8
    else:
        codec = {PCM: "PCM", IEEE_FLOAT: "float"}.get(tag, f"format tag 0x{tag:04x}")
        raise InputError(f"unsupported WAV codec: {codec} with {bits} bits per sample", source=name)
    if block_align != width * channels:
        raise InputError(f"bad WAV header: block align {block_align} != {channels} channels x {width} bytes",
                         source=name)
    return tag, channels, rate, bits, block_align


def _decode(raw: bytes, tag: int, bits: int) -> np.ndarray:
    """Samples of one block as float32, normalized the way the module docstring says."""
    if tag == IEEE_FLOAT:
        with np.errstate(over="ignore"):  # float64 beyond float32 becomes inf, refused by the caller
            return np.frombuffer(raw, dtype="<f4" if bits == 32 else "<f8").astype(np.float32)
    if bits == 8:
        return (np.frombuffer(raw, dtype=np.uint8).astype(np.float32) - 128.0) / 128.0
    if bits == 16:
        return np.frombuffer(raw, dtype="<i2").astype(np.float32) / 32768.0
    if bits == 24:
        b = np.frombuffer(raw, dtype=np.uint8).reshape(-1, 3).astype(np.int32)
        v = b[:, 0] | (b[:, 1] << 8) | (b[:, 2] << 16)
        v = np.where(v >= 1 << 23, v - (1 << 24), v)
        return (v.astype(np.float64) / float(1 << 23)).astype(np.float32)
    return (np.frombuffer(raw, dtype="<i4").astype(np.float64) / float(1 << 31)).astype(np.float32)


def write_wav(array: np.ndarray, rate: int) -> bytes:
    """Serialize float32 ``[frames, channels]`` audio losslessly: 16-bit PCM when every value is an exact
    16-bit step (what 16-bit sources produce), else 32-bit float. Parsing it back gives the same array."""
    a = np.asarray(array, dtype=np.float32)
    if a.ndim == 1:
        a = a[:, None]
    frames, channels = a.shape
    scaled = a.astype(np.float64) * 32768.0
    if np.all(np.isfinite(scaled)) and np.all(scaled == np.round(scaled)) and scaled.min(initial=0) >= -32768 \
            and scaled.max(initial=0) <= 32767:
        tag, bits, body = PCM, 16, scaled.astype("<i2").tobytes()
    else:
        tag, bits, body = IEEE_FLOAT, 32, a.astype("<f4").tobytes()
    width = bits // 8
    fmt = struct.pack("<HHIIHH", tag, channels, rate, rate * channels * width, channels * width, bits)
    chunks = b"fmt " + struct.pack("<I", len(fmt)) + fmt + b"data" + struct.pack("<I", len(body)) + body
    if len(body) & 1:
        chunks += b"\x00"
    return b"RIFF" + struct.pack("<I", 4 + len(chunks)) + b"WAVE" + chunks
