"""Edge Impulse's ``spectral-analysis`` block, implementation versions 1-4 (issue 16).

Why a separate class: impulses stored before versions existed use crisp-eml's own variant
(:class:`crisp_eml.dsp.spectral.SpectralAnalysisBlock`, unchanged); this class computes the features Edge
Impulse's own block computes at ``implementation_version`` 1-4 for the same window and parameters (same count,
order and values), written from the behaviour described in our spec notes, not from their code.

Per axis (axis-major output), every version:

1. ``x = float32(window[:, a]) * scale-axes`` (float32).
2. Version 4 with ``input-decimation-ratio`` r > 1: decimated by 3 / 10 stages (30 = 3 then 10, 100 = 10, 10,
   1000 = 10, 10, 10); each stage is an order-8 Chebyshev type I low-pass (0.05 dB ripple, edge 0.8 / stage)
   run forward with the initial state ``sosfilt_zi * x[0]``, keeping samples 0, s, 2s, ...; ``fs`` drops
   by r. (The decimated signal is float64 from here on, as in Edge Impulse.)
3. ``filter-type`` low / high with ``filter-order`` > 0: Butterworth second-order sections designed in double
   and rounded to float32, run forward from a zero state (direct form II transposed) -- **before** the mean
   is removed. ``filter-order`` 0 skips the filter but still selects bins (below).
4. ``x -= mean(x)``.

Then ``analysis-type`` "Wavelet" (versions 3 and 4): the wavelet features of ``x``
(:mod:`crisp_eml.dsp.ei_wavelet`). Otherwise the FFT analysis:

- Versions 2-4: ``[RMS, skewness, kurtosis, (v4: spectral skewness, spectral kurtosis), P[start..stop-1]]``
  where ``P`` is the max-hold spectrum ``max_f |rfft(frame_f, N)|^2 / N`` over frames of ``N = fft-length``
  samples starting at 0, s, 2s, ... while the start is ``<= len(x)`` (s = N - N/2 with ``do-fft-overlap``,
  else N; partial frames at the end are zero-padded, a frame starting at ``len(x)`` is all zeros), spectral
  skewness / kurtosis are taken over all N/2 + 1 linear bins (DC included), ``do-log`` takes ``log10`` after
  replacing exact zeros by 1e-10, and the bins kept are ``1 .. N/2`` for no filter, ``1 .. int(b + 0.5)`` for
  a low pass and ``max(1, int(b - 0.5) + 1) .. N/2`` for a high pass, with ``b = min(cutoff, fs/2) * N / fs``.
  Version 4 ``extra-low-freq``: the mean-removed ``x`` is decimated by 10 (one stage as in 2.), its mean
  removed, and the same features (spectral statistics always on) are appended for **all axes after all axes'
  main features**, labelled `` LF``.
- Version 1: ``[RMS, (freq, height) x spectral-peaks-count, band power x (edges - 1)]`` where heights are
  ``2/N |FFT(x[:N], N)[k]|`` for k < N/2, peaks are local maxima found as peakutils' ``indexes`` finds them
  (first-difference sign change from + to -, plateaus split at their middle, higher than the minimum),
  those below ``spectral-peaks-threshold`` dropped, the highest ``spectral-peaks-count`` kept (ties in
  index order), padded with (0, 0); peak frequencies are ``k * (fs/2) / (N/2 - 1)``; band powers are the
  mean of ``scipy.signal.periodogram(x, fs, nfft=N)`` over bins with ``lo <= f < hi``, divided by 10.

Skewness / kurtosis (scipy's biased, Fisher) of a constant signal: Edge Impulse pins scipy 1.7.3, where they
are 0 and -3; newer scipy gives NaN. We return 0 and -3 (:data:`crisp_eml.dsp.ei_signal.FLAT_SKEW_KURT`).
"""

from __future__ import annotations

import math
from typing import Any, ClassVar

import numpy as np

from crisp_eml.core.errors import InputError
from crisp_eml.dsp.base import Block, check_windows
from crisp_eml.dsp.ei_signal import (
    DECIMATION_RATIOS,
    LF_RATIO,
    RATIO_STAGES,
    cascade_stable,
    decimate,
    decimated_len,
    max_hold_spectrum,
    peak_indexes,
    skew_kurt,
)

LOG_ZERO = 1e-10
FILTER_TYPES = ("low", "high", "none")
ANALYSIS_TYPES = ("FFT", "Wavelet")


class EISpectralAnalysisBlock(Block):
    type = "spectral-analysis"
    versions = (1, 2, 3, 4)
    #: Every parameter of Edge Impulse's parameters.json with its default (input-decimation-ratio: its
    #: configType int).
    defaults: ClassVar[dict[str, Any]] = {
        "scale-axes": 1.0, "input-decimation-ratio": 1, "filter-type": "none", "filter-cutoff": 3.0,
        "filter-order": 6, "analysis-type": "FFT", "fft-length": 16, "spectral-peaks-count": 3,
        "spectral-peaks-threshold": 0.1, "spectral-power-edges": "0.1, 0.5, 1.0, 2.0, 5.0", "do-log": True,
        "do-fft-overlap": True, "wavelet-level": 1, "wavelet": "db4", "extra-low-freq": False,
    }

    # -- parameters ----------------------------------------------------------------------------------
    @property
    def v(self) -> int:
        return int(self.implementation_version)

    def wavelet_mode(self) -> bool:
        # deliberate: versions 1-2 ignore analysis-type (Edge Impulse computes FFT features there)
        return self.v >= 3 and self._choice("analysis-type", ANALYSIS_TYPES) == "Wavelet"

    def filter_type(self) -> str:
        return self._choice("filter-type", FILTER_TYPES)

    def ratio(self) -> int:
        r = self.params["input-decimation-ratio"]
        if isinstance(r, bool) or not isinstance(r, int | float) or r not in DECIMATION_RATIOS:
            raise InputError(f"must be one of {list(DECIMATION_RATIOS)}, got {r!r}", field="input-decimation-ratio")
        if int(r) > 1 and self.v < 4:
            raise InputError(f"input decimation needs implementation version 4 (this block is version {self.v})",
                             field="input-decimation-ratio")
        return int(r)

    def stages(self) -> tuple[int, ...]:
        return RATIO_STAGES[self.ratio()]

    def fft_length(self) -> int:
        # Edge Impulse refuses a non-power of two; 1 leaves no spectral bin at all
        return self._pow2("fft-length", lo=2, hi=65536)

    def edges(self) -> list[float]:
        e = self.params["spectral-power-edges"]
        try:
            if isinstance(e, str):
                return [float(item.strip()) for item in e.split(",")]
            if isinstance(e, list) and all(isinstance(v, int | float) and not isinstance(v, bool) for v in e):
                return [float(v) for v in e]
        except ValueError:
            pass
        raise InputError(f"must be comma-separated frequencies in Hz, got {e!r}", field="spectral-power-edges")

    def butter_sos(self, frequency_hz: float) -> np.ndarray | None:
        """The float32 Butterworth sections Edge Impulse filters with, or None (no filter); checks as it does."""
        ftype = self.filter_type()
        order = self._int("filter-order")
        cutoff = self._number("filter-cutoff")
        ratio = self.ratio()
        # deliberate: checked for any low / high filter type, even with filter-order 0, as Edge Impulse does
        if ratio > 1 and ftype != "none" and cutoff > 0.9 * frequency_hz / 2 / ratio:
            raise InputError(f"cutoff {cutoff:g} Hz is above 0.9 x the Nyquist frequency after decimating by {ratio} "
                             f"({0.9 * frequency_hz / 2 / ratio:g} Hz); lower input-decimation-ratio",
                             field="input-decimation-ratio")
        if ftype == "none" or order <= 0:
            return None
        if order % 2 or order > 8:
            raise InputError(f"must be even, 2 to 8 (or 0: no filter, bins still selected), got {order}",
                             field="filter-order")
        fs = frequency_hz / ratio
        wn = cutoff * 2 / fs
        if wn >= 1.0:
            raise InputError(f"cutoff {cutoff:g} Hz is not below the Nyquist frequency {fs / 2:g} Hz",
                             field="filter-cutoff")
        if wn <= 0.0:
            raise InputError(f"must be > 0 Hz, got {cutoff:g}", field="filter-cutoff")
        if not cascade_stable(order, cutoff, fs):
            raise InputError(f"the order-{order} filter at {cutoff:g} Hz is not stable at {fs:g} Hz (float32); "
                             "move the cutoff away from 0 and the Nyquist frequency", field="filter-cutoff")
        from scipy.signal import butter

        return np.asarray(butter(order, Wn=wn, btype=ftype, output="sos"), dtype=np.float64).astype(np.float32)

    def bins(self, fs_cur: float) -> tuple[int, int]:
        """First and one-past-last spectral bin kept at sampling frequency ``fs_cur`` (versions 2-4)."""
        n = self.fft_length()
        cutoff = min(self._number("filter-cutoff"), fs_cur / 2)
        b = cutoff * n / fs_cur
        ftype = self.filter_type()
        # deliberate: Edge Impulse's integer bin rule (int() truncates toward zero), on the pass side only
        if ftype == "high":
            return max(1, int(b - 0.5) + 1), n // 2 + 1
        if ftype == "low":
            return 1, int(b + 0.5) + 1
        return 1, n // 2 + 1

    def signal_len(self, window_len: int) -> int:
        return decimated_len(window_len, self.stages()) if self.v >= 4 else window_len

    def validate(self, window_len: int, n_axes: int, frequency_hz: float) -> None:
        self._number("scale-axes")
        if window_len < 1:
            raise InputError("the window holds no samples", field="window_len")
        self.ratio()
        self.butter_sos(frequency_hz)
        fs_cur = frequency_hz / self.ratio()
        length = self.signal_len(window_len)
        self._choice("analysis-type", ANALYSIS_TYPES)
        n = self.fft_length()  # Edge Impulse checks it in every mode
        if self.wavelet_mode():
            from crisp_eml.dsp.ei_wavelet import check_wavelet

            check_wavelet(length, str(self.params["wavelet"]), self._int("wavelet-level", lo=0), frequency_hz=fs_cur)
            return
        if self.v == 1:
            self._int("spectral-peaks-count", lo=0)  # more peaks than bins: padded with (0, 0), as EI does
            self._number("spectral-peaks-threshold")
            self.edges()
            return
        self._bool("do-log")
        self._bool("do-fft-overlap")
        if self.bins(fs_cur)[1] <= self.bins(fs_cur)[0]:
            raise InputError(f"the {self.params['filter-cutoff']:g} Hz cutoff leaves no FFT bin "
                             f"({n}-point FFT at {fs_cur:g} Hz); raise the cutoff or the fft-length",
                             field="filter-cutoff")
        if self.v >= 4 and self._bool("extra-low-freq"):
            lf_len = decimated_len(length, (LF_RATIO,))
            if lf_len < n / 2:
                raise InputError(f"extra-low-freq needs at least {n // 2 * LF_RATIO} samples per window after "
                                 f"decimation (has {length}); lower fft-length or lengthen the window",
                                 field="extra-low-freq")
            start, stop = self.bins(fs_cur / LF_RATIO)
            if stop <= start:
                raise InputError("the cutoff leaves no FFT bin of the extra-low-frequency spectrum",
                                 field="filter-cutoff")

    # -- shapes and names ----------------------------------------------------------------------------
    def _lf(self) -> bool:
        return self.v >= 4 and not self.wavelet_mode() and self._bool("extra-low-freq")

    def per_axis(self, frequency_hz: float) -> tuple[int, int]:
        """Features per axis: (main, extra-low-frequency)."""
        if self.wavelet_mode():
            return (int(self.params["wavelet-level"]) + 1) * 14, 0
        if self.v == 1:
            return 1 + 2 * int(self.params["spectral-peaks-count"]) + max(0, len(self.edges()) - 1), 0
        fs_cur = frequency_hz / self.ratio()
        stats = 5 if self.v >= 4 else 3
        start, stop = self.bins(fs_cur)
        lf = 0
        if self._lf():
            s2, e2 = self.bins(fs_cur / LF_RATIO)
            lf = 5 + e2 - s2
        return stats + stop - start, lf

    def output_shape(self, window_len: int, n_axes: int, frequency_hz: float) -> tuple[int, ...]:
        main, lf = self.per_axis(frequency_hz)
        return (n_axes * (main + lf),)

    def _spec_labels(self, fs_cur: float, suffix: str, stats: bool) -> list[str]:
        n = self.fft_length()
        names = ["RMS", "Skewness", "Kurtosis"] + (["Spectral Skewness", "Spectral Kurtosis"] if stats else [])
        step = 1.0 / (n * (1.0 / fs_cur))  # numpy rfftfreq's bin spacing
        start, stop = self.bins(fs_cur)
        for k in range(start, stop):
            f = k * step
            names.append(f"Spectral Power {round(f - step / 2, 2)} - {round(f + step / 2, 2)} Hz")
        return [s + suffix for s in names]

    def labels(self, frequency_hz: float) -> tuple[list[str], list[str]]:
        """Edge Impulse's per-axis labels: (main, extra-low-frequency)."""
        if self.wavelet_mode():
            from crisp_eml.dsp.ei_wavelet import ei_wavelet_names

            return ei_wavelet_names(int(self.params["wavelet-level"])), []
        if self.v == 1:
            names = ["RMS"]
            for i in range(1, int(self.params["spectral-peaks-count"]) + 1):
                names += [f"Peak {i} Freq", f"Peak {i} Height"]
            e = self.edges()
            names += [f"Spectral Power {lo} - {hi} Hz" for lo, hi in zip(e, e[1:], strict=False)]
            return names, []
        fs_cur = frequency_hz / self.ratio()
        main = self._spec_labels(fs_cur, "", self.v >= 4)
        lf = self._spec_labels(fs_cur / LF_RATIO, " LF", True) if self._lf() else []
        return main, lf

    def feature_names(self, axes: list[str], frequency_hz: float) -> list[str]:
        main, lf = self.labels(frequency_hz)
        return [f"{a} {s}" for a in axes for s in main] + [f"{a} {s}" for a in axes for s in lf]

    def cost(self, window_len: int, n_axes: int, frequency_hz: float) -> dict[str, int]:
        length = self.signal_len(window_len)
        ops = window_len * 4
        if self.butter_sos(frequency_hz) is not None:
            ops += 5 * int(self.params["filter-order"]) * length
        ops += 20 * window_len * len(self.stages())
        n = self.fft_length() if not self.wavelet_mode() else 1
        frames = 1 if self.v == 1 else length // max(1, n - n // 2) + 1
        ops += frames * int(5 * n * max(1.0, math.log2(n)))
        out = int(np.prod(self.output_shape(window_len, n_axes, frequency_hz)))
        return {"ops": n_axes * ops + out, "working_bytes": 4 * (window_len + 3 * n + 2) + 4 * out}

    # -- computation ---------------------------------------------------------------------------------
    def preprocess(self, windows: np.ndarray, frequency_hz: float) -> tuple[np.ndarray, float]:
        """Steps 1-4: the signal Edge Impulse analyses, ``[n, axes, L']`` (float32, float64 after input
        decimation), and its sampling frequency."""
        from scipy.signal import sosfilt

        w = check_windows(windows)
        x = np.ascontiguousarray(w.transpose(0, 2, 1)) * np.float32(self._number("scale-axes"))
        fs = float(frequency_hz)
        if self.v >= 4:
            for r in self.stages():
                x = decimate(x, r)
                fs /= r
        sos = self.butter_sos(frequency_hz)
        if sos is not None:
            # deliberate: float32 coefficients, filtered before the mean is removed, as Edge Impulse does
            x = np.ascontiguousarray(sosfilt(sos, x, axis=-1))
        x = x - x.mean(axis=-1, keepdims=True)
        return x, fs

    def transform(self, windows: np.ndarray, frequency_hz: float) -> np.ndarray:
        w = check_windows(windows)
        self.validate(w.shape[1], w.shape[2], frequency_hz)
        n = w.shape[0]
        if n == 0:
            return np.zeros((0, *self.output_shape(w.shape[1], w.shape[2], frequency_hz)), dtype=np.float32)
        x, fs = self.preprocess(w, frequency_hz)
        if self.wavelet_mode():
            from crisp_eml.dsp.ei_wavelet import ei_wavelet_features

            f = ei_wavelet_features(x, str(self.params["wavelet"]), int(self.params["wavelet-level"]))
            return np.asarray(f, dtype=np.float32).reshape(n, -1)
        if self.v == 1:
            return self._v1(x, fs).reshape(n, -1).astype(np.float32)
        main = self._spectral(x, fs, self.v >= 4)
        parts = [main.reshape(n, -1)]
        if self._lf():
            # deliberate: every axis' extra-low-frequency features come after all axes' main features
            y = decimate(x, LF_RATIO)
            y = y - y.mean(axis=-1, keepdims=True)
            parts.append(self._spectral(y, fs / LF_RATIO, True).reshape(n, -1))
        return np.concatenate(parts, axis=1).astype(np.float32)

    def _spectral(self, x: np.ndarray, fs: float, stats: bool) -> np.ndarray:
        """Versions 2-4 features ``[n, axes, per_axis]`` of the mean-removed signal ``x`` at ``fs``."""
        res = 1e-6 if x.dtype == np.float32 else 1e-15  # numpy's resolution of the dtype scipy computes in
        rms = np.sqrt(np.mean(np.square(x), axis=-1))
        sk, ku = skew_kurt(x, res)
        p = max_hold_spectrum(x, self.fft_length(), bool(self.params["do-fft-overlap"]))
        cols = [rms[..., None], sk[..., None], ku[..., None]]
        if stats:
            # deliberate: spectral statistics over every linear bin, DC included, before the log
            ssk, sku = skew_kurt(p, 1e-15)
            cols += [ssk[..., None], sku[..., None]]
        if self.params["do-log"]:
            p = np.log10(np.where(p == 0, LOG_ZERO, p))  # deliberate: only exact zeros are floored
        start, stop = self.bins(fs)
        cols.append(p[..., start:stop])
        return np.concatenate([c.astype(np.float64) for c in cols], axis=-1)

    def _v1(self, x: np.ndarray, fs: float) -> np.ndarray:
        """Version 1 features ``[n, axes, per_axis]``."""
        from scipy.signal import periodogram

        n_fft = self.fft_length()
        k_peaks = int(self.params["spectral-peaks-count"])
        thr = float(self.params["spectral-peaks-threshold"])
        edges = self.edges()
        rms = np.sqrt(np.mean(np.square(x), axis=-1))
        seg = x[..., :n_fft].astype(np.float64)  # deliberate: an N-point FFT sees only the first N samples
        spec = np.fft.fft(seg, n=n_fft, axis=-1)[..., : n_fft // 2]
        heights = (2.0 / n_fft * np.abs(spec)).astype(x.dtype)
        # deliberate: Edge Impulse's frequency axis is linspace(0, fs/2, N/2), spacing (fs/2)/(N/2 - 1)
        freq_axis = np.linspace(0.0, 1.0 / (2.0 * (1 / fs)), n_fft // 2)
        f_axis, pxx = periodogram(x, fs, nfft=n_fft, axis=-1)
        masks = [(f_axis >= lo) & (f_axis < hi) for lo, hi in zip(edges, edges[1:], strict=False)]
        out = np.zeros((*x.shape[:2], 1 + 2 * k_peaks + len(masks)), dtype=np.float64)
        out[..., 0] = rms
        for idx in np.ndindex(*x.shape[:2]):
            h = heights[idx]
            found = [(float(freq_axis[p]), float(h[p])) for p in peak_indexes(h) if h[p] >= thr]
            found.sort(key=lambda fh: fh[1], reverse=True)  # stable: ties keep index order
            for j, (f, v) in enumerate(found[:k_peaks]):
                out[(*idx, 1 + 2 * j)] = f
                out[(*idx, 2 + 2 * j)] = v
        for j, m in enumerate(masks):
            # deliberate: the band power is the mean periodogram density over its bins, divided by 10
            band = pxx[..., m].astype(np.float64).mean(axis=-1) if m.any() else 0.0
            out[..., 1 + 2 * k_peaks + j] = np.asarray(band) / 10.0
        return out
