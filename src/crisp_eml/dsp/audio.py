"""The ``spectrogram``, ``mfe`` and ``mfcc`` blocks: framed power spectra, mel energies and cepstra.

Shared framing, per window and axis (``L`` = window length, ``fs`` = frequency):

- ``F = round(frame_length * fs)`` samples per frame, stride ``S = round(frame_stride * fs)``,
  ``n_frames = 1 + (L - F) // S``; frame ``i`` is ``x[i*S : i*S + F]``.
- multiplied by the window function over ``F`` samples (``window``: ``hann`` = periodic Hann
  ``0.5 - 0.5 cos(2 pi t / F)``, ``hamming`` = periodic ``0.54 - 0.46 cos(2 pi t / F)``, ``none``).
- real FFT of length ``N = fft_length`` (power of two) of the frame truncated or zero-padded to ``N``
  samples (numpy ``rfft(frame, n=N)``); power ``P[k] = |X[k]|**2 / N`` for ``k = 0..N/2``.

``spectrogram``: ``P`` (``N/2 + 1`` bins) per frame, then noise-floor normalisation (below).

``mfe``: mel energies ``E[m] = sum_k FB[m, k] * P[k]``, ``m < num_filters``, then normalisation.
The filterbank: mel(f) = 2595 log10(1 + f / 700) (HTK); ``num_filters + 2`` points equally spaced in mel
from mel(low_frequency) to mel(high_frequency) (``high_frequency`` 0/None = fs/2), converted back to Hz
``f[0..M+1]``. ``filterbank = "continuous"`` (default, = ``librosa.filters.mel(htk=True, norm=None)``):
``FB[m, k] = max(0, min((b_k - f[m]) / (f[m+1] - f[m]), (f[m+2] - b_k) / (f[m+2] - f[m+1])))`` with
``b_k = k fs / N``. ``filterbank = "bins"`` (= python_speech_features / speechpy): edge bins
``j[i] = floor((N + 1) f[i] / fs)``, ``FB[m, k] = (k - j[m]) / (j[m+1] - j[m])`` for ``j[m] <= k < j[m+1]``
and ``(j[m+2] - k) / (j[m+2] - j[m+1])`` for ``j[m+1] <= k < j[m+2]``, else 0.

Noise-floor normalisation (spectrogram and mfe): ``db = 10 log10(v + 1e-30)``,
``out = clip((db - noise_floor_db) / (-noise_floor_db + 12), 0, 1)``.

``mfcc``: pre-emphasis over the window first, ``y[0] = x[0]``, ``y[t] = x[t] - pre_cof * x[t-1]``; framing,
power and mel energies as above; ``l = 10 log10(max(E, 1e-10))`` (librosa ``power_to_db`` without top_db);
DCT-II with orthonormal scaling over the ``num_filters`` values
(``c[q] = s_q sum_m l[m] cos(pi q (2m + 1) / (2M))``, ``s_0 = sqrt(1/M)``, ``s_q = sqrt(2/M)``), keeping
``q < num_cepstral``; then, when ``win_size`` > 0 (odd), sliding cepstral mean normalisation over frames
(speechpy ``cmvnw`` without variance normalisation): pad the ``[n_frames, num_cepstral]`` matrix with
``(win_size - 1) / 2`` rows at both ends in numpy ``'symmetric'`` mode and subtract from each frame the mean
of the ``win_size`` padded rows centred on it.

Output ``[n_frames, axes * bins]`` (for one axis simply ``[n_frames, bins]``), float32.
"""

from __future__ import annotations

from collections.abc import Callable
from functools import lru_cache
from typing import Any, ClassVar

import numpy as np

from crisp_eml.core.errors import InputError
from crisp_eml.dsp.base import Block, check_windows

WINDOWS = ("hann", "hamming", "none")


def hz_to_mel(f: np.ndarray | float) -> np.ndarray:
    return np.asarray(2595.0 * np.log10(1.0 + np.asarray(f, dtype=np.float64) / 700.0))


def mel_to_hz(m: np.ndarray | float) -> np.ndarray:
    return np.asarray(700.0 * (10.0 ** (np.asarray(m, dtype=np.float64) / 2595.0) - 1.0))


@lru_cache(maxsize=64)
def mel_filterbank(num_filters: int, fft_length: int, fs: float, low: float, high: float,
                   style: str = "continuous") -> np.ndarray:
    """``[num_filters, fft_length/2 + 1]`` float64 triangular mel filters (see the module docstring)."""
    pts = mel_to_hz(np.linspace(hz_to_mel(low), hz_to_mel(high), num_filters + 2))
    nb = fft_length // 2 + 1
    fb = np.zeros((num_filters, nb))
    if style == "continuous":
        bins = np.arange(nb) * fs / fft_length
        for m in range(num_filters):
            lo, c, hi = pts[m], pts[m + 1], pts[m + 2]
            up = (bins - lo) / (c - lo) if c > lo else np.zeros(nb)
            down = (hi - bins) / (hi - c) if hi > c else np.zeros(nb)
            fb[m] = np.maximum(0.0, np.minimum(up, down))
    else:
        j = np.floor((fft_length + 1) * pts / fs).astype(int)
        for m in range(num_filters):
            for k in range(j[m], j[m + 1]):
                if 0 <= k < nb:
                    fb[m, k] = (k - j[m]) / (j[m + 1] - j[m])
            for k in range(j[m + 1], j[m + 2]):
                if 0 <= k < nb:
                    fb[m, k] = (j[m + 2] - k) / (j[m + 2] - j[m + 1])
    fb.setflags(write=False)
    return fb


@lru_cache(maxsize=64)
def dct_matrix(num_filters: int, num_cepstral: int) -> np.ndarray:
    """``[num_filters, num_cepstral]`` orthonormal DCT-II matrix: ``c = l @ D``."""
    m = np.arange(num_filters)[:, None]
    q = np.arange(num_cepstral)[None, :]
    d = np.cos(np.pi * q * (2 * m + 1) / (2 * num_filters)) * np.sqrt(2.0 / num_filters)
    d[:, 0] = np.sqrt(1.0 / num_filters)
    d.setflags(write=False)
    return d


def window_function(name: str, n: int) -> np.ndarray:
    t = np.arange(n)
    if name == "hann":
        return np.asarray(0.5 - 0.5 * np.cos(2 * np.pi * t / n))
    if name == "hamming":
        return np.asarray(0.54 - 0.46 * np.cos(2 * np.pi * t / n))
    return np.ones(n)


def noise_floor(v: np.ndarray, noise_floor_db: float) -> np.ndarray:
    db = 10.0 * np.log10(v + 1e-30)
    return np.asarray(np.clip((db - noise_floor_db) / (-noise_floor_db + 12.0), 0.0, 1.0))


class _FramedBlock(Block):
    """Framing and power spectrum shared by the three audio blocks."""

    bins_kind: ClassVar[str] = ""

    def frame_len(self, fs: float) -> int:
        return int(round(float(self.params["frame_length"]) * fs))

    def frame_stride(self, fs: float) -> int:
        return int(round(float(self.params["frame_stride"]) * fs))

    def n_frames(self, window_len: int, fs: float) -> int:
        return 1 + (window_len - self.frame_len(fs)) // self.frame_stride(fs)

    def n_bins(self) -> int:
        raise NotImplementedError

    def validate(self, window_len: int, n_axes: int, frequency_hz: float) -> None:
        fl = self._number("frame_length", lo=0.0, lo_open=True)
        fst = self._number("frame_stride", lo=0.0, lo_open=True)
        self._pow2("fft_length", lo=16, hi=8192)
        self._choice("window", WINDOWS)
        if self.frame_len(frequency_hz) < 2:
            raise InputError(f"{fl} s is under two samples at {frequency_hz:g} Hz", field="frame_length")
        if self.frame_stride(frequency_hz) < 1:
            raise InputError(f"{fst} s is under one sample at {frequency_hz:g} Hz", field="frame_stride")
        if self.frame_len(frequency_hz) > window_len:
            raise InputError(f"frame of {fl} s ({self.frame_len(frequency_hz)} samples) is longer than the "
                             f"window ({window_len} samples)", field="frame_length")

    def output_shape(self, window_len: int, n_axes: int, frequency_hz: float) -> tuple[int, ...]:
        return (self.n_frames(window_len, frequency_hz), n_axes * self.n_bins())

    def prepare(self, x: np.ndarray) -> np.ndarray:
        return x

    def power(self, windows: np.ndarray, fs: float, post: Callable[[np.ndarray], np.ndarray] | None = None,
              chunk: int = 8) -> np.ndarray:
        """Power spectra ``[n, axes, n_frames, N/2 + 1]`` (float32 arithmetic), or ``post`` of them.

        Computed ``chunk`` windows at a time (keeps the working set in cache); ``post`` maps each chunk's
        power spectra (e.g. to mel energies) before the chunks are concatenated.
        """
        import scipy.fft

        x = self.prepare(check_windows(windows).transpose(0, 2, 1))  # [n, A, L]
        f, s, n = self.frame_len(fs), self.frame_stride(fs), int(self.params["fft_length"])
        count = 1 + (x.shape[-1] - f) // s
        win = window_function(str(self.params["window"]), f).astype(np.float32)
        outs = []
        for i in range(0, max(1, x.shape[0]), chunk):
            part = x[i:i + chunk]
            frames = np.lib.stride_tricks.sliding_window_view(part, f, axis=-1)[..., ::s, :][..., :count, :]
            framed = frames * win
            if f > n:
                framed = framed[..., :n]
            spec = scipy.fft.rfft(framed, n=n, axis=-1, overwrite_x=True)
            p = np.square(spec.real)
            p += np.square(spec.imag)
            p *= np.float32(1.0 / n)
            outs.append(post(p) if post is not None else p)
        return np.concatenate(outs, axis=0)

    def finish(self, v: np.ndarray) -> np.ndarray:
        """``v`` ``[n, A, frames, bins]`` -> ``[n, frames, A * bins]``."""
        n, a, fr, b = v.shape
        return np.ascontiguousarray(v.transpose(0, 2, 1, 3).reshape(n, fr, a * b)).astype(np.float32)

    def cost(self, window_len: int, n_axes: int, frequency_hz: float) -> dict[str, int]:
        n = int(self.params["fft_length"])
        frames = self.n_frames(window_len, frequency_hz)
        ops = frames * (5 * n * int(np.log2(n)) // 2 + 3 * n + (n // 2 + 1) * self.n_bins())
        work = 4 * (2 * n + (n // 2 + 1) + frames * self.n_bins())
        return {"ops": int(ops * n_axes), "working_bytes": int(work)}


class SpectrogramBlock(_FramedBlock):
    type = "spectrogram"
    defaults: ClassVar[dict[str, Any]] = {"frame_length": 0.02, "frame_stride": 0.01, "fft_length": 128,
                                          "noise_floor_db": -52.0, "window": "hann"}

    def n_bins(self) -> int:
        return int(self.params["fft_length"]) // 2 + 1

    def validate(self, window_len: int, n_axes: int, frequency_hz: float) -> None:
        super().validate(window_len, n_axes, frequency_hz)
        self._number("noise_floor_db", hi=-1e-6)

    def transform(self, windows: np.ndarray, frequency_hz: float) -> np.ndarray:
        p = self.power(windows, frequency_hz)
        return self.finish(noise_floor(p, float(self.params["noise_floor_db"])))


class _MelBlock(_FramedBlock):
    def n_bins(self) -> int:
        return int(self.params["num_filters"])

    def high(self, fs: float) -> float:
        h = self.params.get("high_frequency")
        return fs / 2.0 if not h else float(h)

    def validate(self, window_len: int, n_axes: int, frequency_hz: float) -> None:
        super().validate(window_len, n_axes, frequency_hz)
        self._int("num_filters", lo=2, hi=512)
        self._choice("filterbank", ("continuous", "bins"))
        lo = self._number("low_frequency", lo=0.0)
        if self.params.get("high_frequency"):
            self._number("high_frequency", lo=0.0, lo_open=True)
        hi = self.high(frequency_hz)
        if hi > frequency_hz / 2.0 + 1e-9:
            raise InputError(f"{hi:g} Hz is above the Nyquist frequency {frequency_hz / 2:g} Hz",
                             field="high_frequency")
        if lo >= hi:
            raise InputError(f"{lo:g} Hz must be below high_frequency ({hi:g} Hz)", field="low_frequency")

    def filterbank(self, fs: float) -> np.ndarray:
        return mel_filterbank(int(self.params["num_filters"]), int(self.params["fft_length"]), float(fs),
                              float(self.params["low_frequency"]), self.high(fs), str(self.params["filterbank"]))

    def mel_energies(self, windows: np.ndarray, frequency_hz: float) -> np.ndarray:
        """Mel energies ``[n, axes, n_frames, num_filters]`` (before any log or normalisation)."""
        fb = self.filterbank(frequency_hz).T.astype(np.float32)
        return self.power(windows, frequency_hz, post=lambda p: np.matmul(p, fb))


class MfeBlock(_MelBlock):
    type = "mfe"
    defaults: ClassVar[dict[str, Any]] = {
        "frame_length": 0.02, "frame_stride": 0.01, "num_filters": 40, "fft_length": 256, "low_frequency": 0.0,
        "high_frequency": None, "noise_floor_db": -52.0, "window": "hann", "filterbank": "continuous"}

    def validate(self, window_len: int, n_axes: int, frequency_hz: float) -> None:
        super().validate(window_len, n_axes, frequency_hz)
        self._number("noise_floor_db", hi=-1e-6)

    def transform(self, windows: np.ndarray, frequency_hz: float) -> np.ndarray:
        e = self.mel_energies(windows, frequency_hz)
        return self.finish(noise_floor(e, float(self.params["noise_floor_db"])))


class MfccBlock(_MelBlock):
    type = "mfcc"
    defaults: ClassVar[dict[str, Any]] = {
        "num_cepstral": 13, "frame_length": 0.02, "frame_stride": 0.02, "num_filters": 32, "fft_length": 256,
        "low_frequency": 0.0, "high_frequency": None, "pre_cof": 0.98, "win_size": 101, "window": "hann",
        "filterbank": "continuous"}

    def n_bins(self) -> int:
        return int(self.params["num_cepstral"])

    def validate(self, window_len: int, n_axes: int, frequency_hz: float) -> None:
        super().validate(window_len, n_axes, frequency_hz)
        nc = self._int("num_cepstral", lo=1)
        if nc > int(self.params["num_filters"]):
            raise InputError(f"{nc} cepstral coefficients need at least as many filters "
                             f"(num_filters={self.params['num_filters']})", field="num_cepstral")
        self._number("pre_cof", lo=0.0, hi=1.0)
        ws = self._int("win_size", lo=0, hi=10001)
        if ws and ws % 2 == 0:
            raise InputError(f"must be odd (or 0 to disable normalisation), got {ws}", field="win_size")

    def prepare(self, x: np.ndarray) -> np.ndarray:
        c = np.float32(self.params["pre_cof"])
        if c == 0:
            return x
        y = x.copy()
        y[..., 1:] = x[..., 1:] - c * x[..., :-1]
        return y

    def transform(self, windows: np.ndarray, frequency_hz: float) -> np.ndarray:
        fb = self.filterbank(frequency_hz).T.astype(np.float32)
        d = dct_matrix(int(self.params["num_filters"]), int(self.params["num_cepstral"])).astype(np.float32)

        def cepstra(p: np.ndarray) -> np.ndarray:
            e = np.matmul(p, fb)
            lg = np.float32(10.0) * np.log10(np.maximum(e, np.float32(1e-10)))
            return np.asarray(np.matmul(lg, d))

        c = self.power(windows, frequency_hz, post=cepstra)  # [n, A, frames, q]
        ws = int(self.params["win_size"])
        if ws:
            c = cmvn_window(c, ws)
        return self.finish(c)


def cmvn_window(c: np.ndarray, win_size: int) -> np.ndarray:
    """Sliding mean normalisation over the frame axis (-2), speechpy ``cmvnw`` semantics."""
    half = (win_size - 1) // 2
    pad = [(0, 0)] * c.ndim
    pad[-2] = (half, half)
    padded = np.pad(c.astype(np.float64), pad, mode="symmetric")
    cs = np.cumsum(padded, axis=-2)
    zero = np.zeros_like(cs[..., :1, :])
    cs = np.concatenate([zero, cs], axis=-2)
    n = c.shape[-2]
    means = (cs[..., win_size:win_size + n, :] - cs[..., :n, :]) / win_size
    return np.asarray(c - means, dtype=np.float32)
