"""WAV (RIFF/WAVE) audio: PCM 8/16/24/32-bit integer and 32/64-bit float, any channel count and rate.

The stdlib ``wave`` module reads integer PCM only (no float, no WAVE_FORMAT_EXTENSIBLE float), so the
RIFF chunks are parsed here. Samples are normalized to float32 in [-1, 1): unsigned 8-bit as
``(x - 128) / 128``, signed n-bit as ``x / 2**(n-1)``; float data is kept as is (float64 -> float32).
A data chunk size that is a known streaming placeholder (``0xFFFFFFFF``, ``0x7FFFF000``...) means "to
the end of the file"; any other size beyond the end is a truncated file. Channels become axes
``audio`` (mono) or ``audio0, audio1, ...`` with units ``wav``.
"""

from __future__ import annotations

import struct

import numpy as np

from crisp_eml.core.errors import InputError
from crisp_eml.core.sample import Sensor
from crisp_eml.data.formats.parsed import ParsedSample, check_interval_ms

PCM, IEEE_FLOAT, EXTENSIBLE = 0x0001, 0x0003, 0xFFFE
STREAMING_SIZES = {0xFFFFFFFF, 0x7FFFFFFF, 0x7FFFF000}  # placeholders written by pipes (ffmpeg, espeak-ng)
_SUBFORMAT_TAIL = bytes.fromhex("000000001000800000aa00389b71")  # KSDATAFORMAT_SUBTYPE_* GUID after the tag


def audio_sensors(channels: int) -> tuple[Sensor, ...]:
    if channels == 1:
        return (Sensor("audio", "wav"),)
    return tuple(Sensor(f"audio{i}", "wav") for i in range(channels))


def parse_wav(data: bytes, name: str) -> ParsedSample:
    if len(data) < 12 or data[:4] != b"RIFF" or data[8:12] != b"WAVE":
        raise InputError("bad WAV header: not a RIFF/WAVE file", source=name)
    pos, fmt, pcm = 12, None, None
    while pos + 8 <= len(data):
        cid, size = data[pos:pos + 4], struct.unpack_from("<I", data, pos + 4)[0]
        body = data[pos + 8:pos + 8 + size]
        if cid == b"fmt ":
            if len(body) < 16:
                raise InputError("bad WAV header: 'fmt ' chunk shorter than 16 bytes", source=name)
            fmt = body
        elif cid == b"data":
            if size in STREAMING_SIZES and len(body) < size:
                body = data[pos + 8:]  # a streaming writer's placeholder: the data runs to the end
            elif len(body) < size:
                raise InputError(f"truncated WAV: data chunk declares {size} bytes, {len(body)} present", source=name)
            pcm = body
            break
        pos += 8 + size + (size & 1)
    if fmt is None:
        raise InputError("bad WAV header: no 'fmt ' chunk before the data", source=name)
    if pcm is None:
        raise InputError("bad WAV file: no 'data' chunk", source=name)
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
    frames = len(pcm) // block_align
    if frames == 0:
        raise InputError("WAV file has no audio frames", source=name)
    if len(pcm) % block_align:
        raise InputError(f"truncated WAV: data length {len(pcm)} is not a multiple of the frame size {block_align}",
                         source=name)
    raw = pcm[: frames * block_align]
    if tag == IEEE_FLOAT:
        arr = np.frombuffer(raw, dtype="<f4" if bits == 32 else "<f8").astype(np.float32)
    elif bits == 8:
        arr = (np.frombuffer(raw, dtype=np.uint8).astype(np.float32) - 128.0) / 128.0
    elif bits == 16:
        arr = np.frombuffer(raw, dtype="<i2").astype(np.float32) / 32768.0
    elif bits == 24:
        b = np.frombuffer(raw, dtype=np.uint8).reshape(-1, 3).astype(np.int32)
        v = b[:, 0] | (b[:, 1] << 8) | (b[:, 2] << 16)
        v = np.where(v >= 1 << 23, v - (1 << 24), v)
        arr = (v.astype(np.float64) / float(1 << 23)).astype(np.float32)
    else:
        arr = (np.frombuffer(raw, dtype="<i4").astype(np.float64) / float(1 << 31)).astype(np.float32)
    return ParsedSample(
        array=np.ascontiguousarray(arr.reshape(frames, channels)), kind="audio", sensors=audio_sensors(channels),
        frequency_hz=float(rate), metadata={"wav_bits": bits, "wav_codec": "float" if tag == IEEE_FLOAT else "pcm"},
    )


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
