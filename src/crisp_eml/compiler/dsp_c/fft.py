"""The C FFTs of the DSP twin: an iterative radix-2 complex FFT and a real FFT built on it.

One twiddle table ``exp(-2 pi i k / FFT_MAX)``, ``k < FFT_MAX / 2``, serves every transform of the impulse
(``FFT_MAX`` = its longest transform; all lengths are powers of two, so each divides it). The real FFT of
``n`` samples packs even/odd samples as ``n/2`` complex values (``s_re`` / ``s_im``), transforms them and
splits the result: ``X[k] = E[k] + W_n^k O[k]`` with ``E = (Z[k] + conj Z[n/2-k]) / 2`` and
``O = (Z[k] - conj Z[n/2-k]) / 2i``; only the power ``|X[k]|^2 / n`` for ``k = 0..n/2`` is kept.
"""

from __future__ import annotations

import numpy as np

from crisp_eml.compiler.dsp_c.emit import Ctx, farr

COMPLEX_FFT = r"""
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
    for (i = 0; i + 1 < n; i += 2) { /* first stage: twiddle 1 */
        float r = re[i + 1], m = im[i + 1];
        re[i + 1] = re[i] - r; im[i + 1] = im[i] - m;
        re[i] += r; im[i] += m;
    }
    for (len = 4; len <= n; len <<= 1) {
        int half = len >> 1;
        step = FFT_MAX / len;
        if (half < n / len) { /* few twiddles, many blocks: each twiddle loaded once */
            for (k = 0; k < half; k++) {
                float wr = TW_COS[k * step], wi = TW_SIN[k * step];
                for (i = k; i < n; i += len) {
                    int m = i + half;
                    float xr = re[m] * wr - im[m] * wi, xi = re[m] * wi + im[m] * wr;
                    re[m] = re[i] - xr; im[m] = im[i] - xi; re[i] += xr; im[i] += xi;
                }
            }
            continue;
        }
        for (i = 0; i < n; i += len) {
            for (k = 0; k < half; k++) {
                int m = i + k + half;
                float wr = TW_COS[k * step], wi = TW_SIN[k * step];
                float xr = re[m] * wr - im[m] * wi, xi = re[m] * wi + im[m] * wr;
                re[m] = re[i + k] - xr; im[m] = im[i + k] - xi; re[i + k] += xr; im[i + k] += xi;
            }
        }
    }
}
"""

REAL_POWER = r"""
/* p[k] = |X[k]|^2 / n, k = 0..n/2, for the real frame packed in s_re (even samples) / s_im (odd samples). */
static void dsp_rfft_power(int n, float *p)
{
    int h = n >> 1, k, step = FFT_MAX / n;
    float inv = 1.0f / (float)n;
    dsp_fft(s_re, s_im, h);
    p[0] = (s_re[0] + s_im[0]) * (s_re[0] + s_im[0]) * inv;
    p[h] = (s_re[0] - s_im[0]) * (s_re[0] - s_im[0]) * inv;
    for (k = 1; k < h; k++) {
        float ar = s_re[k], ai = s_im[k], br = s_re[h - k], bi = -s_im[h - k];
        float er = 0.5f * (ar + br), ei = 0.5f * (ai + bi);
        float orr = 0.5f * (ai - bi), oi = -0.5f * (ar - br);
        float wr = TW_COS[k * step], wi = TW_SIN[k * step];
        float xr = er + wr * orr - wi * oi, xi = ei + wr * oi + wi * orr;
        p[k] = (xr * xr + xi * xi) * inv;
    }
}
"""


def twiddles(fft_max: int) -> str:
    tw = np.arange(max(1, fft_max // 2)) * (-2.0 * np.pi / fft_max)
    return f"#define FFT_MAX {fft_max}\n" + farr("TW_COS", np.cos(tw)) + farr("TW_SIN", np.sin(tw))


def use_complex(ctx: Ctx, n: int) -> None:
    """A complex FFT of length ``n`` on ``s_re`` / ``s_im``."""
    ctx.helpers.add("fft")
    ctx.fft_max = max(ctx.fft_max, n)
    ctx.need("s_re", n)
    ctx.need("s_im", n)


def use_real(ctx: Ctx, n: int) -> None:
    """A real FFT of length ``n`` (power spectrum into a buffer of ``n/2 + 1``)."""
    use_complex(ctx, n // 2)
    ctx.fft_max = max(ctx.fft_max, n)
    ctx.helpers.add("rfft")
