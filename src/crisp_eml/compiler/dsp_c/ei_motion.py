"""C for Edge Impulse's ``spectral-analysis`` versions 1-4 (FFT mode): the twin of :mod:`crisp_eml.dsp.ei_spectral`.

Why its own renderer: Edge Impulse's block filters before removing the mean, keeps a max-hold spectrum over
frames that run past the window end, selects bins on the pass side of the cutoff and, at version 1, finds
peaks and band powers its own way (see the Python module's docstring); the crisp renderer in :mod:`.motion`
computes crisp-eml's variant. Everything runs in float32: the Butterworth sections are Edge Impulse's own
float32 coefficients, the decimation sections (double in Edge Impulse) are rounded to float, all sections
run in direct form II transposed, one section over the whole signal after the other (the same arithmetic as
the sample-by-sample cascade). Wavelet mode (versions 3 and 4) is rendered by
:func:`crisp_eml.compiler.dsp_c.ei_wavelet.render_ei_wavelet`, which may reuse :func:`emit_ei_preprocess`.
"""

from __future__ import annotations

import zlib

import numpy as np

from crisp_eml.compiler.dsp_c.emit import Ctx, farr, flit
from crisp_eml.compiler.dsp_c.fft import use_complex, use_real
from crisp_eml.dsp.base import Block
from crisp_eml.dsp.ei_signal import LF_RATIO, decimated_len, decimation_sos
from crisp_eml.dsp.ei_spectral import EISpectralAnalysisBlock

SOSFILT = r"""
/* Second-order sections sos[6 * ns] (b0 b1 b2 a0 a1 a2, a0 = 1) over x[0..n) in place, direct form II
   transposed; initial state zi[2 * s] * x0 (zi NULL: zero state), as scipy.signal.sosfilt. */
static void ei_sosfilt(float *x, int n, const float *sos, int ns, const float *zi)
{
    int s, i;
    const float x0 = x[0];
    for (s = 0; s < ns; s++) {
        const float *c = &sos[6 * s];
        float z1 = zi ? zi[2 * s] * x0 : 0.0f, z2 = zi ? zi[2 * s + 1] * x0 : 0.0f;
        for (i = 0; i < n; i++) {
            float in = x[i], out = c[0] * in + z1;
            z1 = c[1] * in - c[4] * out + z2;
            z2 = c[2] * in - c[5] * out;
            x[i] = out;
        }
    }
}
"""

REMOVE_MEAN = r"""
/* numpy's float32 pairwise sum (8 accumulators up to 128 values, halves at multiples of 8 above; recursion
   depth log2(n / 128)): the same rounding as numpy's mean, so a constant signal leaves the same residue. */
static float ei_pairwise_sum(const float *a, int n)
{
    int i, j, n2;
    float r[8], res = 0.0f;
    if (n < 8) {
        for (i = 0; i < n; i++) { res += a[i]; }
        return res;
    }
    if (n <= 128) {
        for (j = 0; j < 8; j++) { r[j] = a[j]; }
        for (i = 8; i < n - (n % 8); i += 8) {
            for (j = 0; j < 8; j++) { r[j] += a[i + j]; }
        }
        res = ((r[0] + r[1]) + (r[2] + r[3])) + ((r[4] + r[5]) + (r[6] + r[7]));
        for (; i < n; i++) { res += a[i]; }
        return res;
    }
    n2 = n / 2;
    n2 -= n2 % 8;
    return ei_pairwise_sum(a, n2) + ei_pairwise_sum(a + n2, n - n2);
}

/* x -= mean(x) over x[0..m), for n values (m <= n); returns the mean. */
static float ei_remove_mean(float *x, int n, int m)
{
    float mean = ei_pairwise_sum(x, m) / (float)m;
    int i;
    for (i = 0; i < n; i++) { x[i] -= mean; }
    return mean;
}
"""

DECIMATE = r"""
/* One decimation stage: filter, keep samples 0, r, 2r, ...; returns the new length. */
static int ei_decimate(float *x, int n, const float *sos, const float *zi, int r)
{
    int i, m = (n + r - 1) / r;
    ei_sosfilt(x, n, sos, 4, zi);
    for (i = 0; i < m; i++) { x[i] = x[i * r]; }
    return m;
}
"""

STATS = r"""
/* scipy.stats skew / kurtosis (biased, Fisher) of x[0..n); flat (m2 <= (res * mean)^2): 0 and -3 (Edge
   Impulse's pinned scipy). Moments of (x - mean) / max|x - mean|: the same ratios, no float overflow. */
static void ei_skew_kurt(const float *x, int n, float res, float *sk, float *ku)
{
    float mu = 0.0f, big = 0.0f, m2 = 0.0f, m3 = 0.0f, m4 = 0.0f;
    int i;
    for (i = 0; i < n; i++) { mu += x[i]; }
    mu /= (float)n;
    for (i = 0; i < n; i++) { float d = fabsf(x[i] - mu); if (d > big) { big = d; } }
    if (big > 0.0f) {
        for (i = 0; i < n; i++) {
            float d = (x[i] - mu) / big, d2 = d * d;
            m2 += d2; m3 += d2 * d; m4 += d2 * d2;
        }
        m2 /= (float)n; m3 /= (float)n; m4 /= (float)n;
    }
    if (big == 0.0f || m2 * big * big <= (res * mu) * (res * mu)) { *sk = 0.0f; *ku = -3.0f; return; }
    *sk = m3 / (m2 * sqrtf(m2));
    *ku = m4 / (m2 * m2) - 3.0f;
}
"""

RMS = r"""
static float ei_rms(const float *x, int n)
{
    float sq = 0.0f;
    int i;
    for (i = 0; i < n; i++) { sq += x[i] * x[i]; }
    return sqrtf(sq / (float)n);
}
"""

MAX_HOLD = r"""
/* q[k] = max over frames of |rfft(frame, nfft)[k]|^2 / nfft, k = 0..nfft/2; frames start at 0, step, ...
   while start <= n, zero-padded past n. */
static void ei_max_hold(const float *x, int n, int nfft, int step, float *q)
{
    int s, j, k, h = nfft / 2;
    for (k = 0; k <= h; k++) { q[k] = 0.0f; }
    for (s = 0; s <= n; s += step) {
        for (j = 0; j < h; j++) {
            int i = s + 2 * j;
            s_re[j] = i < n ? x[i] : 0.0f;
            s_im[j] = i + 1 < n ? x[i + 1] : 0.0f;
        }
        dsp_rfft_power(nfft, s_p);
        for (k = 0; k <= h; k++) { if (s_p[k] > q[k]) { q[k] = s_p[k]; } }
    }
}
"""

PEAKS = r"""
/* pk[i] = 1 where v[0..n) has a peak as peakutils.indexes(v, thres=0) finds it: first differences, a run of
   zero differences takes the difference before it on its left half and the one after it from its middle on
   (at the start: the one after, at the end: the one before), dy[i-1] > 0 > dy[i], v[i] > min(v). */
static void ei_peaks(const float *v, int n, float *dy, unsigned char *pk)
{
    int i, a, b, m = n - 1, any = 0;
    float lo = v[0];
    for (i = 0; i < n; i++) { pk[i] = 0; if (v[i] < lo) { lo = v[i]; } }
    for (i = 0; i < m; i++) { dy[i] = v[i + 1] - v[i]; if (dy[i] != 0.0f) { any = 1; } }
    if (!any) { return; }
    for (i = 0; i < m;) {
        if (dy[i] != 0.0f) { i++; continue; }
        a = i;
        while (i < m && dy[i] == 0.0f) { i++; }
        b = i - 1;
        for (i = a; i <= b; i++) {
            if (a == 0) { dy[i] = dy[b + 1]; }
            else if (b == m - 1) { dy[i] = dy[a - 1]; }
            else { dy[i] = 2 * i < a + b ? dy[a - 1] : dy[b + 1]; }
        }
        i = b + 1;
    }
    for (i = 1; i < m; i++) { pk[i] = dy[i - 1] > 0.0f && dy[i] < 0.0f && v[i] > lo; }
}
"""


def _use_decimate(ctx: Ctx) -> None:
    ctx.extra_helpers.setdefault("ei_sosfilt", SOSFILT)
    ctx.extra_helpers.setdefault("ei_decimate", DECIMATE)


def _const(ctx: Ctx, name: str, values: np.ndarray) -> str:
    if not any(c.startswith(f"static const float {name}[") for c in ctx.consts):
        ctx.consts.append(farr(name, values))
    return name


def emit_ei_preprocess(ctx: Ctx, blk: Block, axis: int, dst_buf: str) -> int:
    """Lines leaving input axis ``axis``, scaled, decimated (version 4), filtered and mean-removed as Edge
    Impulse's spectral-analysis does before its analysis, in ``dst_buf[0..n)`` (a static buffer of at least
    ``ctx.wl`` floats, reserved here); returns ``n``. Self-contained C scope (own locals)."""
    assert isinstance(blk, EISpectralAnalysisBlock)
    ctx.need(dst_buf, ctx.wl)
    ctx.extra_helpers.setdefault("ei_remove_mean", REMOVE_MEAN)
    scale = flit(float(blk.params["scale-axes"]))
    line = ctx.line
    line("    {")
    line("        int n_ = " + str(ctx.wl) + ";")
    line(f"        for (t = 0; t < {ctx.wl}; t++) {{ {dst_buf}[t] = raw[t * {ctx.na} + {axis}] * {scale}; }}")
    n = ctx.wl
    if blk.v >= 4:
        for r in blk.stages():
            sos, zi = decimation_sos(r)
            s_name = _const(ctx, f"EI_DEC{r}_SOS", sos)
            z_name = _const(ctx, f"EI_DEC{r}_ZI", zi)
            _use_decimate(ctx)
            line(f"        n_ = ei_decimate({dst_buf}, n_, {s_name}, {z_name}, {r});")
            n = decimated_len(n, (r,))
    sos32 = blk.butter_sos(ctx.fs)
    if sos32 is not None:
        key = "_".join(f"{float(v):.9g}" for v in sos32.ravel()).encode()
        name = f"EI_BUTTER_{zlib.crc32(key):08x}"
        _const(ctx, name, sos32.astype(np.float64))
        ctx.extra_helpers.setdefault("ei_sosfilt", SOSFILT)
        line(f"        ei_sosfilt({dst_buf}, n_, {name}, {len(sos32)}, NULL);")
    line(f"        (void)ei_remove_mean({dst_buf}, n_, n_);")
    line("    }")
    return n


def render_ei_spectral(ctx: Ctx, blk: Block, axes: list[int], offset: int, bi: int) -> int:
    """Edge Impulse's spectral-analysis at its implementation version; returns the offset after its features."""
    assert isinstance(blk, EISpectralAnalysisBlock)
    if blk.wavelet_mode():
        from crisp_eml.compiler.dsp_c.ei_wavelet import render_ei_wavelet

        result: int = render_ei_wavelet(ctx, blk, axes, offset, bi)
        return result
    if blk.v == 1:
        return _render_v1(ctx, blk, axes, offset)
    fs_cur = ctx.fs / blk.ratio()
    main, lf = blk.per_axis(ctx.fs)
    n_fft = blk.fft_length()
    h = n_fft // 2
    step = n_fft - n_fft // 2 if blk.params["do-fft-overlap"] else n_fft
    use_real(ctx, n_fft)
    ctx.need("s_p", h + 1)
    ctx.need("s_eiq", h + 1)
    for name, text in (("ei_rms", RMS), ("ei_stats", STATS), ("ei_max_hold", MAX_HOLD)):
        ctx.extra_helpers.setdefault(name, text)
    log = bool(blk.params["do-log"])
    lf_base = offset + len(axes) * main

    def spectral(o: int, n: int, fs: float, stats: bool, wide: bool) -> None:
        line = ctx.line
        start, stop = blk.bins(fs)
        line("    {")
        line("        float sk, ku;")
        line(f"        features[{o}] = ei_rms(s_x, {n});")
        # numpy's resolution of the dtype Edge Impulse computes in: float32, float64 once decimated
        line(f"        ei_skew_kurt(s_x, {n}, {'1e-15f' if wide else '1e-6f'}, &sk, &ku);")
        line(f"        features[{o + 1}] = sk; features[{o + 2}] = ku;")
        line(f"        ei_max_hold(s_x, {n}, {n_fft}, {step}, s_eiq);")
        c = 3
        if stats:
            line(f"        ei_skew_kurt(s_eiq, {h + 1}, 1e-15f, &sk, &ku);")
            line(f"        features[{o + 3}] = sk; features[{o + 4}] = ku;")
            c = 5
        # deliberate: log10 floors only exact zeros (1e-10), as Edge Impulse does
        val = "(s_eiq[k] == 0.0f ? -10.0f : log10f(s_eiq[k]))" if log else "s_eiq[k]"
        line(f"        for (k = {start}; k < {stop}; k++) {{ features[{o + c - start} + k] = {val}; }}")
        line("    }")

    for i, a in enumerate(axes):
        n = emit_ei_preprocess(ctx, blk, a, "s_x")
        spectral(offset + i * main, n, fs_cur, blk.v >= 4, bool(blk.v >= 4 and blk.stages()))
        if lf:
            ctx.line("    {")
            ctx.line(f"        int n_ = ei_decimate(s_x, {n}, {_lf_consts(ctx)}, {LF_RATIO});")
            ctx.line("        (void)ei_remove_mean(s_x, n_, n_);")
            ctx.line("    }")
            spectral(lf_base + i * lf, decimated_len(n, (LF_RATIO,)), fs_cur / LF_RATIO, True, True)
    return lf_base + len(axes) * lf


def _lf_consts(ctx: Ctx) -> str:
    sos, zi = decimation_sos(LF_RATIO)
    _use_decimate(ctx)
    return f"{_const(ctx, f'EI_DEC{LF_RATIO}_SOS', sos)}, {_const(ctx, f'EI_DEC{LF_RATIO}_ZI', zi)}"


def _render_v1(ctx: Ctx, blk: EISpectralAnalysisBlock, axes: list[int], offset: int) -> int:
    from scipy.signal import periodogram

    n_fft = blk.fft_length()
    h = n_fft // 2
    k_peaks = int(blk.params["spectral-peaks-count"])
    thr = flit(float(blk.params["spectral-peaks-threshold"]))
    edges = blk.edges()
    fs = ctx.fs
    use_complex(ctx, n_fft)
    ctx.need("s_p", h)
    ctx.need("s_eiq", max(1, h))
    ctx.need("s_used", max(1, h))
    ctx.extra_helpers.setdefault("ei_rms", RMS)
    ctx.extra_helpers.setdefault("ei_peaks", PEAKS)
    per = 1 + 2 * k_peaks + max(0, len(edges) - 1)
    m = min(ctx.wl, n_fft)
    # deliberate: Edge Impulse's peak frequency axis is linspace(0, fs/2, N/2): spacing (fs/2) / (N/2 - 1)
    spacing = float(np.linspace(0.0, 1.0 / (2.0 * (1 / fs)), h)[1]) if h > 1 else 0.0
    f_axis, _ = periodogram(np.zeros(m, dtype=np.float32), fs, nfft=n_fft)
    bands = []
    for lo, hi in zip(edges, edges[1:], strict=False):
        idx = np.flatnonzero((f_axis >= lo) & (f_axis < hi))
        bands.append((int(idx[0]), int(idx[-1]) + 1) if idx.size else None)
    dens = 1.0 / (fs * m)
    line = ctx.line
    for i, a in enumerate(axes):
        o = offset + i * per
        emit_ei_preprocess(ctx, blk, a, "s_x")
        line("    {")
        line("        float mean = 0.0f;")
        line("        int j, best;")
        line(f"        features[{o}] = ei_rms(s_x, {ctx.wl});")
        # heights 2/N |FFT(x[:N], N)[k]|, k < N/2 (deliberate: only the first N samples, zero-padded)
        line(f"        for (j = 0; j < {n_fft}; j++) {{ s_re[j] = j < {m} ? s_x[j] : 0.0f; s_im[j] = 0.0f; }}")
        line(f"        dsp_fft(s_re, s_im, {n_fft});")
        line(f"        for (k = 0; k < {h}; k++) {{ s_p[k] = {flit(2.0 / n_fft)} * "
             "sqrtf(s_re[k] * s_re[k] + s_im[k] * s_im[k]); }")
        if k_peaks:
            line(f"        ei_peaks(s_p, {h}, s_eiq, s_used);")
            line(f"        for (j = 0; j < {k_peaks}; j++) {{")
            line("            best = -1;")
            line(f"            for (k = 0; k < {h}; k++) {{")
            line(f"                if (s_used[k] && s_p[k] >= {thr} && (best < 0 || s_p[k] > s_p[best])) "
                 "{ best = k; }")
            line("            }")
            line(f"            if (best < 0) {{ features[{o + 1} + 2 * j] = 0.0f; features[{o + 2} + 2 * j] = 0.0f; }}")
            line(f"            else {{ s_used[best] = 0; features[{o + 1} + 2 * j] = (float)best * {flit(spacing)}; "
                 f"features[{o + 2} + 2 * j] = s_p[best]; }}")
            line("            }")
        if bands:
            # periodogram: first min(L, N) samples, their mean removed, zero-padded to N, density scaling
            line(f"        mean = ei_pairwise_sum(s_x, {m}) / {flit(m)};")
            line(f"        for (j = 0; j < {n_fft}; j++) {{ s_re[j] = j < {m} ? s_x[j] - mean : 0.0f; "
                 "s_im[j] = 0.0f; }")
            line(f"        dsp_fft(s_re, s_im, {n_fft});")
        for j, band in enumerate(bands):
            fo = o + 1 + 2 * k_peaks + j
            if band is None:
                line(f"        features[{fo}] = 0.0f;")
                continue
            lo, hi = band
            line("        {")
            line("            float acc = 0.0f, p;")
            line(f"            for (k = {lo}; k < {hi}; k++) {{")
            line(f"                p = (s_re[k] * s_re[k] + s_im[k] * s_im[k]) * {flit(dens)};")
            line(f"                acc += (k == 0 || k == {h}) ? p : 2.0f * p;")
            line("            }")
            # deliberate: Edge Impulse divides the band's mean density by 10
            line(f"            features[{fo}] = acc / {flit(hi - lo)} / 10.0f;")
            line("        }")
        line("        (void)mean; (void)best;")
        line("    }")
    return offset + len(axes) * per
