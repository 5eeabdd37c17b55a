"""Float32 C twin of the ``raw``, ``flatten`` and ``spectral-analysis`` (FFT mode) processing blocks.

Pure rendering: an :class:`ImpulseSpec` -> ``{filename: text}`` (``<prefix>_dsp.h``, ``<prefix>_dsp.c``).
The C follows the algorithms written in the blocks' docstrings (``crisp_eml.dsp.basic``,
``crisp_eml.dsp.spectral``) in float32: the Butterworth second-order sections (computed here with scipy
in double, emitted as float constants) run in direct form II transposed, the spectrum uses its own
iterative radix-2 complex FFT with a constant twiddle table, and band edges are resolved to bin ranges
at render time. C99, no allocation (fixed-size static buffers, so not reentrant), no stdio.

API: ``int <prefix>_dsp(const float *raw, size_t len, float *features)`` where ``raw`` is one window,
interleaved ``raw[t * N_AXES + a]`` over the impulse's input axes, ``len`` = ``<PREFIX>_DSP_INPUT_LEN``,
and ``features`` receives ``<PREFIX>_DSP_N_FEATURES`` floats in :func:`crisp_eml.dsp.pipeline.apply_impulse`
order. Returns ``<PREFIX>_DSP_OK`` (0) or an error status.
"""

from __future__ import annotations

import re
from typing import Any

import numpy as np

from crisp_eml.core.errors import InputError
from crisp_eml.core.impulse import ImpulseSpec, TimeSeriesInput
from crisp_eml.dsp.basic import FlattenBlock
from crisp_eml.dsp.pipeline import block_instance, n_features, validate_impulse
from crisp_eml.dsp.spectral import SpectralAnalysisBlock

SUPPORTED = ("raw", "flatten", "spectral-analysis")


def _f(v: float) -> str:
    """A float literal that round-trips float32."""
    if not np.isfinite(v):
        raise InputError(f"non-finite constant {v}", field="params")
    return f"{float(np.float32(v))!r}f".replace("inf", "INFINITY")


def _arr(name: str, values: list[float] | np.ndarray, ctype: str = "float") -> str:
    vals = list(np.asarray(values).ravel())
    body = ", ".join(_f(v) if ctype == "float" else str(int(v)) for v in vals) or "0"
    return f"static const {ctype} {name}[{max(1, len(vals))}] = {{{body}}};\n"


def c_identifier(prefix: str) -> str:
    ident = re.sub(r"[^A-Za-z0-9_]", "_", prefix).strip("_").lower() or "eml"
    return ident if not ident[0].isdigit() else f"m_{ident}"


_COMMON = r"""
static void dsp_moments(const float *x, int n, float *mean, float *sd, float *skew, float *kurt)
{
    float mu = 0.0f, m2 = 0.0f, m3 = 0.0f, m4 = 0.0f;
    int i;
    for (i = 0; i < n; i++) { mu += x[i]; }
    mu /= (float)n;
    for (i = 0; i < n; i++) {
        float d = x[i] - mu, d2 = d * d;
        m2 += d2; m3 += d2 * d; m4 += d2 * d2;
    }
    m2 /= (float)n; m3 /= (float)n; m4 /= (float)n;
    *mean = mu;
    *sd = sqrtf(m2);
    if (m2 <= 1e-12f) { *skew = 0.0f; *kurt = 0.0f; }
    else { *skew = m3 / (m2 * sqrtf(m2)); *kurt = m4 / (m2 * m2) - 3.0f; }
}
"""

_FFT = r"""
/* In-place iterative radix-2 DIT FFT of length n (n divides FFT_MAX), twiddles exp(-2 pi i k / FFT_MAX). */
static void dsp_fft(float *re, float *im, int n)
{
    int i, j = 0, len, k, step;
    for (i = 1; i < n; i++) {
        int bit = n >> 1;
        for (; j & bit; bit >>= 1) { j ^= bit; }
        j ^= bit;
        if (i < j) {
            float t = re[i]; re[i] = re[j]; re[j] = t;
            t = im[i]; im[i] = im[j]; im[j] = t;
        }
    }
    for (len = 2; len <= n; len <<= 1) {
        int half = len >> 1;
        step = FFT_MAX / len;
        for (i = 0; i < n; i += len) {
            for (k = 0; k < half; k++) {
                float wr = TW_COS[k * step], wi = TW_SIN[k * step];
                float xr = re[i + k + half] * wr - im[i + k + half] * wi;
                float xi = re[i + k + half] * wi + im[i + k + half] * wr;
                re[i + k + half] = re[i + k] - xr; im[i + k + half] = im[i + k] - xi;
                re[i + k] += xr; im[i + k] += xi;
            }
        }
    }
}
"""


def render_dsp_c(spec: ImpulseSpec | dict[str, Any], prefix: str = "eml") -> dict[str, str]:
    """C sources computing the impulse's features for one window (see the module docstring).

    ``spec`` may be an :class:`ImpulseSpec` or its ``to_dict()`` form (validated here)."""
    if not isinstance(spec, ImpulseSpec):
        spec = ImpulseSpec.from_dict(spec)
    if not isinstance(spec.input, TimeSeriesInput):
        raise InputError("the C twin covers time-series impulses only", field="input.type")
    validate_impulse(spec)
    p = c_identifier(prefix)
    up = p.upper()
    inp = spec.input
    wl, na, fs = inp.window_len, len(inp.axes), inp.frequency_hz
    names = list(inp.axes)
    consts: list[str] = []
    body: list[str] = []
    fft_max = 1
    offset = 0
    for bi, b in enumerate(spec.blocks):
        if b.type not in SUPPORTED:
            raise InputError(f"block '{b.type}' has no C twin yet (supported: {list(SUPPORTED)})",
                             field=f"blocks.{bi}.type")
        blk = block_instance(spec, b)
        axes = list(range(na)) if b.axes is None else [names.index(a) for a in b.axes]
        scale = _f(float(blk.params["scale-axes"]))
        body.append(f"    /* block {bi}: {b.type} '{b.name}' */")
        if b.type == "raw":
            for t_ax, a in enumerate(axes):
                body.append(f"    for (t = 0; t < {wl}; t++) {{ features[{offset} + t * {len(axes)} + {t_ax}] = "
                            f"raw[t * {na} + {a}] * {scale}; }}")
            offset += wl * len(axes)
            continue
        if b.type == "flatten":
            assert isinstance(blk, FlattenBlock)
            stats = blk.enabled()
            expr = {"average": "mean", "minimum": "mn", "maximum": "mx", "rms": "sqrtf(sq / (float)N_LEN)",
                    "stdev": "sd", "skewness": "sk", "kurtosis": "ku"}
            for a in axes:
                body.append("    {")
                body.append("        float mean, sd, sk, ku, mn, mx, sq = 0.0f;")
                body.append(f"        for (t = 0; t < {wl}; t++) {{ s_x[t] = raw[t * {na} + {a}] * {scale}; }}")
                body.append("        mn = s_x[0]; mx = s_x[0];")
                body.append(f"        for (t = 0; t < {wl}; t++) {{ sq += s_x[t] * s_x[t]; "
                            "if (s_x[t] < mn) { mn = s_x[t]; } if (s_x[t] > mx) { mx = s_x[t]; } }")
                body.append(f"        dsp_moments(s_x, {wl}, &mean, &sd, &sk, &ku);")
                body.append("        (void)mean; (void)sd; (void)sk; (void)ku; (void)mn; (void)mx;")
                for k, st in enumerate(stats):
                    body.append(f"        features[{offset + k}] = {expr[st].replace('N_LEN', str(wl))};")
                body.append("    }")
                offset += len(stats)
            continue
        assert isinstance(blk, SpectralAnalysisBlock)
        if blk.params["analysis-type"] != "FFT":
            raise InputError("the C twin implements analysis-type FFT only", field=f"blocks.{bi}.params.analysis-type")
        n = int(blk.params["fft-length"])
        fft_max = max(fft_max, n)
        half = n // 2
        sos = blk.sos(fs)
        log = bool(blk.params["do-log"])
        stride = n // 2 if blk.params["do-fft-overlap"] else n
        frames = 1 if wl < n else 1 + (wl - n) // stride
        k_peaks = int(blk.params["spectral-peaks-count"])
        thr = _f(float(blk.params["spectral-peaks-threshold"]))
        edges = blk._edges()
        freqs = np.arange(1, half + 1) * fs / n
        bands = [(int(np.argmax(freqs >= lo)) if np.any(freqs >= lo) else half,
                  int(np.sum(freqs < hi))) for lo, hi in zip(edges, edges[1:], strict=False)]

        def lg(e: str, log: bool = log) -> str:
            return f"log10f({e} > 1e-10f ? {e} : 1e-10f)" if log else e

        if sos is not None:
            consts.append(_arr(f"SOS_{bi}", sos))
        for a in axes:
            body.append("    {")
            body.append("        float mean = 0.0f, sd, sk, ku, sq = 0.0f;")
            body.append("        int f, k, j;")
            body.append(f"        for (t = 0; t < {wl}; t++) {{ s_x[t] = raw[t * {na} + {a}] * {scale}; "
                        "mean += s_x[t]; }")
            body.append(f"        mean /= {_f(wl)};")
            body.append(f"        for (t = 0; t < {wl}; t++) {{ s_x[t] -= mean; }}")
            if sos is not None:
                body.append(f"        for (j = 0; j < {len(sos)}; j++) {{")
                body.append(f"            const float *c = &SOS_{bi}[j * 6];")
                body.append("            float z1 = 0.0f, z2 = 0.0f;")
                body.append(f"            for (t = 0; t < {wl}; t++) {{")
                body.append("                float in = s_x[t], out = c[0] * in + z1;")
                body.append("                z1 = c[1] * in - c[4] * out + z2;")
                body.append("                z2 = c[2] * in - c[5] * out;")
                body.append("                s_x[t] = out;")
                body.append("            }")
                body.append("        }")
            body.append(f"        for (t = 0; t < {wl}; t++) {{ sq += s_x[t] * s_x[t]; }}")
            body.append(f"        dsp_moments(s_x, {wl}, &mean, &sd, &sk, &ku);")
            body.append("        (void)sd;")
            body.append(f"        features[{offset}] = sqrtf(sq / {_f(wl)});")
            body.append(f"        features[{offset + 1}] = sk;")
            body.append(f"        features[{offset + 2}] = ku;")
            body.append(f"        for (k = 0; k < {half}; k++) {{ s_p[k] = 0.0f; }}")
            body.append(f"        for (f = 0; f < {frames}; f++) {{")
            body.append(f"            for (j = 0; j < {n}; j++) {{")
            body.append(f"                int src = f * {stride} + j;")
            body.append(f"                s_re[j] = src < {wl} ? s_x[src] : 0.0f; s_im[j] = 0.0f;")
            body.append("            }")
            body.append(f"            dsp_fft(s_re, s_im, {n});")
            body.append(f"            for (k = 1; k <= {half}; k++) {{ s_p[k - 1] += (s_re[k] * s_re[k] + "
                        f"s_im[k] * s_im[k]) * {_f(1.0 / n)}; }}")
            body.append("        }")
            body.append(f"        for (k = 0; k < {half}; k++) {{ s_p[k] /= {_f(frames)}; "
                        f"features[{offset + 3} + k] = {lg('s_p[k]')}; }}")
            o = offset + 3 + half
            if k_peaks:
                body.append(f"        for (k = 0; k < {half}; k++) {{ s_used[k] = 0; }}")
                body.append(f"        for (j = 0; j < {k_peaks}; j++) {{")
                body.append("            int best = -1;")
                body.append("            float bv = 0.0f;")
                body.append(f"            for (k = 0; k < {half}; k++) {{")
                body.append(f"                int peak = !s_used[k] && s_p[k] >= {thr} && "
                            f"(k == 0 || s_p[k] > s_p[k - 1]) && (k == {half - 1} || s_p[k] >= s_p[k + 1]);")
                body.append("                if (peak && (best < 0 || s_p[k] > bv)) { best = k; bv = s_p[k]; }")
                body.append("            }")
                body.append(f"            if (best < 0) {{ features[{o} + 2 * j] = 0.0f; "
                            f"features[{o} + 2 * j + 1] = 0.0f; }}")
                body.append(f"            else {{ s_used[best] = 1; features[{o} + 2 * j] = (float)(best + 1) * "
                            f"{_f(fs / n)}; features[{o} + 2 * j + 1] = {lg('bv')}; }}")
                body.append("        }")
                o += 2 * k_peaks
            for j, (lo, hi) in enumerate(bands):
                body.append("        {")
                body.append("            float acc = 0.0f;")
                body.append(f"            for (k = {lo}; k < {hi}; k++) {{ acc += s_p[k]; }}")
                body.append(f"            features[{o + j}] = {lg('acc')};")
                body.append("        }")
            offset = o + len(bands)
            body.append("    }")
    total = n_features(spec)
    if offset != total:
        raise AssertionError(f"C twin wrote {offset} features, the impulse has {total}")
    header = f"""/* Generated by crisp-eml: float32 DSP for impulse {spec.hash[:16]}. Do not edit. */
#ifndef {up}_DSP_H
#define {up}_DSP_H

#include <stddef.h>

#define {up}_DSP_WINDOW_LEN {wl}
#define {up}_DSP_N_AXES {na}
#define {up}_DSP_INPUT_LEN ({wl} * {na})
#define {up}_DSP_N_FEATURES {total}
#define {up}_DSP_FREQUENCY_HZ {_f(fs)}

typedef enum {{
    {up}_DSP_OK = 0,
    {up}_DSP_ERR_NULL = 1,
    {up}_DSP_ERR_LENGTH = 2
}} {p}_dsp_status;

/* raw: one window, raw[t * {up}_DSP_N_AXES + axis]; len must be {up}_DSP_INPUT_LEN floats. */
int {p}_dsp(const float *raw, size_t len, float *features);

#endif
"""
    tw = np.arange(max(1, fft_max // 2)) * (-2.0 * np.pi / fft_max)
    fft_consts = (f"#define FFT_MAX {fft_max}\n" + _arr("TW_COS", np.cos(tw)) + _arr("TW_SIN", np.sin(tw)))
    uses_fft = any(b.type == "spectral-analysis" for b in spec.blocks)
    uses_moments = any(b.type in ("flatten", "spectral-analysis") for b in spec.blocks)
    source = f"""/* Generated by crisp-eml: float32 DSP for impulse {spec.hash[:16]}. Do not edit. */
#include "{p}_dsp.h"

#include <math.h>

{fft_consts if uses_fft else ""}{"".join(consts)}
static float s_x[{wl}];
static float s_re[{fft_max}];
static float s_im[{fft_max}];
static float s_p[{max(1, fft_max // 2)}];
static unsigned char s_used[{max(1, fft_max // 2)}];
{_COMMON if uses_moments else ""}{_FFT if uses_fft else ""}
int {p}_dsp(const float *raw, size_t len, float *features)
{{
    int t;
    if (raw == NULL || features == NULL) {{ return {up}_DSP_ERR_NULL; }}
    if (len != (size_t){up}_DSP_INPUT_LEN) {{ return {up}_DSP_ERR_LENGTH; }}
    (void)s_x; (void)s_re; (void)s_im; (void)s_p; (void)s_used; (void)t;
{chr(10).join(body)}
    return {up}_DSP_OK;
}}
"""
    return {f"{p}_dsp.h": header, f"{p}_dsp.c": source}
