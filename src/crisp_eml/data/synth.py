"""Built-in synthetic datasets for the demo and the tests: motion (accelerometer) and keywords (speech).

Motion: 3-axis accelerometer ``accX/accY/accZ`` in m/s2 at 62.5 Hz, labels ``idle``, ``wave``,
``circle``, ``updown``. Each "subject" has their own amplitude, tempo, wrist tilt and noise level,
each recording its own phase, duration (2-4 s) and jitter, so classes are learnable but no two samples
are alike. The subject is stored in the sample metadata (``subject``) for keep-together splits.

Keywords: 1 s, 16 kHz mono 16-bit WAV clips of "yes" and "no", an ``unknown`` class (other words) and
a ``noise`` class, spoken by the ``espeak-ng`` synthesizer with several voices, speeds and pitches and
mixed with synthetic background noise.

Shapes: 32x32 RGB PNGs of a filled ``circle``, ``square`` or ``triangle`` with random position, size and
colour on a noisy background, plus an ``empty`` class (background noise only).

Everything is deterministic for a given seed.
"""

from __future__ import annotations

import shutil
import subprocess
import tempfile
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from crisp_eml.core.errors import InputError, ToolMissingError
from crisp_eml.core.sample import Sensor

MOTION_LABELS = ("idle", "wave", "circle", "updown")
MOTION_HZ = 62.5
G = 9.80665
ACC = (Sensor("accX", "m/s2"), Sensor("accY", "m/s2"), Sensor("accZ", "m/s2"))
KEYWORD_LABELS = ("yes", "no", "unknown", "noise")
UNKNOWN_WORDS = ("up", "down", "left", "right", "go", "stop", "on", "off", "cat", "tree", "house", "seven")
VOICES = ("en", "en-us", "en+m3", "en+f2", "en-gb+m1", "en+f4")
KEYWORD_RATE = 16_000


@dataclass(frozen=True)
class SynthFile:
    relative: str  # file name inside the output folder
    label: str
    subject: str


def _rotation(rng: np.random.Generator, max_deg: float) -> np.ndarray:
    ax, ay = np.deg2rad(rng.uniform(-max_deg, max_deg, 2))
    rx = np.array([[1, 0, 0], [0, np.cos(ax), -np.sin(ax)], [0, np.sin(ax), np.cos(ax)]])
    ry = np.array([[np.cos(ay), 0, np.sin(ay)], [0, 1, 0], [-np.sin(ay), 0, np.cos(ay)]])
    return np.asarray(rx @ ry)


def motion_signal(label: str, subject_rng: np.random.Generator, rng: np.random.Generator, seconds: float) -> np.ndarray:
    """One recording, float32 ``[n, 3]`` in m/s2. ``subject_rng`` must be freshly seeded per subject."""
    amp = subject_rng.uniform(0.8, 1.25)
    tempo = subject_rng.uniform(0.85, 1.2)
    tilt = _rotation(subject_rng, 12.0)
    noise = subject_rng.uniform(0.08, 0.2)
    n = int(round(seconds * MOTION_HZ))
    t = np.arange(n) / MOTION_HZ
    phase = rng.uniform(0, 2 * np.pi)
    f_jit = tempo * rng.uniform(0.92, 1.08)
    sig = np.zeros((n, 3))
    sig[:, 2] = G
    if label == "idle":
        sig += 0.15 * np.sin(2 * np.pi * 0.3 * t + phase)[:, None] * rng.normal(0, 1, 3)
    elif label == "wave":
        f = 2.0 * f_jit
        sig[:, 0] += 6.0 * amp * np.sin(2 * np.pi * f * t + phase)
        sig[:, 1] += 1.2 * amp * np.sin(2 * np.pi * 2 * f * t + phase)
    elif label == "circle":
        f = 1.0 * f_jit
        sig[:, 0] += 4.5 * amp * np.sin(2 * np.pi * f * t + phase)
        sig[:, 1] += 4.5 * amp * np.cos(2 * np.pi * f * t + phase)
    elif label == "updown":
        f = 1.4 * f_jit
        sig[:, 2] += 7.0 * amp * np.sin(2 * np.pi * f * t + phase)
        sig[:, 0] += 0.8 * amp * np.sin(2 * np.pi * f * t + phase + 1.0)
    else:
        raise InputError(f"unknown motion label {label!r}; one of {', '.join(MOTION_LABELS)}", field="label")
    sig = sig @ tilt.T + rng.normal(0, noise, sig.shape)
    return sig.astype(np.float32)


def _subject_seed(seed: int, subject: int) -> np.random.Generator:
    return np.random.default_rng([seed, 1000 + subject])


def write_motion(
    out: Path, *, seed: int = 0, subjects: int = 5, per_subject: int = 6, fmt: str = "json",
    on_progress: Callable[[int, int, str], None] | None = None,
) -> list[SynthFile]:
    """Write ``4 labels x subjects x per_subject`` recordings as ``<label>.s<NN>-<k>.json`` (Edge Impulse
    JSON, unsigned, with ``payload.metadata.subject``) or ``.csv`` (no metadata; subject only in the name)."""
    if fmt not in ("json", "csv"):
        raise InputError(f"motion format must be json or csv, got {fmt!r}", field="format")
    if subjects < 1 or per_subject < 1:
        raise InputError("subjects and per-subject counts must be at least 1", field="size")
    from crisp_eml.data.formats.csv_series import write_csv
    from crisp_eml.data.formats.ei_acquisition import build_message, encode

    out.mkdir(parents=True, exist_ok=True)
    files: list[SynthFile] = []
    total = len(MOTION_LABELS) * subjects * per_subject
    for li, label in enumerate(MOTION_LABELS):
        for subj in range(subjects):
            subject = f"s{subj + 1:02d}"
            for k in range(per_subject):
                rng = np.random.default_rng([seed, li, subj, k])
                seconds = float(rng.uniform(2.0, 4.0))
                sig = motion_signal(label, _subject_seed(seed, subj), rng, seconds)
                name = f"{label}.{subject}-{k + 1:02d}.{fmt}"
                if fmt == "json":
                    msg = build_message(sig, ACC, MOTION_HZ, device_type="crisp-eml-synth",
                                        device_name=f"synth-{subject}", metadata={"subject": subject})
                    data = encode(msg)
                else:
                    data = write_csv(sig, ACC, MOTION_HZ)
                (out / name).write_bytes(data)
                files.append(SynthFile(name, label, subject))
                if on_progress is not None:
                    on_progress(len(files), total, name)
    return files


def espeak_path() -> str:
    exe = shutil.which("espeak-ng")
    if exe is None:
        raise ToolMissingError("espeak-ng is not installed (Debian: apt-get install espeak-ng); "
                               "it is needed for the keyword dataset")
    return exe


def _speak(exe: str, word: str, voice: str, speed: int, pitch: int) -> np.ndarray:
    from scipy.signal import resample_poly

    from crisp_eml.data.formats.wav import parse_wav

    with tempfile.TemporaryDirectory() as tmp:
        wav = Path(tmp) / "word.wav"
        proc = subprocess.run([exe, "-v", voice, "-s", str(speed), "-p", str(pitch), "-w", str(wav), word],
                              capture_output=True, timeout=60, check=False)
        if proc.returncode != 0 or not wav.is_file():
            raise ToolMissingError(f"espeak-ng failed for voice {voice}: {proc.stderr.decode(errors='replace')[:200]}")
        parsed = parse_wav(wav.read_bytes(), "espeak-ng output")
    x = parsed.array[:, 0].astype(np.float64)
    rate = int(parsed.frequency_hz or KEYWORD_RATE)
    if rate != KEYWORD_RATE:
        from math import gcd

        g = gcd(KEYWORD_RATE, rate)
        x = resample_poly(x, KEYWORD_RATE // g, rate // g)
    return np.asarray(x)


def _background(rng: np.random.Generator, n: int) -> np.ndarray:
    """Brown-ish hum plus white hiss, no external recordings needed."""
    white = rng.normal(0, 1, n)
    brown = np.cumsum(rng.normal(0, 1, n))
    brown -= np.linspace(brown[0], brown[-1], n)
    brown /= np.abs(brown).max() + 1e-9
    hum = np.sin(2 * np.pi * rng.uniform(50, 120) * np.arange(n) / KEYWORD_RATE)
    return np.asarray(0.5 * white / 3 + 0.4 * brown + 0.1 * hum)


def write_keywords(
    out: Path, *, seed: int = 0, per_class: int = 8,
    on_progress: Callable[[int, int, str], None] | None = None,
) -> list[SynthFile]:
    """Write ``4 x per_class`` one-second clips ``<label>.<voice>-<k>.wav`` (16 kHz mono 16-bit)."""
    from crisp_eml.data.formats.wav import write_wav

    exe = espeak_path()
    if per_class < 1:
        raise InputError("per-class count must be at least 1", field="size")
    out.mkdir(parents=True, exist_ok=True)
    files: list[SynthFile] = []
    total = len(KEYWORD_LABELS) * per_class
    n = KEYWORD_RATE
    for li, label in enumerate(KEYWORD_LABELS):
        for k in range(per_class):
            rng = np.random.default_rng([seed, 77, li, k])
            voice = VOICES[int(rng.integers(len(VOICES)))]
            clip = np.zeros(n)
            if label != "noise":
                word = label if label in ("yes", "no") else UNKNOWN_WORDS[int(rng.integers(len(UNKNOWN_WORDS)))]
                speech = _speak(exe, word, voice, int(rng.integers(120, 200)), int(rng.integers(25, 80)))
                nz = np.flatnonzero(np.abs(speech) > 0.02 * (np.abs(speech).max() + 1e-9))
                speech = speech[nz[0]:nz[-1] + 1] if nz.size else speech
                speech = speech[:n]
                speech = speech / (np.abs(speech).max() + 1e-9) * rng.uniform(0.4, 0.9)
                start = int(rng.integers(0, n - len(speech) + 1))
                clip[start:start + len(speech)] = speech
            bg = _background(rng, n) * (rng.uniform(0.05, 0.2) if label != "noise" else rng.uniform(0.1, 0.5))
            audio = np.clip(clip + bg, -1.0, 32767 / 32768)
            pcm = np.round(audio * 32768.0) / 32768.0
            name = f"{label}.{voice.replace('+', '_')}-{k + 1:02d}.wav"
            (out / name).write_bytes(write_wav(pcm.astype(np.float32)[:, None], KEYWORD_RATE))
            files.append(SynthFile(name, label, voice))
            if on_progress is not None:
                on_progress(len(files), total, name)
    return files


SHAPE_LABELS = ("circle", "square", "triangle", "empty")
SHAPE_SIDE = 32


def shape_image(label: str, rng: np.random.Generator, side: int = SHAPE_SIDE) -> np.ndarray:
    """One uint8 ``[side, side, 3]`` RGB picture: a filled shape of random size, position and colour on a
    noisy random background (``empty``: background only, with some blotchy noise). Shapes are always
    clearly brighter or darker than the background so the class is visible in every channel mix."""
    bright_shape = bool(rng.integers(2))
    bg = rng.uniform(15, 90, 3) if bright_shape else rng.uniform(165, 240, 3)
    img = np.clip(bg + rng.normal(0, 10, (side, side, 3)), 0, 255)
    yy, xx = np.mgrid[0:side, 0:side].astype(np.float64) + 0.5
    r = rng.uniform(0.28, 0.40) * side
    cx, cy = rng.uniform(r + 1, side - r - 1, 2)
    if label == "circle":
        mask = (xx - cx) ** 2 + (yy - cy) ** 2 <= r * r
    elif label == "square":
        h = r * 0.85
        mask = (np.abs(xx - cx) <= h) & (np.abs(yy - cy) <= h)
    elif label == "triangle":  # apex up: inside when between the two slanted edges and above the base
        top, base = cy - r, cy + r * 0.8
        half = (yy - top) / (base - top) * r
        mask = (yy >= top) & (yy <= base) & (np.abs(xx - cx) <= half)
    elif label == "empty":
        mask = np.zeros((side, side), dtype=bool)
        img = np.clip(img + rng.normal(0, 20, (side, side, 1)), 0, 255)
    else:
        raise InputError(f"unknown shape label {label!r}; one of {', '.join(SHAPE_LABELS)}", field="label")
    colour = rng.uniform(170, 250, 3) if bright_shape else rng.uniform(10, 85, 3)
    img[mask] = np.clip(colour + rng.normal(0, 8, (int(mask.sum()), 3)), 0, 255)
    return np.round(img).astype(np.uint8)


def write_shapes(
    out: Path, *, seed: int = 0, per_class: int = 30,
    on_progress: Callable[[int, int, str], None] | None = None,
) -> list[SynthFile]:
    """Write ``4 x per_class`` 32x32 RGB PNGs ``<label>.<k>.png`` (circle, square, triangle, empty)."""
    from crisp_eml.data.formats.image import write_png

    if per_class < 1:
        raise InputError("per-class count must be at least 1", field="size")
    out.mkdir(parents=True, exist_ok=True)
    files: list[SynthFile] = []
    total = len(SHAPE_LABELS) * per_class
    for li, label in enumerate(SHAPE_LABELS):
        for k in range(per_class):
            rng = np.random.default_rng([seed, 313, li, k])
            name = f"{label}.{k + 1:03d}.png"
            (out / name).write_bytes(write_png(shape_image(label, rng)))
            files.append(SynthFile(name, label, f"{k + 1:03d}"))
            if on_progress is not None:
                on_progress(len(files), total, name)
    return files
