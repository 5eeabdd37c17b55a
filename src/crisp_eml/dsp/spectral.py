"""The ``spectral-analysis`` block: optional Butterworth filter, then FFT or wavelet features per axis.

Exact algorithm (per window, per axis ``a`` in the block's axis order; ``L`` = window length,
``fs`` = frequency):

1. ``x[t] = window[t, a] * scale-axes``; subtract the window mean: ``x -= mean(x)``.
2. Filter (``filter-type`` ``low`` | ``high``; ``none`` skips): ``sos = scipy.signal.butter(filter-order,
   filter-cutoff, btype, fs=fs, output='sos')`` — second-order sections ``[b0 b1 b2 1 a1 a2]`` applied in
   cascade, forward only, zero initial state, each section in direct form II transposed
   (``y = b0*x + z1; z1 = b1*x - a1*y + z2; z2 = b2*x - a2*y``) = ``scipy.signal.sosfilt``.
   ``validate`` rejects a cutoff outside (0, fs/2) and any section with a pole of modulus >= 1 - 1e-9.
3. ``analysis-type`` = ``FFT``:
   - time features of the filtered ``y``: rms = sqrt(mean(y**2)), skewness, kurtosis
     (:func:`crisp_eml.dsp.base.moments`);
   - spectrum, ``N`` = ``fft-length`` (power of two): frames of ``N`` samples starting at 0 with stride
     ``N/2`` (``do-fft-overlap``) or ``N``; ``n_frames = 1 + (L - N) // stride``; when ``L < N`` one frame,
     zero-padded to ``N``. No window function (rectangular). ``P[k] = |FFT(frame)[k]|**2 / N`` for
     ``k = 1..N/2`` (DC dropped, Nyquist kept), averaged over frames: ``N/2`` values;
   - ``spectral-peaks-count`` K > 0: bins ``k`` in ``1..N/2`` with ``P[k] > P[k-1]`` and ``P[k] >= P[k+1]``
     (neighbours outside ``1..N/2`` count as -inf) and ``P[k] >= spectral-peaks-threshold``, ordered by
     ``P`` descending (ties: lower ``k`` first); the first K give ``(k * fs / N, P[k])`` pairs, padded with
     zeros: ``2K`` values;
   - ``spectral-power-edges`` (ascending Hz list E, may be empty): for each band j, the sum of ``P[k]``
     over ``k`` in ``1..N/2`` with ``E[j] <= k*fs/N < E[j+1]``: ``len(E) - 1`` values;
   - ``do-log``: every spectral value (bins, peak heights, band powers) becomes
     ``log10(max(v, 1e-10))``; peak frequencies are not logged.
   Per axis: ``[rms, skew, kurt, P[1..N/2], peaks, bands]``.
4. ``analysis-type`` = ``wavelet``: ``pywt.wavedec(y, wavelet, mode='symmetric', level=wavelet-level)``
   gives ``level + 1`` coefficient arrays ``[cA_n, cD_n, ..., cD_1]``; for each, 14 features: entropy
   ``-sum(p ln p)`` with ``p = c**2 / sum(c**2)`` (0 terms skipped; 0 when all c are 0), the
   5/25/50/75/95th percentiles (numpy linear interpolation), mean, std, var, rms, skewness, kurtosis,
   zero-crossing rate and mean-crossing rate (sign changes of ``c`` and ``c - mean(c)`` divided by
   ``len(c)``; a sign change is ``s[i] * s[i+1] < 0``).

Output ``[axes * per_axis]`` float32, axis-major.
"""

from __future__ import annotations

from typing import Any, ClassVar

import numpy as np

from crisp_eml.core.errors import InputError
from crisp_eml.dsp.base import Block, check_windows, moments, scale_axes

WAVELET_FEATURES = ("entropy", "p5", "p25", "p50", "p75", "p95", "mean", "std", "var", "rms", "skew",
                    "kurtosis", "zcr", "mcr")
LOG_FLOOR = 1e-10


class SpectralAnalysisBlock(Block):
    type = "spectral-analysis"
    defaults: ClassVar[dict[str, Any]] = {
        "scale-axes": 1.0, "input-decimation-ratio": 1, "filter-type": "none", "filter-cutoff": 3.0,
        "filter-order": 6, "analysis-type": "FFT", "fft-length": 16, "do-log": True, "do-fft-overlap": True,
        "spectral-peaks-count": 0, "spectral-peaks-threshold": 0.1, "spectral-power-edges": [],
        "wavelet-level": 1, "wavelet": "db4",
    }

    # -- parameters ----------------------------------------------------------------------------------
    def sos(self, frequency_hz: float) -> np.ndarray | None:
        ftype = self._choice("filter-type", ("none", "low", "high"))
        if ftype == "none":
            return None
        from scipy.signal import butter

        order = self._int("filter-order", lo=1, hi=20)
        cutoff = self._number("filter-cutoff", lo=0.0, lo_open=True)
        nyq = frequency_hz / 2.0
        if cutoff >= nyq:
            raise InputError(f"cutoff {cutoff} Hz must be below the Nyquist frequency {nyq:g} Hz "
                             f"(sampling at {frequency_hz:g} Hz)", field="filter-cutoff")
        sos: np.ndarray = butter(order, cutoff, btype="lowpass" if ftype == "low" else "highpass",
                                 fs=frequency_hz, output="sos")
        for sec in sos:
            poles = np.roots([1.0, sec[4], sec[5]])
            if np.any(np.abs(poles) >= 1.0 - 1e-9) or not np.all(np.isfinite(sec)):
                raise InputError(f"the order-{order} Butterworth filter at {cutoff} Hz is numerically unstable "
                                 f"at {frequency_hz:g} Hz; lower filter-order or raise the cutoff",
                                 field="filter-cutoff")
        return sos

    def _edges(self) -> list[float]:
        e = self.params["spectral-power-edges"]
        if isinstance(e, str):
            e = [float(v) for v in e.replace(";", ",").split(",") if v.strip()]
        if not isinstance(e, list) or not all(isinstance(v, int | float) and not isinstance(v, bool) for v in e):
            raise InputError(f"must be a list of frequencies in Hz, got {e!r}", field="spectral-power-edges")
        if len(e) == 1 or any(b <= a for a, b in zip(e, e[1:], strict=False)):
            raise InputError("needs at least two strictly ascending edges (or none)", field="spectral-power-edges")
        return [float(v) for v in e]

    def validate(self, window_len: int, n_axes: int, frequency_hz: float) -> None:
        self._number("scale-axes")
        if self._int("input-decimation-ratio", lo=1) != 1:
            raise InputError("only 1 is supported", field="input-decimation-ratio")
        self.sos(frequency_hz)
        mode = self._choice("analysis-type", ("FFT", "wavelet"))
        if mode == "FFT":
            self._pow2("fft-length", lo=2, hi=4096)
            self._bool("do-log")
            self._bool("do-fft-overlap")
            self._int("spectral-peaks-count", lo=0, hi=64)
            self._number("spectral-peaks-threshold")
            edges = self._edges()
            if edges and edges[0] < 0:
                raise InputError("edges must be >= 0 Hz", field="spectral-power-edges")
        else:
            import pywt

            name = self.params["wavelet"]
            if name not in pywt.wavelist(kind="discrete"):
                raise InputError(f"unknown discrete wavelet {name!r}", field="wavelet")
            level = self._int("wavelet-level", lo=1, hi=10)
            max_level = pywt.dwt_max_level(window_len, pywt.Wavelet(name).dec_len)
            if level > max(1, max_level):
                raise InputError(f"level {level} is too deep for a {window_len}-sample window with {name} "
                                 f"(max {max(1, max_level)})", field="wavelet-level")

    def _per_axis(self, window_len: int) -> int:
        if self.params["analysis-type"] == "wavelet":
            return (int(self.params["wavelet-level"]) + 1) * len(WAVELET_FEATURES)
        n = int(self.params["fft-length"])
        edges = self._edges()
        return 3 + n // 2 + 2 * int(self.params["spectral-peaks-count"]) + max(0, len(edges) - 1)

    def output_shape(self, window_len: int, n_axes: int, frequency_hz: float) -> tuple[int, ...]:
        return (n_axes * self._per_axis(window_len),)

    def feature_names(self, axes: list[str], frequency_hz: float) -> list[str]:
        names: list[str] = []
        for a in axes:
            if self.params["analysis-type"] == "wavelet":
                lv = int(self.params["wavelet-level"])
                bands = [f"cA{lv}"] + [f"cD{i}" for i in range(lv, 0, -1)]
                names += [f"{a} {b} {f}" for b in bands for f in WAVELET_FEATURES]
                continue
            n = int(self.params["fft-length"])
            names += [f"{a} rms", f"{a} skewness", f"{a} kurtosis"]
            names += [f"{a} spectral {k * frequency_hz / n:.3g} Hz" for k in range(1, n // 2 + 1)]
            for i in range(int(self.params["spectral-peaks-count"])):
                names += [f"{a} peak {i + 1} freq", f"{a} peak {i + 1} height"]
            e = self._edges()
            names += [f"{a} power {lo:g}-{hi:g} Hz" for lo, hi in zip(e, e[1:], strict=False)]
        return names

    # -- computation ---------------------------------------------------------------------------------
    def filtered(self, windows: np.ndarray, frequency_hz: float) -> np.ndarray:
        """Steps 1-2: mean-removed, scaled, filtered signal ``[n, axes, L]`` (float64)."""
        x = scale_axes(self, check_windows(windows)).transpose(0, 2, 1).astype(np.float64)
        x = x - x.mean(axis=-1, keepdims=True)
        sos = self.sos(frequency_hz)
        if sos is not None:
            from scipy.signal import sosfilt

            x = sosfilt(sos, x, axis=-1)
        return x

    def power_spectrum(self, y: np.ndarray) -> np.ndarray:
        """Mean over frames of ``|FFT|**2 / N`` at bins 1..N/2 for ``y`` ``[..., L]``."""
        n = int(self.params["fft-length"])
        length = y.shape[-1]
        if length < n:
            frames = np.zeros((*y.shape[:-1], 1, n))
            frames[..., 0, :length] = y
        else:
            stride = n // 2 if self.params["do-fft-overlap"] else n
            count = 1 + (length - n) // stride
            idx = np.arange(count)[:, None] * stride + np.arange(n)[None, :]
            frames = y[..., idx]
        spec = np.fft.rfft(frames, axis=-1)
        p = (spec.real ** 2 + spec.imag ** 2) / n
        return np.asarray(p.mean(axis=-2)[..., 1:])

    def transform(self, windows: np.ndarray, frequency_hz: float) -> np.ndarray:
        w = check_windows(windows)
        y = self.filtered(w, frequency_hz)  # [n, A, L]
        out = self._wavelet(y) if self.params["analysis-type"] == "wavelet" else self._fft(y, frequency_hz)
        return out.reshape(w.shape[0], -1).astype(np.float32)

    def _fft(self, y: np.ndarray, frequency_hz: float) -> np.ndarray:
        _, _, skew, kurt = moments(y)
        rms = np.sqrt((y * y).mean(axis=-1))
        p = self.power_spectrum(y)  # [n, A, N/2]
        n = int(self.params["fft-length"])
        log = bool(self.params["do-log"])

        def lg(v: np.ndarray) -> np.ndarray:
            return np.log10(np.maximum(v, LOG_FLOOR)) if log else v

        parts = [rms[..., None], skew[..., None], kurt[..., None], lg(p)]
        k_peaks = int(self.params["spectral-peaks-count"])
        if k_peaks:
            parts.append(self._peaks(p, k_peaks, frequency_hz, n, lg))
        edges = self._edges()
        if edges:
            freqs = np.arange(1, n // 2 + 1) * frequency_hz / n
            bands = [p[..., (freqs >= lo) & (freqs < hi)].sum(axis=-1) for lo, hi in
                     zip(edges, edges[1:], strict=False)]
            parts.append(lg(np.stack(bands, axis=-1)))
        return np.concatenate(parts, axis=-1)

    def _peaks(self, p: np.ndarray, k: int, fs: float, n: int, lg: Any) -> np.ndarray:
        thr = float(self.params["spectral-peaks-threshold"])
        pad = np.full((*p.shape[:-1], 1), -np.inf)
        ext = np.concatenate([pad, p, pad], axis=-1)
        is_peak = (p > ext[..., :-2]) & (p >= ext[..., 2:]) & (p >= thr)
        score = np.where(is_peak, p, -np.inf)
        order = np.argsort(-score, axis=-1, kind="stable")[..., :k]
        heights = np.take_along_axis(score, order, axis=-1)
        valid = np.isfinite(heights)
        freqs = np.where(valid, (order + 1) * fs / n, 0.0)
        hv = np.where(valid, lg(np.where(valid, heights, 1.0)), 0.0)
        out = np.stack([freqs, hv], axis=-1)  # [n, A, k, 2]
        return out.reshape(*p.shape[:-1], 2 * k)

    def _wavelet(self, y: np.ndarray) -> np.ndarray:
        import pywt

        coeffs = pywt.wavedec(y, self.params["wavelet"], mode="symmetric", level=int(self.params["wavelet-level"]),
                              axis=-1)
        return np.concatenate([wavelet_features(c) for c in coeffs], axis=-1)

    def cost(self, window_len: int, n_axes: int, frequency_hz: float) -> dict[str, int]:
        order = int(self.params["filter-order"]) if self.params["filter-type"] != "none" else 0
        ops = window_len * (8 + 5 * ((order + 1) // 2))
        if self.params["analysis-type"] == "FFT":
            n = int(self.params["fft-length"])
            stride = n // 2 if self.params["do-fft-overlap"] else n
            frames = 1 if window_len < n else 1 + (window_len - n) // stride
            ops += frames * (5 * n * max(1, int(np.log2(n))) // 2 + 4 * n)
            work = 4 * (window_len + 2 * n + n // 2)
        else:
            ops += 4 * window_len * 8 + 30 * window_len
            work = 4 * 3 * window_len
        return {"ops": int(ops * n_axes), "working_bytes": int(work + 4 * self._per_axis(window_len) * n_axes)}


def _crossings(c: np.ndarray) -> np.ndarray:
    s = np.sign(c)
    return np.asarray((s[..., :-1] * s[..., 1:] < 0).sum(axis=-1) / c.shape[-1])


def wavelet_features(c: np.ndarray) -> np.ndarray:
    """The 14 wavelet features of coefficient arrays ``c`` ``[..., m]`` (see the module docstring)."""
    e = c * c
    tot = e.sum(axis=-1, keepdims=True)
    p = np.where(tot > 0, e / np.where(tot > 0, tot, 1.0), 0.0)
    ent = -np.where(p > 0, p * np.log(np.where(p > 0, p, 1.0)), 0.0).sum(axis=-1)
    pct = np.percentile(c, [5, 25, 50, 75, 95], axis=-1)
    mu, sd, sk, ku = moments(c)
    rms = np.sqrt(e.mean(axis=-1))
    zcr = _crossings(c)
    mcr = _crossings(c - mu[..., None])
    return np.stack([ent, *pct, mu, sd, sd * sd, rms, sk, ku, zcr, mcr], axis=-1)
