"""C for the framed audio blocks: ``spectrogram``, ``mfe`` and ``mfcc``.

Follows the docstring of ``crisp_eml.dsp.audio`` in float32. Everything fixed by the parameters is resolved
at render time and emitted as ``static const`` tables: the window function (``WIN_<i>``), the mel filterbank
as sparse rows (``FB_<i>`` = (first bin, count) per filter, ``FBW_<i>`` = the non-zero weights, row after
row), the DCT-II matrix (``DCT_<i>[q * M + m]``). Per frame: (pre-emphasis,) window, real FFT of
``fft_length`` (:mod:`.fft`), power ``|X|^2 / N``, then the block's tail. Pre-emphasis is applied on the fly
while a frame is read, so no copy of the window is kept. The sliding cepstral mean normalisation of ``mfcc``
keeps one axis' cepstra (``frames x num_cepstral`` floats) in ``s_cep`` and slides a compensated window sum
over them.
"""

from __future__ import annotations

import numpy as np

from crisp_eml.compiler.dsp_c.emit import Ctx, farr, flit, iarr
from crisp_eml.compiler.dsp_c.fft import use_real
from crisp_eml.dsp.audio import MfccBlock, SpectrogramBlock, _FramedBlock, _MelBlock, dct_matrix, window_function

NOISE_FLOOR = r"""
/* clip((10 log10(v + 1e-30) - floor_db) / den, 0, 1), den = 12 - floor_db */
static float dsp_noise_floor(float v, float floor_db, float den)
{
    float x = (10.0f * log10f(v + 1e-30f) - floor_db) / den;
    return x < 0.0f ? 0.0f : (x > 1.0f ? 1.0f : x);
}
"""

MEL = r"""
/* out[m] = sum of the m-th sparse filter row (first bin, count) x power spectrum p. */
static void dsp_mel(const float *p, const unsigned short *rows, const float *w, int count, float *out)
{
    int m, k;
    for (m = 0; m < count; m++) {
        const float *pk = &p[rows[2 * m]];
        float acc = 0.0f;
        for (k = 0; k < (int)rows[2 * m + 1]; k++) { acc += w[k] * pk[k]; }
        out[m] = acc;
        w += rows[2 * m + 1];
    }
}
"""

CMVN = r"""
/* Compensated (Kahan) sum: *s += v, *e carries the lost low-order part. */
static void dsp_kahan(float *s, float *e, float v)
{
    float y = v - *e, t = *s + y;
    *e = (t - *s) - y;
    *s = t;
}

/* out[f * row + q] = c[f][q] - mean of the win rows centred on f, rows padded numpy-'symmetric' (period 2 frames);
 * a sliding window sum, compensated so that its error does not grow with the number of frames. acc: 2 nq floats. */
static void dsp_cmvn(const float *c, int frames, int nq, int win, float *acc, float *out, int row)
{
    int f, q, p, half = (win - 1) / 2;
    float *err = acc + nq;
    for (q = 0; q < nq; q++) { acc[q] = 0.0f; err[q] = 0.0f; }
    for (p = -half; p <= half; p++) {
        const float *r = &c[dsp_sym(p, frames) * nq];
        for (q = 0; q < nq; q++) { dsp_kahan(&acc[q], &err[q], r[q]); }
    }
    for (f = 0; f < frames; f++) {
        for (q = 0; q < nq; q++) { out[f * row + q] = c[f * nq + q] - (acc[q] - err[q]) / (float)win; }
        if (f + 1 < frames) {
            const float *in = &c[dsp_sym(f + half + 1, frames) * nq], *gone = &c[dsp_sym(f - half, frames) * nq];
            for (q = 0; q < nq; q++) { dsp_kahan(&acc[q], &err[q], in[q]); dsp_kahan(&acc[q], &err[q], -gone[q]); }
        }
    }
}
"""


def emit_filterbank(ctx: Ctx, fb: np.ndarray, bi: int) -> None:
    """Block ``bi``'s mel filterbank as the sparse tables ``FB_<bi>`` / ``FBW_<bi>`` read by ``dsp_mel``."""
    rows, weights = sparse_rows(fb)
    ctx.consts.append(iarr(f"FB_{bi}", rows))
    ctx.consts.append(farr(f"FBW_{bi}", weights))
    ctx.helpers.add("mel")
    ctx.need("s_mel", fb.shape[0])


def sparse_rows(fb: np.ndarray) -> tuple[list[int], list[float]]:
    """(first bin, count) per filter row and the concatenated weights from first to last non-zero bin."""
    rows: list[int] = []
    weights: list[float] = []
    w32 = fb.astype(np.float32)
    for r in w32:
        nz = np.flatnonzero(r)
        if nz.size == 0:
            rows += [0, 0]
            continue
        lo, hi = int(nz[0]), int(nz[-1]) + 1
        rows += [lo, hi - lo]
        weights += [float(v) for v in r[lo:hi]]
    return rows, weights


def render_audio(ctx: Ctx, blk: _FramedBlock, axes: list[int], offset: int, bi: int) -> int:
    fs, na = ctx.fs, ctx.na
    flen, stride, n = blk.frame_len(fs), blk.frame_stride(fs), int(blk.params["fft_length"])
    frames = blk.n_frames(ctx.wl, fs)
    nb = blk.n_bins()
    row = len(axes) * nb
    fn = min(flen, n)
    half = n // 2
    use_real(ctx, n)
    ctx.need("s_p", half + 1)
    window = str(blk.params["window"])
    if window != "none":
        ctx.consts.append(farr(f"WIN_{bi}", window_function(window, flen)[:fn]))
    pre = float(np.float32(blk.params["pre_cof"])) if isinstance(blk, MfccBlock) else 0.0
    if pre != 0.0:
        ctx.helpers.add("preemph")
    mel = isinstance(blk, _MelBlock)
    m_count = int(blk.params["num_filters"]) if mel else 0
    if isinstance(blk, _MelBlock):
        emit_filterbank(ctx, blk.filterbank(fs), bi)
    nq = nb if isinstance(blk, MfccBlock) else 0
    win_size = int(blk.params["win_size"]) if isinstance(blk, MfccBlock) else 0
    if nq:
        ctx.consts.append(farr(f"DCT_{bi}", dct_matrix(m_count, nq).T))
    if win_size:
        ctx.helpers.update({"sym", "cmvn"})
        ctx.need("s_cep", frames * nq)
        ctx.need("s_mel", 2 * nq)  # the sliding sums and their compensations
    if not isinstance(blk, MfccBlock):
        ctx.helpers.add("noise_floor")
        floor = float(blk.params["noise_floor_db"])
        nf_args = f"{flit(floor)}, {flit(-floor + 12.0)}"
    line = ctx.line
    for ai, a in enumerate(axes):
        base = f"{offset} + {ai * nb}"
        sample = f"dsp_preemph(raw + {a}, src, {na}, {flit(pre)})" if pre != 0.0 else f"raw[src * {na} + {a}]"
        win = f" * WIN_{bi}[t]" if window != "none" else ""
        line(f"    for (f = 0; f < {frames}; f++) {{ /* axis {a} */")
        line(f"        for (k = 0; k < {half}; k++) {{ s_re[k] = 0.0f; s_im[k] = 0.0f; }}")
        line(f"        for (t = 0; t < {fn}; t++) {{")
        line(f"            int src = f * {stride} + t;")
        line(f"            float v = {sample}{win};")
        line("            if (t & 1) { s_im[t >> 1] = v; } else { s_re[t >> 1] = v; }")
        line("        }")
        line(f"        dsp_rfft_power({n}, s_p);")
        if isinstance(blk, SpectrogramBlock):
            line(f"        for (k = 0; k <= {half}; k++) {{ features[{base} + f * {row} + k] = "
                 f"dsp_noise_floor(s_p[k], {nf_args}); }}")
        else:
            line(f"        dsp_mel(s_p, FB_{bi}, FBW_{bi}, {m_count}, s_mel);")
        if mel and not nq:
            line(f"        for (k = 0; k < {m_count}; k++) {{ features[{base} + f * {row} + k] = "
                 f"dsp_noise_floor(s_mel[k], {nf_args}); }}")
        elif nq:
            line(f"        for (k = 0; k < {m_count}; k++) {{ s_mel[k] = 10.0f * log10f(s_mel[k] > 1e-10f ? "
                 "s_mel[k] : 1e-10f); }")
            dest = f"s_cep[f * {nq} + k]" if win_size else f"features[{base} + f * {row} + k]"
            line(f"        for (k = 0; k < {nq}; k++) {{")
            line("            float acc = 0.0f;")
            line(f"            const float *d = &DCT_{bi}[k * {m_count}];")
            line(f"            for (t = 0; t < {m_count}; t++) {{ acc += s_mel[t] * d[t]; }}")
            line(f"            {dest} = acc;")
            line("        }")
        line("    }")
        if win_size:
            line(f"    dsp_cmvn(s_cep, {frames}, {nq}, {win_size}, s_mel, &features[{base}], {row});")
    return offset + frames * row


PREEMPH = r"""
/* Pre-emphasised sample i of one axis: x[0], else x[i] - c x[i-1] (x[i] = ax[i * na]). */
static float dsp_preemph(const float *ax, int i, int na, float c)
{
    return i == 0 ? ax[0] : ax[i * na] - c * ax[(i - 1) * na];
}
"""
