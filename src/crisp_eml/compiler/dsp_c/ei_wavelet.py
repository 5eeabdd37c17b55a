"""C for Edge Impulse's ``spectral-analysis`` in Wavelet mode (v3 and v4): twin of :mod:`crisp_eml.dsp.ei_wavelet`.

Why its own renderer: Edge Impulse's wavelet features (histogram entropy, nearest-rank percentiles, crossings
over ``m``, ddof-1 variance, scipy 1.7.3 moments) are not the crisp ones of :mod:`.wavelet`, and the entropy
histogram makes them sensitive to the last bit of each coefficient: a coefficient one ulp across a bin edge
moves a count and the entropy by ~1/m. So the float32 path reproduces Edge Impulse's float32 arithmetic
operation for operation, bit for bit on IEEE float32 hardware without fused multiply-add:

- preprocessing (per axis): ``raw * scale-axes`` (float), the float32 Butterworth sections in direct form II
  transposed (scipy's ``sosfilt`` recurrence), the mean as numpy's pairwise float32 sum / n, subtracted;
- the DWT in pywt's summation order (``downsampling_convolution``, mode symmetric: taps that reach past the
  right end first, from the highest such tap down, then the others upwards) with the float32 filters pywt
  itself uses (:func:`pywt_float_filters`; for coif1-3 they are not the rounded float64 filters);
- per coefficient array: numpy 1.x histogram edges (computed in double, rounded to float, as
  :func:`crisp_eml.dsp.ei_wavelet.histogram_edges`), bin found by the float estimate and corrected against
  those edges; the crossings; a heapsort copy for the percentiles (indices fixed at render time); mean, std,
  var, rms, skewness and kurtosis from numpy's pairwise float32 sums of the sorted copy; the last division of
  skewness and kurtosis in double (numpy 1.x evaluates ``float32_scalar ** 1.5`` in float64; in float,
  ``m2 * m2`` underflows for the rounding noise a constant axis leaves). The entropy itself is summed in
  float (``p = count / m``, ``logf``) where Edge Impulse uses float64 densities: ~1e-7 relative, the only
  feature of this path that is not bit-exact.

Version 4 with ``input-decimation-ratio`` > 1: Edge Impulse decimates in float64 and everything after is
float64. Float32 decimation moves coefficients by ~1e-5 of the signal (too much for the histogram), so the
decimation stages and the Butterworth filter run in double here, streamed sample by sample (double state
only, no double buffers) in two passes (the first for the mean); the mean-removed signal is then rounded to
float and the DWT and features run in float32 as above. Differences from Edge Impulse's float64 path are
then ~1e-7 of the signal; a coefficient that close to a bin edge (rare) changes the entropy (measured: 400
windows, 3 axes, ratio 3, db4 level 2: one entropy off by 0.008 = 1.1x the tolerance of its window; ratio 30,
haar level 1: none). A double DWT would need double buffers and soft-float on most MCUs; not done.
"""

from __future__ import annotations

import numpy as np

from crisp_eml.compiler.dsp_c.emit import Ctx, farr, flit
from crisp_eml.core.errors import InputError
from crisp_eml.dsp.base import Block
from crisp_eml.dsp.ei_wavelet import FEATURES, N_BINS, PERCENTILES, check_wavelet, percentile_index

RATIO_STAGES = {1: (), 3: (3,), 10: (10,), 30: (3, 10), 100: (10, 10), 1000: (10, 10, 10)}

# numpy's pairwise summation (float32 add.reduce) of term(i): 0 x, 1 (x-mu)^2, 2 (x-mu)^3, 3 (x-mu)^4, 4 x^2
PSUM = r"""
static float ei_w_term(const float *x, int i, int mode, float mu)
{
    float d = x[i] - mu, d2 = d * d;
    switch (mode) {
    case 0: return x[i];
    case 1: return d2;
    case 2: return d2 * d;
    case 3: return d2 * d2;
    default: return x[i] * x[i];
    }
}

/* numpy's pairwise float32 sum of term(x[0..n)): blocks of 8 partial sums up to 128 values, halves above */
static float ei_w_psum(const float *x, int n, int mode, float mu)
{
    float r[8], res = 0.0f;
    int i, j;
    if (n < 8) {
        for (i = 0; i < n; i++) { res += ei_w_term(x, i, mode, mu); }
        return res;
    }
    if (n <= 128) {
        for (j = 0; j < 8; j++) { r[j] = ei_w_term(x, j, mode, mu); }
        for (i = 8; i < n - n % 8; i += 8) {
            for (j = 0; j < 8; j++) { r[j] += ei_w_term(x, i + j, mode, mu); }
        }
        res = ((r[0] + r[1]) + (r[2] + r[3])) + ((r[4] + r[5]) + (r[6] + r[7]));
        for (; i < n; i++) { res += ei_w_term(x, i, mode, mu); }
        return res;
    }
    i = n / 2;
    i -= i % 8;
    return ei_w_psum(x, i, mode, mu) + ei_w_psum(x + i, n - i, mode, mu);
}
"""

DWT = r"""
/* One pywt DWT level, mode symmetric, in pywt's summation order: m = (n + nf - 1) / 2 outputs each. */
static void ei_w_dwt(const float *x, int n, const float *lo, const float *hi, int nf, float *a, float *d)
{
    int o, t, m = (n + nf - 1) / 2;
    for (o = 0; o < m; o++) {
        int i = 2 * o + 1, t0 = i - n + 1 > 0 ? i - n + 1 : 0;
        float sa = 0.0f, sd = 0.0f;
        for (t = t0 - 1; t >= 0; t--) {
            float v = x[dsp_sym(i - t, n)];
            sa += lo[t] * v; sd += hi[t] * v;
        }
        for (t = t0; t < nf; t++) {
            float v = x[dsp_sym(i - t, n)];
            sa += lo[t] * v; sd += hi[t] * v;
        }
        a[o] = sa; d[o] = sd;
    }
}
"""

FEATURES_C = r"""
static void ei_w_heapsort(float *s, int n)
{
    int end, root, child, i;
    float tmp;
    for (i = n / 2 - 1; i >= 0; i--) {
        for (root = i; (child = 2 * root + 1) < n; root = child) {
            if (child + 1 < n && s[child] < s[child + 1]) { child++; }
            if (!(s[root] < s[child])) { break; }
            tmp = s[root]; s[root] = s[child]; s[child] = tmp;
        }
    }
    for (end = n - 1; end > 0; end--) {
        tmp = s[0]; s[0] = s[end]; s[end] = tmp;
        for (root = 0; (child = 2 * root + 1) < end; root = child) {
            if (child + 1 < end && s[child] < s[child + 1]) { child++; }
            if (!(s[root] < s[child])) { break; }
            tmp = s[root]; s[root] = s[child]; s[child] = tmp;
        }
    }
}

/* Edge Impulse's 14 features of c[0..m): entropy, zcross, mcross, n5, n25, n75, n95, median, mean, std,
   var (ddof 1), rms, skew, kurtosis; p[] = nearest-rank indices of n5 n25 n75 n95 median. */
static void ei_w_features(const float *c, int m, const int *p, float *out)
{
    float mn = c[0], mx = c[0], mu, mean, ss, m2, m3, m4, rms, ent = 0.0f, r;
    int i, k, zc = 0, mc = 0;
    for (i = 0; i < m; i++) {
        if (c[i] < mn) { mn = c[i]; }
        if (c[i] > mx) { mx = c[i]; }
        s_eiws[i] = c[i];
    }
    if (mx > mn) {
        const double lo = (double)mn, step = ((double)mx - lo) / 100.0;
        for (k = 0; k < 100; k++) { s_eiwe[k] = (float)((double)k * step + lo); s_eiwh[k] = 0.0f; }
        s_eiwe[100] = mx;
        for (i = 0; i < m; i++) {
            k = (int)((c[i] - mn) / (mx - mn) * 100.0f);
            if (k > 99) { k = 99; }
            if (k < 0) { k = 0; }
            while (k > 0 && c[i] < s_eiwe[k]) { k--; }
            while (k < 99 && c[i] >= s_eiwe[k + 1]) { k++; }
            s_eiwh[k] += 1.0f;
        }
        for (k = 0; k < 100; k++) {
            if (s_eiwh[k] > 0.0f) { float q = s_eiwh[k] / (float)m; ent -= q * logf(q); }
        }
    }
    mu = ei_w_psum(c, m, 0, 0.0f) / (float)m;
    for (i = 0; i + 1 < m; i++) {
        zc += (c[i] > 0.0f) != (c[i + 1] > 0.0f);
        mc += (c[i] > mu) != (c[i + 1] > mu);
    }
    ei_w_heapsort(s_eiws, m);
    mean = ei_w_psum(s_eiws, m, 0, 0.0f) / (float)m;
    ss = ei_w_psum(s_eiws, m, 1, mean);
    m2 = ss / (float)m;
    rms = sqrtf(ei_w_psum(s_eiws, m, 4, 0.0f) / (float)m);
    out[0] = ent;
    out[1] = (float)zc / (float)m;
    out[2] = (float)mc / (float)m;
    for (k = 0; k < 5; k++) { out[3 + k] = s_eiws[p[k]]; }
    out[8] = mean;
    out[9] = sqrtf(m2);
    out[10] = ss / (float)(m - 1);
    out[11] = rms;
    out[12] = 0.0f;
    out[13] = 0.0f;
    if (rms != 0.0f) {
        r = 1e-6f * mean;
        if (m2 <= r * r) { out[13] = -3.0f; }
        else {
            m3 = ei_w_psum(s_eiws, m, 2, mean) / (float)m;
            m4 = ei_w_psum(s_eiws, m, 3, mean) / (float)m;
            /* double, as numpy 1.x evaluates a float32 scalar ** 1.5: m2 * m2 may underflow in float */
            out[12] = (float)((double)m3 / pow((double)m2, 1.5));
            out[13] = (float)((double)m4 / ((double)m2 * (double)m2) - 3.0);
        }
    }
}
"""

PREP_F = r"""
/* Float32 path: x = raw * scale, float32 Butterworth sections (DF2T, zero state), minus numpy's float32 mean. */
static void ei_w_prep(const float *raw, int na, int n, float scale, const float *sos, int ns, float *x)
{
    int t, s;
    float mean;
    for (t = 0; t < n; t++) { x[t] = raw[t * na] * scale; }
    for (s = 0; s < ns; s++) {
        const float *c = &sos[6 * s];
        float z1 = 0.0f, z2 = 0.0f;
        for (t = 0; t < n; t++) {
            float in = x[t], out = c[0] * in + z1;
            z1 = c[1] * in - c[4] * out + z2;
            z2 = c[2] * in - c[5] * out;
            x[t] = out;
        }
    }
    mean = ei_w_psum(x, n, 0, 0.0f) / (float)n;
    for (t = 0; t < n; t++) { x[t] -= mean; }
}
"""

PREP_D = r"""
/* Float64 path (input decimation): raw * scale (float), then per sample the decimation stages (8th-order
   Chebyshev sections sos[24 * k], initial state zi[8 * k] * first input of the stage, keep every q[k]-th) and
   the float32 Butterworth sections, all in double. out == NULL: returns the mean of the n_out results;
   else writes (float)(y - mean). Double state only: the signal is streamed twice instead of stored. */
static double ei_w_stream(const float *raw, int na, int len, float scale, int nst, const int *q,
                          const double *dsos, const double *dzi, const float *bsos, int nb, double mean,
                          float *out)
{
    double zd[3 * 8], zb[8], sum = 0.0;
    int cnt[3] = {0, 0, 0};
    int t, k, s, n = 0;
    for (s = 0; s < 8; s++) { zb[s] = 0.0; }
    for (t = 0; t < len; t++) {
        double v = (double)(raw[t * na] * scale);
        int keep = 1;
        for (k = 0; k < nst && keep; k++) {
            const double *c0 = &dsos[24 * k];
            double *z = &zd[8 * k];
            if (cnt[k] == 0) { for (s = 0; s < 8; s++) { z[s] = dzi[8 * k + s] * v; } }
            for (s = 0; s < 4; s++) {
                const double *c = &c0[6 * s];
                double o = c[0] * v + z[2 * s];
                z[2 * s] = c[1] * v - c[4] * o + z[2 * s + 1];
                z[2 * s + 1] = c[2] * v - c[5] * o;
                v = o;
            }
            keep = cnt[k] % q[k] == 0;
            cnt[k]++;
        }
        if (!keep) { continue; }
        for (s = 0; s < nb; s++) {
            const float *c = &bsos[6 * s];
            double o = (double)c[0] * v + zb[2 * s];
            zb[2 * s] = (double)c[1] * v - (double)c[4] * o + zb[2 * s + 1];
            zb[2 * s + 1] = (double)c[2] * v - (double)c[5] * o;
            v = o;
        }
        if (out != NULL) { out[n] = (float)(v - mean); }
        else { sum += v; }
        n++;
    }
    return n > 0 ? sum / (double)n : 0.0;
}
"""


def pywt_float_filters(wavelet: str) -> tuple[np.ndarray, np.ndarray]:
    """The float32 decomposition filters pywt itself convolves float32 data with, read off its output for unit
    impulses (pywt builds some float tables in float arithmetic: coif1-3 differ from ``float32(dec_lo)``)."""
    import pywt

    w = pywt.Wavelet(wavelet)
    nf = w.dec_len
    lo, hi = np.zeros(nf, dtype=np.float32), np.zeros(nf, dtype=np.float32)
    for k in (2 * nf, 2 * nf + 1):  # an even and an odd position, far from both ends: every tap once
        x = np.zeros(4 * nf + 8, dtype=np.float32)
        x[k] = 1.0
        a, d = pywt.dwt(x, w, mode="symmetric")
        for o in range(len(a)):
            j = 2 * o + 1 - k
            if 0 <= j < nf:
                lo[j], hi[j] = a[o], d[o]
    return lo, hi


def _darr(name: str, values: np.ndarray) -> str:
    vals = [float(v) for v in np.asarray(values, dtype=np.float64).ravel()]
    return f"static const double {name}[{len(vals)}] = {{{', '.join(repr(v) for v in vals)}}};\n"


def _const(ctx: Ctx, name: str, text: str) -> str:
    if f" {name}[" not in "".join(ctx.consts):
        ctx.consts.append(text)
    return name


def _butter(blk: Block, fs: float) -> np.ndarray | None:
    """Edge Impulse's float32 Butterworth sections for the (decimated) rate ``fs``, or None."""
    from scipy.signal import butter

    ftype, order = str(blk.params["filter-type"]), int(blk.params["filter-order"])
    if ftype not in ("low", "high") or order <= 0:
        return None
    wn = 2 * float(blk.params["filter-cutoff"]) / fs
    return np.asarray(butter(order, Wn=wn, btype=ftype, output="sos"), dtype=np.float64).astype(np.float32)


def render_ei_wavelet(ctx: Ctx, blk: Block, axes: list[int], offset: int, bi: int) -> int:
    """Edge Impulse's spectral-analysis block in Wavelet mode for ``axes``; returns the offset after its features."""
    import pywt
    from scipy.signal import cheby1, sosfilt_zi

    version = blk.implementation_version
    ratio = int(blk.params.get("input-decimation-ratio", 1)) if isinstance(version, int) and version >= 4 else 1
    if ratio not in RATIO_STAGES:
        raise InputError(f"no decimation stages for ratio {ratio}", field="input-decimation-ratio")
    stages = RATIO_STAGES[ratio]
    wavelet, level = str(blk.params["wavelet"]), int(blk.params["wavelet-level"])
    n = ctx.wl
    for q in stages:
        n = -(-n // q)
    fs = ctx.fs / ratio
    check_wavelet(n, wavelet, level, fs)
    w = pywt.Wavelet(wavelet)
    nf = len(w.dec_lo)
    if level:
        flo, fhi = pywt_float_filters(wavelet)
        lo = _const(ctx, f"EIW_LO_{bi}", farr(f"EIW_LO_{bi}", flo))
        hi = _const(ctx, f"EIW_HI_{bi}", farr(f"EIW_HI_{bi}", fhi))
    sos = _butter(blk, fs)
    ns = 0 if sos is None else len(sos)
    assert len(stages) <= 3 and ns <= 4  # the state arrays of ei_w_stream (EI: order <= 8, ratio <= 1000)
    bsos = _const(ctx, f"EIW_BUTTER_{bi}", farr(f"EIW_BUTTER_{bi}", sos if sos is not None else [0.0]))

    ctx.extra_helpers.setdefault("ei_w_psum", PSUM)
    if level:
        ctx.helpers.add("sym")
        ctx.extra_helpers.setdefault("ei_w_dwt", DWT)
    ctx.extra_helpers.setdefault("ei_w_features", FEATURES_C)
    lengths = [n]
    for _ in range(level):
        lengths.append((lengths[-1] + nf - 1) // 2)
    first = lengths[1] if level else n
    ctx.need("s_eiwx", max(ctx.wl, n))
    if level:
        for buf in ("s_eiwa", "s_eiwb", "s_eiwd"):
            ctx.need(buf, first)
    ctx.need("s_eiws", max(lengths))
    ctx.need("s_eiwe", N_BINS + 1)
    ctx.need("s_eiwh", N_BINS)
    for m in sorted(set(lengths[1:] if level else lengths)):  # the lengths features are taken of
        idx = [percentile_index(m, p) for p in PERCENTILES]
        _const(ctx, f"EIW_P{m}", f"static const int EIW_P{m}[5] = {{{', '.join(map(str, idx))}}};\n")

    scale = flit(float(blk.params["scale-axes"]))
    if stages:
        ctx.extra_helpers.setdefault("ei_w_stream", PREP_D)
        dsos = [np.asarray(cheby1(8, 0.05, 0.8 / q, output="sos"), dtype=np.float64) for q in stages]
        dzi = [np.asarray(sosfilt_zi(s), dtype=np.float64) for s in dsos]
        assert all(s.shape == (4, 6) for s in dsos)
        ds = _const(ctx, f"EIW_DSOS_{bi}", _darr(f"EIW_DSOS_{bi}", np.concatenate([s.ravel() for s in dsos])))
        dz = _const(ctx, f"EIW_DZI_{bi}", _darr(f"EIW_DZI_{bi}", np.concatenate([z.ravel() for z in dzi])))
        qs = _const(ctx, f"EIW_Q_{bi}", f"static const int EIW_Q_{bi}[{len(stages)}] = "
                                        f"{{{', '.join(map(str, stages))}}};\n")
    else:
        ctx.extra_helpers.setdefault("ei_w_prep", PREP_F)
    per_axis = (level + 1) * len(FEATURES)
    line = ctx.line
    for a in axes:
        line("    {")
        if stages:
            args = f"raw + {a}, {ctx.na}, {ctx.wl}, {scale}, {len(stages)}, {qs}, {ds}, {dz}, {bsos}, {ns}"
            line(f"        double mean_ = ei_w_stream({args}, 0.0, NULL);")
            line(f"        (void)ei_w_stream({args}, mean_, s_eiwx);")
        else:
            line(f"        ei_w_prep(raw + {a}, {ctx.na}, {n}, {scale}, {bsos}, {ns}, s_eiwx);")
        src = "s_eiwx"
        for lv in range(1, level + 1):
            m_in, m = lengths[lv - 1], lengths[lv]
            line(f"        ei_w_dwt({src}, {m_in}, {lo}, {hi}, {nf}, s_eiwb, s_eiwd); /* level {lv} */")
            at = offset + (level - lv + 1) * len(FEATURES)
            line(f"        ei_w_features(s_eiwd, {m}, EIW_P{m}, &features[{at}]);")
            line(f"        for (t = 0; t < {m}; t++) {{ s_eiwa[t] = s_eiwb[t]; }}")
            src = "s_eiwa"
        line(f"        ei_w_features({src}, {lengths[-1]}, EIW_P{lengths[-1]}, &features[{offset}]);")
        line("    }")
        offset += per_axis
    return offset
