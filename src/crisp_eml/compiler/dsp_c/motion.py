"""C for the motion blocks: ``raw``, ``flatten`` and ``spectral-analysis`` (FFT and wavelet).

Follows the algorithms in the docstrings of ``crisp_eml.dsp.basic`` and ``crisp_eml.dsp.spectral`` in
float32 (the wavelet analysis itself lives in :mod:`.wavelet`): the Butterworth second-order sections
(computed with scipy in double, emitted as float constants) run in direct form II transposed, the spectrum
uses the complex FFT of :mod:`.fft`, band edges are resolved to bin ranges at render time.
"""

from __future__ import annotations

import numpy as np

from crisp_eml.compiler.dsp_c.emit import Ctx, farr, flit
from crisp_eml.compiler.dsp_c.fft import use_complex
from crisp_eml.compiler.dsp_c.wavelet import render_wavelet_tail
from crisp_eml.dsp.base import Block
from crisp_eml.dsp.basic import FlattenBlock
from crisp_eml.dsp.spectral import SpectralAnalysisBlock

MOMENTS = r"""
static void dsp_moments(const float *x, int n, float *mean, float *sd, float *skew, float *kurt)
{
    /* moments of x - x[0] (the same central moments, less cancellation): a constant window gives exactly 0 */
    float mu = 0.0f, m2 = 0.0f, m3 = 0.0f, m4 = 0.0f;
    const float x0 = x[0];
    int i;
    for (i = 0; i < n; i++) { mu += x[i] - x0; }
    mu /= (float)n;
    for (i = 0; i < n; i++) {
        float d = (x[i] - x0) - mu, d2 = d * d;
        m2 += d2; m3 += d2 * d; m4 += d2 * d2;
    }
    m2 /= (float)n; m3 /= (float)n; m4 /= (float)n;
    *mean = x0 + mu;
    *sd = sqrtf(m2);
    if (m2 <= 1e-12f) { *skew = 0.0f; *kurt = 0.0f; }
    else { *skew = m3 / (m2 * sqrtf(m2)); *kurt = m4 / (m2 * m2) - 3.0f; }
}
"""


def render_raw(ctx: Ctx, blk: Block, axes: list[int], offset: int) -> int:
    scale = flit(float(blk.params["scale-axes"]))
    for t_ax, a in enumerate(axes):
        ctx.line(f"    for (t = 0; t < {ctx.wl}; t++) {{ features[{offset} + t * {len(axes)} + {t_ax}] = "
                 f"raw[t * {ctx.na} + {a}] * {scale}; }}")
    return offset + ctx.wl * len(axes)


def render_flatten(ctx: Ctx, blk: Block, axes: list[int], offset: int) -> int:
    assert isinstance(blk, FlattenBlock)
    wl, na = ctx.wl, ctx.na
    scale = flit(float(blk.params["scale-axes"]))
    ctx.need("s_x", wl)
    ctx.helpers.add("moments")
    stats = blk.enabled()
    expr = {"average": "mean", "minimum": "mn", "maximum": "mx", "rms": f"sqrtf(sq / (float){wl})",
            "stdev": "sd", "skewness": "sk", "kurtosis": "ku"}
    for a in axes:
        ctx.line("    {")
        ctx.line("        float mean, sd, sk, ku, mn, mx, sq = 0.0f;")
        ctx.line(f"        for (t = 0; t < {wl}; t++) {{ s_x[t] = raw[t * {na} + {a}] * {scale}; }}")
        ctx.line("        mn = s_x[0]; mx = s_x[0];")
        ctx.line(f"        for (t = 0; t < {wl}; t++) {{ sq += s_x[t] * s_x[t]; "
                 "if (s_x[t] < mn) { mn = s_x[t]; } if (s_x[t] > mx) { mx = s_x[t]; } }")
        ctx.line(f"        dsp_moments(s_x, {wl}, &mean, &sd, &sk, &ku);")
        if blk.implementation_version == 1:  # Edge Impulse's version 1: kurtosis -3 on a constant axis
            ctx.line("        if (mn == mx) { ku = -3.0f; }")
        ctx.line("        (void)mean; (void)sd; (void)sk; (void)ku; (void)mn; (void)mx;")
        for k, st in enumerate(stats):
            ctx.line(f"        features[{offset + k}] = {expr[st]};")
        ctx.line("    }")
        offset += len(stats)
    return offset


def _filtered(ctx: Ctx, blk: SpectralAnalysisBlock, a: int, bi: int) -> None:
    """Lines leaving the scaled, mean-removed, filtered axis ``a`` in ``s_x`` (steps 1-2 of the block)."""
    wl, line = ctx.wl, ctx.line
    sos = blk.sos(ctx.fs)
    if sos is not None and f"SOS_{bi}[" not in "".join(ctx.consts):
        ctx.consts.append(farr(f"SOS_{bi}", sos))
    line(f"        for (t = 0; t < {wl}; t++) {{ s_x[t] = raw[t * {ctx.na} + {a}] * "
         f"{flit(float(blk.params['scale-axes']))}; mean += s_x[t]; }}")
    line(f"        mean /= {flit(wl)};")
    line(f"        for (t = 0; t < {wl}; t++) {{ s_x[t] -= mean; }}")
    if sos is not None:
        line(f"        for (j = 0; j < {len(sos)}; j++) {{")
        line(f"            const float *c = &SOS_{bi}[j * 6];")
        line("            float z1 = 0.0f, z2 = 0.0f;")
        line(f"            for (t = 0; t < {wl}; t++) {{")
        line("                float in = s_x[t], out = c[0] * in + z1;")
        line("                z1 = c[1] * in - c[4] * out + z2;")
        line("                z2 = c[2] * in - c[5] * out;")
        line("                s_x[t] = out;")
        line("            }")
        line("        }")


def render_spectral(ctx: Ctx, blk: Block, axes: list[int], offset: int, bi: int) -> int:
    assert isinstance(blk, SpectralAnalysisBlock)
    ctx.need("s_x", ctx.wl)
    if blk.params["analysis-type"] == "wavelet":
        for a in axes:
            ctx.line("    {")
            ctx.line("        float mean = 0.0f;")
            ctx.line("        int j;")
            _filtered(ctx, blk, a, bi)
            ctx.line("        (void)j;")
            offset = render_wavelet_tail(ctx, blk, offset, bi)
            ctx.line("    }")
        return offset
    wl, fs = ctx.wl, ctx.fs
    n = int(blk.params["fft-length"])
    half = n // 2
    use_complex(ctx, n)
    ctx.need("s_p", half)
    ctx.helpers.add("moments")
    log = bool(blk.params["do-log"])
    stride = n // 2 if blk.params["do-fft-overlap"] else n
    frames = 1 if wl < n else 1 + (wl - n) // stride
    k_peaks = int(blk.params["spectral-peaks-count"])
    thr = flit(float(blk.params["spectral-peaks-threshold"]))
    edges = blk._edges()
    freqs = np.arange(1, half + 1) * fs / n
    bands = [(int(np.argmax(freqs >= lo)) if np.any(freqs >= lo) else half,
              int(np.sum(freqs < hi))) for lo, hi in zip(edges, edges[1:], strict=False)]

    def lg(e: str) -> str:
        return f"log10f({e} > 1e-10f ? {e} : 1e-10f)" if log else e

    if k_peaks:
        ctx.need("s_used", half)
    line = ctx.line
    for a in axes:
        line("    {")
        line("        float mean = 0.0f, sd, sk, ku, sq = 0.0f;")
        line("        int f, k, j;")
        _filtered(ctx, blk, a, bi)
        line(f"        for (t = 0; t < {wl}; t++) {{ sq += s_x[t] * s_x[t]; }}")
        line(f"        dsp_moments(s_x, {wl}, &mean, &sd, &sk, &ku);")
        line("        (void)sd;")
        line(f"        features[{offset}] = sqrtf(sq / {flit(wl)});")
        line(f"        features[{offset + 1}] = sk;")
        line(f"        features[{offset + 2}] = ku;")
        line(f"        for (k = 0; k < {half}; k++) {{ s_p[k] = 0.0f; }}")
        line(f"        for (f = 0; f < {frames}; f++) {{")
        line(f"            for (j = 0; j < {n}; j++) {{")
        line(f"                int src = f * {stride} + j;")
        line(f"                s_re[j] = src < {wl} ? s_x[src] : 0.0f; s_im[j] = 0.0f;")
        line("            }")
        line(f"            dsp_fft(s_re, s_im, {n});")
        line(f"            for (k = 1; k <= {half}; k++) {{ s_p[k - 1] += (s_re[k] * s_re[k] + "
             f"s_im[k] * s_im[k]) * {flit(1.0 / n)}; }}")
        line("        }")
        line(f"        for (k = 0; k < {half}; k++) {{ s_p[k] /= {flit(frames)}; "
             f"features[{offset + 3} + k] = {lg('s_p[k]')}; }}")
        o = offset + 3 + half
        if k_peaks:
            line(f"        for (k = 0; k < {half}; k++) {{ s_used[k] = 0; }}")
            line(f"        for (j = 0; j < {k_peaks}; j++) {{")
            line("            int best = -1;")
            line("            float bv = 0.0f;")
            line(f"            for (k = 0; k < {half}; k++) {{")
            line(f"                int peak = !s_used[k] && s_p[k] >= {thr} && "
                 f"(k == 0 || s_p[k] > s_p[k - 1]) && (k == {half - 1} || s_p[k] >= s_p[k + 1]);")
            line("                if (peak && (best < 0 || s_p[k] > bv)) { best = k; bv = s_p[k]; }")
            line("            }")
            line(f"            if (best < 0) {{ features[{o} + 2 * j] = 0.0f; features[{o} + 2 * j + 1] = 0.0f; }}")
            line(f"            else {{ s_used[best] = 1; features[{o} + 2 * j] = (float)(best + 1) * "
                 f"{flit(fs / n)}; features[{o} + 2 * j + 1] = {lg('bv')}; }}")
            line("        }")
            o += 2 * k_peaks
        for j, (lo, hi) in enumerate(bands):
            line("        {")
            line("            float acc = 0.0f;")
            line(f"            for (k = {lo}; k < {hi}; k++) {{ acc += s_p[k]; }}")
            line(f"            features[{o + j}] = {lg('acc')};")
            line("        }")
        offset = o + len(bands)
        line("    }")
    return offset
