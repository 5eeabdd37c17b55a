"""Edge Impulse's ``spectrogram``, ``mfe`` and ``mfcc`` blocks, implementation versions 1-4.

At version ``v`` each class produces the features Edge Impulse's own block produces at ``v`` for the same
window and parameters (same count and order, values within 1e-4 relative), as crisp-eml's reading of their
processing blocks (facts in ``docs/impulse.md``; framing, filterbank and sliding normalisation in
:mod:`crisp_eml.dsp.ei_mel`). The crisp-eml variants of these blocks stay in :mod:`crisp_eml.dsp.audio`.

Edge Impulse feeds audio as int16 sample values; ``input_scale`` (crisp-eml's own parameter, default 1.0)
multiplies the window first, so audio read in [-1, 1] is given ``input_scale = 32768``.

Per version (one axis only, as Edge Impulse; output ``[frames, bins]``, frame-major like theirs):

- spectrogram: power spectra ``P`` (``fft_length/2 + 1`` bins). v1/v2: ``(P - min) / (max - min)`` over the
  window's spectrogram (0 when constant). v3: the window is divided by 2^15 (float32) when a sample lies
  outside [-1, 1]; v3/v4: ``(10 log10 max(P, 1e-30) - nf) / (12 - nf)`` clipped to [0, 1] (v3) or below at
  0 only (v4).
- mfe: v3/v4 divide by 2^15 and pre-emphasise ``y[t] = x[t] - 0.98 x[t-1]`` with ``x[-1]`` = the last sample,
  in float32. Mel energies ``E = P FB^T`` (exact zeros -> 1e-10; old mels v1-v3). v1/v2: sliding mean
  (``win_size``) then min-max over the window unless the min or the max is 0. v3/v4: the noise-floor scaling
  of the spectrogram, clipped to [0, 1], quantised to ``round_half_even(256 y) / 256`` where 256 wraps to 0.
- mfcc: pre-emphasis ``y[t] = x[t] - pre_cof x[t - pre_shift]`` (wrapping), ``ln`` of the mel energies, DCT-II
  (orthonormal) keeping ``num_cepstral``, coefficient 0 replaced by ``ln(sum of the frame's power)``, then
  (``win_size > 0``) sliding mean and standard-deviation normalisation. Old mels v1-v3, new mels v4.
"""

from __future__ import annotations

from typing import Any, ClassVar

import numpy as np

from crisp_eml.core.errors import InputError
from crisp_eml.dsp.audio import dct_matrix
from crisp_eml.dsp.base import Block, Version, check_windows
from crisp_eml.dsp.ei_mel import check_frames, cmvnw, ei_filterbank, frame_geometry, power_spectra

_VERSIONS: tuple[Version, ...] = (1, 2, 3, 4)


class _EIAudioBlock(Block):
    """Framing, checks and shape shared by the three Edge Impulse audio blocks."""

    versions: ClassVar[tuple[Version, ...]] = _VERSIONS
    #: Edge Impulse's name for the block in its messages.
    label: ClassVar[str] = ""

    @property
    def v(self) -> int:
        return int(self.implementation_version)

    def geometry(self, window_len: int, fs: float) -> tuple[int, int, int]:
        return frame_geometry(self.v, float(fs), float(self.params["frame_length"]),
                              float(self.params["frame_stride"]), window_len)

    def n_bins(self) -> int:
        raise NotImplementedError

    def validate(self, window_len: int, n_axes: int, frequency_hz: float) -> None:
        self._number("input_scale", lo=0.0, lo_open=True)
        n = self._int("fft_length", lo=2, hi=65536)
        if n & (n - 1):
            raise InputError(f"must be a power of two, got {n}", field="fft_length")
        if n_axes != 1:
            raise InputError(f"Edge Impulse's {self.label} block reads a single axis, got {n_axes}; use one "
                             f"{self.type} block per axis", field="axes")
        self._number("frame_length", lo=0.0, lo_open=True)
        self._number("frame_stride", lo=0.0, lo_open=True)
        f, _, count = self.geometry(window_len, frequency_hz)
        if f < 1:
            raise InputError(f"under one sample at {frequency_hz:g} Hz", field="frame_length")
        check_frames(count)

    def output_shape(self, window_len: int, n_axes: int, frequency_hz: float) -> tuple[int, ...]:
        return (self.geometry(window_len, frequency_hz)[2], n_axes * self.n_bins())

    def signal(self, windows: np.ndarray) -> np.ndarray:
        """The window as float64 ``[n, L]`` (one axis), times ``input_scale``."""
        w = check_windows(windows)
        if w.shape[2] != 1:
            raise InputError(f"Edge Impulse's {self.label} block reads a single axis, got {w.shape[2]}",
                             field="axes")
        x = w[:, :, 0].astype(np.float64)
        scale = float(self.params["input_scale"])
        return x if scale == 1.0 else x * scale

    def power(self, x: np.ndarray, fs: float) -> np.ndarray:
        f, s, count = self.geometry(x.shape[1], fs)
        return power_spectra(x, f, s, count, int(self.params["fft_length"]))

    def cost(self, window_len: int, n_axes: int, frequency_hz: float) -> dict[str, int]:
        n = int(self.params["fft_length"])
        frames = self.geometry(window_len, frequency_hz)[2]
        bins = self.n_bins()
        ops = frames * (5 * n * int(np.log2(n)) // 2 + 3 * n + (n // 2 + 1) * bins)
        work = 4 * (2 * n + (n // 2 + 1) + frames * bins)
        win = self.sliding_window()
        if win:  # the sliding normalisation keeps the window's frames (twice for mfcc) and sums win rows each
            mfcc = self.type == "mfcc"  # mean and standard-deviation passes, a second buffer
            ops += frames * bins * win * (3 if mfcc else 1)
            work += 4 * frames * bins * (2 if mfcc else 1)
        return {"ops": int(ops * n_axes), "working_bytes": int(work)}

    def sliding_window(self) -> int:
        """The window of the sliding normalisation (``win_size``) where this version applies it, else 0."""
        return 0


def noise_floor_scale(v: np.ndarray, nf: float) -> np.ndarray:
    """``(10 log10 max(v, 1e-30) - nf) / (12 - nf)`` (float64), Edge Impulse's dB rescaling (unclipped)."""
    return np.asarray((10 * np.log10(np.maximum(v, 1e-30)) - nf) / ((-1 * nf) + 12))


def _check_noise_floor(blk: Block) -> None:
    if blk._number("noise_floor_db") == 12:
        raise InputError("must not be 12 dB (the scale 12 - noise_floor_db would be 0)", field="noise_floor_db")


class EISpectrogramBlock(_EIAudioBlock):
    type = "spectrogram"
    label = "Spectrogram"
    defaults: ClassVar[dict[str, Any]] = {"frame_length": 0.02, "frame_stride": 0.01, "fft_length": 128,
                                          "noise_floor_db": -52, "show_axes": True, "input_scale": 1.0}

    def n_bins(self) -> int:
        return int(self.params["fft_length"]) // 2 + 1

    def validate(self, window_len: int, n_axes: int, frequency_hz: float) -> None:
        super().validate(window_len, n_axes, frequency_hz)
        for name in ("frame_length", "frame_stride"):
            if float(self.params[name]) < 4 / frequency_hz:  # Edge Impulse's minimum: 4 samples
                raise InputError(f"must be at least 4 samples ({4 / frequency_hz:g} s at {frequency_hz:g} Hz)",
                                 field=name)
        _check_noise_floor(self)

    def transform(self, windows: np.ndarray, frequency_hz: float) -> np.ndarray:
        x = self.signal(windows)
        if self.v == 3:
            # deliberate (EI v3): rescale by 2^15 via float32 only windows with a sample outside [-1, 1]
            big = np.any((x < -1) | (x > 1), axis=1)
            x[big] = (x[big] / 2 ** 15).astype(np.float32)
        p = self.power(x, frequency_hz)
        if self.v < 3:
            mn = p.min(axis=(1, 2), keepdims=True)
            span = p.max(axis=(1, 2), keepdims=True) - mn
            with np.errstate(divide="ignore", invalid="ignore"):
                y = (p - mn) / span
            y[np.isnan(y)] = 0  # deliberate (EI): a constant spectrogram gives 0/0 -> 0
        else:
            y = noise_floor_scale(p, float(self.params["noise_floor_db"]))
            # deliberate (EI v4): no upper clip, values may exceed 1
            y = np.clip(y, 0, 1 if self.v == 3 else None)
        return y.astype(np.float32)


class _EIMelBlock(_EIAudioBlock):
    def high(self, fs: float) -> float:
        h = self.params["high_frequency"]
        return fs / 2 if not h else float(h)

    def validate(self, window_len: int, n_axes: int, frequency_hz: float) -> None:
        m = self._int("num_filters", hi=4096)
        if m < 2:
            raise InputError(f"must be at least 2, got {m}", field="num_filters")
        super().validate(window_len, n_axes, frequency_hz)
        lo = self._number("low_frequency", lo=0.0)
        if self.params["high_frequency"] is not None:  # None (crisp-eml's spelling) = 0 = half the rate
            self._number("high_frequency", lo=0.0)
        hi = self.high(frequency_hz)
        if hi > frequency_hz / 2:
            raise InputError(f"{hi:g} Hz is above half the sampling frequency ({frequency_hz / 2:g} Hz)",
                             field="high_frequency")
        if lo >= hi:
            raise InputError(f"{lo:g} Hz must be below high_frequency ({hi:g} Hz)", field="low_frequency")
        self.filterbank(frequency_hz)

    def filterbank(self, fs: float) -> np.ndarray:
        return ei_filterbank(int(self.params["num_filters"]), int(self.params["fft_length"]), float(fs),
                             self.params["low_frequency"], self.high(fs), self.v <= 3)

    def energies(self, x: np.ndarray, fs: float) -> tuple[np.ndarray, np.ndarray]:
        """(mel energies ``[n, frames, M]``, frame power sums ``[n, frames]``), exact zeros -> 1e-10."""
        p = self.power(x, fs)
        e = p @ self.filterbank(fs).T
        total = p.sum(axis=-1)
        # deliberate (EI): only exact zeros are replaced (by 1e-10) before the logs; tiny values stay
        return np.where(e == 0, 1e-10, e), np.where(total == 0, 1e-10, total)


class EIMfeBlock(_EIMelBlock):
    type = "mfe"
    label = "MFE"
    defaults: ClassVar[dict[str, Any]] = {
        "frame_length": 0.02, "frame_stride": 0.01, "num_filters": 40, "fft_length": 256, "low_frequency": 0,
        "high_frequency": 0, "win_size": 101, "noise_floor_db": -52, "input_scale": 1.0}

    def n_bins(self) -> int:
        return int(self.params["num_filters"])

    def sliding_window(self) -> int:
        return int(self.params["win_size"]) if self.v < 3 else 0

    def validate(self, window_len: int, n_axes: int, frequency_hz: float) -> None:
        super().validate(window_len, n_axes, frequency_hz)
        if self.v < 3:
            ws = self._int("win_size", lo=1)
            if ws % 2 == 0:
                raise InputError(f"must be odd, got {ws}", field="win_size")
        else:
            _check_noise_floor(self)

    def transform(self, windows: np.ndarray, frequency_hz: float) -> np.ndarray:
        if self.v >= 3:
            return quantize_u8(self.scaled(windows, frequency_hz))
        e, _ = self.energies(self.signal(windows), frequency_hz)
        y = cmvnw(e, int(self.params["win_size"]), variance=False)
        mn = y.min(axis=(1, 2), keepdims=True)
        mx = y.max(axis=(1, 2), keepdims=True)
        with np.errstate(divide="ignore", invalid="ignore"):
            scaled = (y - mn) / (mx - mn)
        # deliberate (EI): min-max only when neither the min nor the max is exactly 0
        y = np.where((mn != 0) & (mx != 0), scaled, y)
        y[np.isnan(y)] = 0
        return y.astype(np.float32)

    def scaled(self, windows: np.ndarray, frequency_hz: float) -> np.ndarray:
        """Versions 3/4 before the 8-bit quantisation: the clipped dB scale, float64 ``[n, frames, M]``."""
        x32 = (self.signal(windows) / 2 ** 15).astype(np.float32)
        # deliberate (EI): pre-emphasis wraps around (np.roll), so y[0] uses the window's last sample
        x = (x32 - np.float32(0.98) * np.roll(x32, 1, axis=1)).astype(np.float64)
        e, _ = self.energies(x, frequency_hz)
        return np.clip(noise_floor_scale(e, float(self.params["noise_floor_db"])), 0, 1)


def quantize_u8(y: np.ndarray) -> np.ndarray:
    """``round_half_even(256 y) / 256`` as float32, with 256 wrapping to 0.

    Deliberate (EI mfe v3/v4): Edge Impulse casts the rounded value to uint8, so a value that rounds to 256
    (``y >= 255.5 / 256``, a mel band 12 dB above full scale or more) becomes 0.
    """
    q = np.around(y * 2 ** 8)
    return np.asarray(np.where(q >= 256, q - 256, q) / 2 ** 8, dtype=np.float32)


class EIMfccBlock(_EIMelBlock):
    type = "mfcc"
    label = "MFCC"
    defaults: ClassVar[dict[str, Any]] = {
        "num_cepstral": 13, "frame_length": 0.02, "frame_stride": 0.02, "num_filters": 32, "fft_length": 256,
        "win_size": 101, "low_frequency": 0, "high_frequency": 0, "pre_cof": 0.98, "pre_shift": 1,
        "input_scale": 1.0}

    def n_bins(self) -> int:
        # deliberate (EI): more cepstral coefficients than filters give num_filters columns (DCT output cut)
        return min(int(self.params["num_cepstral"]), int(self.params["num_filters"]))

    def sliding_window(self) -> int:
        return max(0, int(self.params["win_size"]))

    def validate(self, window_len: int, n_axes: int, frequency_hz: float) -> None:
        super().validate(window_len, n_axes, frequency_hz)
        self._int("num_cepstral", lo=1)
        self._number("pre_cof")
        self._int("pre_shift", lo=1)
        ws = self._int("win_size")
        if ws > 0 and ws % 2 == 0:
            raise InputError(f"must be odd (or 0 to disable the normalisation), got {ws}", field="win_size")

    def transform(self, windows: np.ndarray, frequency_hz: float) -> np.ndarray:
        x = self.signal(windows)
        shift, cof = int(self.params["pre_shift"]), float(self.params["pre_cof"])
        # deliberate (EI): pre-emphasis wraps around (np.roll): the first pre_shift samples use the window's end
        x = x - cof * np.roll(x, shift, axis=1)
        e, total = self.energies(x, frequency_hz)
        c = np.log(e) @ dct_matrix(int(self.params["num_filters"]), self.n_bins())
        c[..., 0] = np.log(total)  # deliberate (EI): c0 is ln of the frame's power-spectrum sum
        ws = int(self.params["win_size"])
        if ws > 0:
            return cmvnw(c, ws, variance=True)
        return c.astype(np.float32)

