"""C for the ``wavelet`` analysis of ``spectral-analysis``: a multi-level DWT and 14 statistics per band.

Follows ``pywt.wavedec(y, wavelet, mode='symmetric', level=L)``: each level convolves with the decomposition
filters (``WLO_<i>`` / ``WHI_<i>``, length ``F``, taken from PyWavelets at render time) and keeps every second
output, ``a[o] = sum_j lo[j] * x[sym(2o + 1 - j)]`` for ``o < (n + F - 1) / 2``, where ``sym`` is the
half-sample symmetric extension (period ``2n``, so filters longer than the signal reflect again, as in
PyWavelets). Bands are written as they appear (``cD1`` first) at their place in ``[cA_L, cD_L, .., cD_1]``.
Per band the statistics of ``crisp_eml.dsp.spectral.wavelet_features`` in float32: entropy (``logf``),
percentiles with numpy's linear interpolation on a Shell-sorted copy, moments, rms, zero and mean crossings.
"""

from __future__ import annotations

from crisp_eml.compiler.dsp_c.emit import Ctx, farr
from crisp_eml.dsp.base import Block

WAVELET = r"""
/* One DWT level, mode 'symmetric': m = (n + nf - 1) / 2 approximation and detail coefficients. */
static void dsp_dwt(const float *x, int n, const float *lo, const float *hi, int nf, float *a, float *d)
{
    int o, j, m = (n + nf - 1) / 2;
    for (o = 0; o < m; o++) {
        float sa = 0.0f, sd = 0.0f;
        for (j = 0; j < nf; j++) {
            float v = x[dsp_sym(2 * o + 1 - j, n)];
            sa += lo[j] * v; sd += hi[j] * v;
        }
        a[o] = sa; d[o] = sd;
    }
}

static float dsp_percentile(const float *s, int n, float q)
{
    float pos = q * (float)(n - 1), t;
    int i = (int)pos;
    if (i >= n - 1) { return s[n - 1]; }
    t = pos - (float)i;
    return s[i] + (s[i + 1] - s[i]) * t;
}

/* entropy, p5, p25, p50, p75, p95, mean, std, var, rms, skewness, kurtosis, zero- and mean-crossing rates */
static void dsp_wavelet_features(const float *c, int n, float *out)
{
    float e = 0.0f, ent = 0.0f, mean, sd, sk, ku;
    int i, j, gap, zc = 0, mc = 0;
    for (i = 0; i < n; i++) { e += c[i] * c[i]; s_ws[i] = c[i]; }
    if (e > 0.0f) {
        for (i = 0; i < n; i++) {
            float p = c[i] * c[i] / e;
            if (p > 0.0f) { ent -= p * logf(p); }
        }
    }
    for (gap = n / 2; gap > 0; gap /= 2) {
        for (i = gap; i < n; i++) {
            float v = s_ws[i];
            for (j = i; j >= gap && s_ws[j - gap] > v; j -= gap) { s_ws[j] = s_ws[j - gap]; }
            s_ws[j] = v;
        }
    }
    dsp_moments(c, n, &mean, &sd, &sk, &ku);
    for (i = 0; i + 1 < n; i++) {
        float a = c[i], b = c[i + 1], am = a - mean, bm = b - mean;
        zc += (a > 0.0f && b < 0.0f) || (a < 0.0f && b > 0.0f);
        mc += (am > 0.0f && bm < 0.0f) || (am < 0.0f && bm > 0.0f);
    }
    out[0] = ent;
    out[1] = dsp_percentile(s_ws, n, 0.05f); out[2] = dsp_percentile(s_ws, n, 0.25f);
    out[3] = dsp_percentile(s_ws, n, 0.5f); out[4] = dsp_percentile(s_ws, n, 0.75f);
    out[5] = dsp_percentile(s_ws, n, 0.95f);
    out[6] = mean; out[7] = sd; out[8] = sd * sd; out[9] = sqrtf(e / (float)n);
    out[10] = sk; out[11] = ku;
    out[12] = (float)zc / (float)n; out[13] = (float)mc / (float)n;
}
"""

N_FEATURES = 14


def render_wavelet_tail(ctx: Ctx, blk: Block, offset: int, bi: int) -> int:
    """Lines after the filtered axis is in ``s_x``; returns the offset after this axis' features."""
    import pywt

    w = pywt.Wavelet(str(blk.params["wavelet"]))
    lo, hi = list(w.dec_lo), list(w.dec_hi)
    nf, levels = len(lo), int(blk.params["wavelet-level"])
    if f"WLO_{bi}" not in "".join(ctx.consts):
        ctx.consts.append(farr(f"WLO_{bi}", lo))
        ctx.consts.append(farr(f"WHI_{bi}", hi))
    ctx.helpers.update({"moments", "sym", "wavelet"})
    n = ctx.wl
    first = (n + nf - 1) // 2
    for buf in ("s_wa", "s_wb", "s_wd", "s_ws"):
        ctx.need(buf, first)
    for lv in range(1, levels + 1):
        m = (n + nf - 1) // 2
        src = "s_x" if lv == 1 else "s_wa"
        ctx.line(f"        dsp_dwt({src}, {n}, WLO_{bi}, WHI_{bi}, {nf}, s_wb, s_wd); /* level {lv} */")
        ctx.line(f"        dsp_wavelet_features(s_wd, {m}, &features[{offset + (levels - lv + 1) * N_FEATURES}]);")
        ctx.line(f"        for (t = 0; t < {m}; t++) {{ s_wa[t] = s_wb[t]; }}")
        n = m
    ctx.line(f"        dsp_wavelet_features(s_wa, {n}, &features[{offset}]);")
    return offset + (levels + 1) * N_FEATURES
