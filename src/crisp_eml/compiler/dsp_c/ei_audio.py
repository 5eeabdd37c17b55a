"""C for Edge Impulse's ``spectrogram``, ``mfe`` and ``mfcc`` blocks, implementation versions 1-4.

The float32 twin of :mod:`crisp_eml.dsp.ei_audio` (one axis, as Edge Impulse). Resolved at render time and
emitted as constants: framing (samples per frame, stride, frames: :mod:`crisp_eml.dsp.ei_mel`), the mel
filterbank as sparse rows (``FB_<i>`` = first bin and count per filter, ``FBW_<i>`` the weights; the crisp
twin's ``dsp_mel`` applies them), the orthonormal DCT-II (``DCT_<i>[q * M + m]``). Per frame: the samples
(times ``input_scale``; pre-emphasis with Edge Impulse's wrap-around where the version has it), a real FFT of
``fft_length`` (:mod:`.fft`), power ``|X|^2 / N``, then the version's tail. Tails needing the whole window
(min-max of spectrogram v1/v2 and mfe v1/v2, the sliding normalisation ``cmvnw``) keep the window's frames
in ``s_ei_v`` (mfcc: and the mean-removed values in ``s_ei_ms``) and finish after the last frame.

mfe v3/v4 quantise to 8 bits with ``rintf`` (round half to even, as numpy's ``around``) and wrap 256 to 0
as Edge Impulse does; the float32 value being rounded differs from Python's float64 one by rounding error,
so a value within that error of a .5 step may land one step (1/256; 255 vs 0 at the wrap) away from Python's.
"""

from __future__ import annotations

from crisp_eml.compiler.dsp_c.audio import emit_filterbank
from crisp_eml.compiler.dsp_c.emit import Ctx, farr, flit
from crisp_eml.compiler.dsp_c.fft import use_real
from crisp_eml.dsp.audio import dct_matrix
from crisp_eml.dsp.ei_audio import EIMfccBlock, EIMfeBlock, EISpectrogramBlock, _EIAudioBlock, _EIMelBlock

PRE = r"""
/* Sample i of one axis (x[i] = ax[i * na] * g), pre-emphasised with Edge Impulse's wrap-around:
   x[i] - c x[(i - shift) mod len]. */
static float dsp_ei_pre(const float *ax, int i, int na, int len, float g, float c, int shift)
{
    int j = (i - shift) % len;
    if (j < 0) { j += len; }
    return ax[i * na] * g - c * (ax[j * na] * g);
}
"""

DB = r"""
/* (10 log10 max(v, 1e-30) - floor_db) / den, den = 12 - floor_db (not clipped). */
static float dsp_ei_db(float v, float floor_db, float den)
{
    return (10.0f * log10f(v > 1e-30f ? v : 1e-30f) - floor_db) / den;
}
"""

Q8 = r"""
/* clip(y, 0, 1) quantised to round_half_even(256 y) / 256, 256 wrapping to 0 (Edge Impulse's uint8 cast). */
static float dsp_ei_q8(float y)
{
    float q = rintf((y < 0.0f ? 0.0f : (y > 1.0f ? 1.0f : y)) * 256.0f);
    return (q >= 256.0f ? q - 256.0f : q) / 256.0f;
}
"""

CMVNW = r"""
/* speechpy cmvnw over frames x cols values v (rows padded numpy-'symmetric'): ms = v - mean of the win rows
   centred on each row, summed as differences from v (no cancellation of large equal parts, constant -> 0);
   with var, out = ms / (std of the ms window + 1e-10). Without var the result is ms. */
static void dsp_ei_cmvnw(const float *v, int frames, int cols, int win, int var, float *ms, float *out)
{
    int f, q, p, half = (win - 1) / 2;
    for (f = 0; f < frames; f++) {
        for (q = 0; q < cols; q++) {
            float s = 0.0f, c = v[f * cols + q];
            for (p = -half; p <= half; p++) { s += v[dsp_sym(f + p, frames) * cols + q] - c; }
            ms[f * cols + q] = -s / (float)win;
        }
    }
    for (f = 0; var && f < frames; f++) {
        for (q = 0; q < cols; q++) {
            float s = 0.0f, sq = 0.0f, m;
            for (p = -half; p <= half; p++) { s += ms[dsp_sym(f + p, frames) * cols + q]; }
            m = s / (float)win;
            for (p = -half; p <= half; p++) {
                float d = ms[dsp_sym(f + p, frames) * cols + q] - m;
                sq += d * d;
            }
            out[f * cols + q] = ms[f * cols + q] / (sqrtf(sq / (float)win) + 1e-10f);
        }
    }
}
"""

MINMAX = r"""
/* Edge Impulse's min-max over n values in place: (x - min) / (max - min); 0 where that is 0 / 0.
   only_nonzero: leave the values as they are when the min or the max is exactly 0 (mfe v1/v2). */
static void dsp_ei_minmax(float *x, int n, int only_nonzero)
{
    int i;
    float mn = x[0], mx = x[0], span;
    for (i = 1; i < n; i++) { mn = x[i] < mn ? x[i] : mn; mx = x[i] > mx ? x[i] : mx; }
    if (only_nonzero && (mn == 0.0f || mx == 0.0f)) { return; }
    span = mx - mn;
    for (i = 0; i < n; i++) { x[i] = span != 0.0f ? (x[i] - mn) / span : 0.0f; }
}
"""


def _helper(ctx: Ctx, name: str, text: str) -> None:
    ctx.extra_helpers.setdefault(name, text)


def render_ei_audio(ctx: Ctx, blk: _EIAudioBlock, axes: list[int], offset: int, bi: int) -> int:
    """Append the C of one Edge Impulse audio block (one axis) to ``ctx``; return the next feature offset."""
    if len(axes) != 1:
        raise AssertionError("Edge Impulse's audio blocks read one axis (validated before rendering)")
    a, na, fs, v = axes[0], ctx.na, ctx.fs, blk.v
    flen, stride, frames = blk.geometry(ctx.wl, fs)
    n = int(blk.params["fft_length"])
    nb = blk.n_bins()
    fn, half = min(flen, n), n // 2
    total = frames * nb
    use_real(ctx, n)
    ctx.need("s_p", half + 1)
    gain = float(blk.params["input_scale"])
    line = ctx.line
    line("    {")
    # the samples of one frame: x = raw * gain, with pre-emphasis where the version has it
    sample = f"raw[src * {na} + {a}] * g"
    g = flit(gain)
    if isinstance(blk, EISpectrogramBlock) and v == 3:
        # deliberate (EI v3): rescale by 2^15 only when a sample lies outside [-1, 1]
        line(f"        float g = {g};")
        line(f"        for (t = 0; t < {ctx.wl}; t++) {{ float x = raw[t * {na} + {a}] * g; "
             "if (x < -1.0f || x > 1.0f) { break; } }")
        line(f"        if (t < {ctx.wl}) {{ g *= {flit(2.0 ** -15)}; }}")
    elif isinstance(blk, EIMfeBlock) and v >= 3:
        _helper(ctx, "ei_pre", PRE)
        line(f"        const float g = {flit(gain * 2.0 ** -15)};")
        sample = f"dsp_ei_pre(raw + {a}, src, {na}, {ctx.wl}, g, 0.98f, 1)"  # EI: /2^15, 0.98, wrapping
    elif isinstance(blk, EIMfccBlock) and float(blk.params["pre_cof"]) != 0.0:
        _helper(ctx, "ei_pre", PRE)
        line(f"        const float g = {g};")
        sample = (f"dsp_ei_pre(raw + {a}, src, {na}, {ctx.wl}, g, {flit(float(blk.params['pre_cof']))}, "
                  f"{int(blk.params['pre_shift'])})")
    else:
        line(f"        const float g = {g};")
    mel = isinstance(blk, _EIMelBlock)
    m_count = int(blk.params["num_filters"]) if mel else 0
    if isinstance(blk, _EIMelBlock):
        emit_filterbank(ctx, blk.filterbank(fs), bi)
    whole = blk.sliding_window() > 0  # tails that need the whole window
    if whole:
        ctx.need("s_ei_v", total)
    if isinstance(blk, EIMfccBlock) and whole:
        ctx.need("s_ei_ms", total)
    db_args = ""
    if not isinstance(blk, EIMfccBlock) and v >= 3:
        _helper(ctx, "ei_db", DB)
        floor = float(blk.params["noise_floor_db"])
        db_args = f"{flit(floor)}, {flit(-floor + 12.0)}"
    if isinstance(blk, EIMfccBlock):
        ctx.consts.append(farr(f"DCT_{bi}", dct_matrix(m_count, nb).T))
    row0 = f"s_ei_v[f * {nb}" if whole else f"features[{offset} + f * {nb}"
    dest = f"{row0} + k]"
    line(f"        for (f = 0; f < {frames}; f++) {{")
    line(f"            for (k = 0; k < {max(1, half)}; k++) {{ s_re[k] = 0.0f; s_im[k] = 0.0f; }}")
    line(f"            for (t = 0; t < {fn}; t++) {{")
    line(f"                int src = f * {stride} + t;")
    line(f"                float x = {sample};")
    line("                if (t & 1) { s_im[t >> 1] = x; } else { s_re[t >> 1] = x; }")
    line("            }")
    line(f"            dsp_rfft_power({n}, s_p);")
    if isinstance(blk, EISpectrogramBlock):
        if v < 3:
            line(f"            for (k = 0; k <= {half}; k++) {{ {dest} = s_p[k]; }}")
        else:
            clip = "y < 0.0f ? 0.0f : (y > 1.0f ? 1.0f : y)" if v == 3 else "y < 0.0f ? 0.0f : y"
            line(f"            for (k = 0; k <= {half}; k++) {{ float y = dsp_ei_db(s_p[k], {db_args}); "
                 f"{dest} = {clip}; }}")
    else:
        line(f"            dsp_mel(s_p, FB_{bi}, FBW_{bi}, {m_count}, s_mel);")
        line(f"            for (k = 0; k < {m_count}; k++) {{ if (s_mel[k] == 0.0f) {{ s_mel[k] = 1e-10f; }} }}")
        if isinstance(blk, EIMfeBlock) and v < 3:
            line(f"            for (k = 0; k < {m_count}; k++) {{ {dest} = s_mel[k]; }}")
        elif isinstance(blk, EIMfeBlock):
            _helper(ctx, "ei_q8", Q8)
            line(f"            for (k = 0; k < {m_count}; k++) {{ {dest} = dsp_ei_q8(dsp_ei_db(s_mel[k], {db_args})); "
                 "}")
        else:
            line("            {")
            line("                float energy = 0.0f;")
            line(f"                for (k = 0; k <= {half}; k++) {{ energy += s_p[k]; }}")
            line(f"                for (k = 0; k < {m_count}; k++) {{ s_mel[k] = logf(s_mel[k]); }}")
            line(f"                for (k = 0; k < {nb}; k++) {{")
            line("                    float acc = 0.0f;")
            line(f"                    const float *d = &DCT_{bi}[k * {m_count}];")
            line(f"                    for (t = 0; t < {m_count}; t++) {{ acc += s_mel[t] * d[t]; }}")
            line(f"                    {dest} = acc;")
            line("                }")
            # deliberate (EI): c0 = ln of the frame's power-spectrum sum
            line(f"                {row0}] = logf(energy != 0.0f ? energy : 1e-10f);")
            line("            }")
    line("        }")
    if isinstance(blk, EISpectrogramBlock) and v < 3:
        _helper(ctx, "ei_minmax", MINMAX)
        line(f"        dsp_ei_minmax(&features[{offset}], {total}, 0);")
    if whole:
        ctx.helpers.add("sym")
        _helper(ctx, "ei_cmvnw", CMVNW)
        win = int(blk.params["win_size"])
        if isinstance(blk, EIMfccBlock):
            line(f"        dsp_ei_cmvnw(s_ei_v, {frames}, {nb}, {win}, 1, s_ei_ms, &features[{offset}]);")
        else:  # mean pass only, straight into the features
            line(f"        dsp_ei_cmvnw(s_ei_v, {frames}, {nb}, {win}, 0, &features[{offset}], &features[{offset}]);")
        if isinstance(blk, EIMfeBlock):
            _helper(ctx, "ei_minmax", MINMAX)
            line(f"        dsp_ei_minmax(&features[{offset}], {total}, 1);")
    line("    }")
    return offset + total

