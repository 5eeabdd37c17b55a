"""Assembling the DSP twin: an impulse spec -> ``<prefix>_dsp.h`` + ``<prefix>_dsp.c``.

Validates the impulse, lets each block's renderer (:mod:`.motion`, :mod:`.audio`, :mod:`.image`) append its code and
tables to one :class:`~.emit.Ctx`, then declares exactly the static buffers and helper functions used.
The header also states the library's static RAM (``<PREFIX>_DSP_STATIC_BYTES``) and that it needs libm.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from crisp_eml.compiler.dsp_c.audio import CMVN, MEL, NOISE_FLOOR, PREEMPH, render_audio
from crisp_eml.compiler.dsp_c.emit import SYM, Ctx, c_identifier, flit
from crisp_eml.compiler.dsp_c.fft import COMPLEX_FFT, REAL_POWER, twiddles
from crisp_eml.compiler.dsp_c.image import render_image
from crisp_eml.compiler.dsp_c.motion import MOMENTS, render_flatten, render_raw, render_spectral
from crisp_eml.compiler.dsp_c.wavelet import WAVELET
from crisp_eml.core.errors import InputError
from crisp_eml.core.impulse import ImageInput, ImpulseSpec
from crisp_eml.dsp.audio import _FramedBlock
from crisp_eml.dsp.pipeline import block_instance, n_features, validate_impulse

SUPPORTED = ("raw", "flatten", "spectral-analysis", "spectrogram", "mfe", "mfcc", "image")

# helper name -> C text, in dependency order (dsp_rfft_power calls dsp_fft)
_HELPERS = (("moments", MOMENTS), ("fft", COMPLEX_FFT), ("rfft", REAL_POWER), ("preemph", PREEMPH),
            ("noise_floor", NOISE_FLOOR), ("mel", MEL), ("sym", SYM), ("cmvn", CMVN), ("wavelet", WAVELET))
_BUFFERS = ("s_win", "s_x", "s_re", "s_im", "s_p", "s_mel", "s_cep", "s_wa", "s_wb", "s_wd", "s_ws")


def refuse_external(spec: ImpulseSpec | dict[str, Any]) -> None:
    """Refuse an impulse with an ``external`` block (features from an HTTP block server): it has no C twin, so
    neither its library nor a deployment could compute the model's input on the device."""
    blocks = spec.to_dict()["blocks"] if isinstance(spec, ImpulseSpec) else (spec or {}).get("blocks") or []
    for bi, b in enumerate(blocks):
        if isinstance(b, dict) and b.get("type") == "external":
            url = (b.get("params") or {}).get("url")
            raise InputError(f"block 'external' ({url}) has no C implementation: its features come from that "
                             "server, so the device could not compute them; compile needs built-in blocks "
                             "('eml impulse create --block TYPE', e.g. the block the server runs) or a "
                             "features-in model (import the .tflite without an impulse)", field=f"blocks.{bi}.type")


def _body(spec: ImpulseSpec, ctx: Ctx) -> int:
    names = list(spec.input.axes)
    offset = 0
    for bi, b in enumerate(spec.blocks):
        if b.type not in SUPPORTED:
            raise InputError(f"block '{b.type}' has no C twin yet (supported: {list(SUPPORTED)})",
                             field=f"blocks.{bi}.type")
        blk = block_instance(spec, b)
        if isinstance(spec.input, ImageInput):
            ctx.line(f"    /* block {bi}: {b.type} '{b.name}' */")
            offset = render_image(ctx, blk, spec.input.width * spec.input.height, offset)
            continue
        axes = list(range(ctx.na)) if b.axes is None else [names.index(a) for a in b.axes]
        ctx.line(f"    /* block {bi}: {b.type} '{b.name}' */")
        ei = _ei_renderer(b.type, blk.implementation_version)
        if ei is not None:
            offset = ei(ctx, blk, axes, offset, bi)
        elif b.type == "raw":
            offset = render_raw(ctx, blk, axes, offset)
        elif b.type == "flatten":
            offset = render_flatten(ctx, blk, axes, offset)
        elif b.type == "spectral-analysis":
            offset = render_spectral(ctx, blk, axes, offset, bi)
        else:
            assert isinstance(blk, _FramedBlock)
            offset = render_audio(ctx, blk, axes, offset, bi)
    return offset


def _ei_renderer(btype: str, version: object) -> Callable[[Ctx, Any, list[int], int, int], int] | None:
    """The renderer of an Edge Impulse version of ``btype`` (raw and flatten: the crisp renderers compute it)."""
    if not isinstance(version, int):
        return None
    if btype == "spectral-analysis":
        from crisp_eml.compiler.dsp_c.ei_motion import render_ei_spectral

        return render_ei_spectral
    if btype in ("spectrogram", "mfe", "mfcc"):
        from crisp_eml.compiler.dsp_c.ei_audio import render_ei_audio

        return render_ei_audio
    return None


_FIT = {
    "pad": r"""
/* The first DSP_WINDOW_LEN rows of the recording, zero-padded at the end when it is shorter. */
static void dsp_fit_window(const float *in, size_t rows, float *out)
{
    size_t i, n = (rows < (size_t)DSP_WINDOW_LEN ? rows : (size_t)DSP_WINDOW_LEN) * DSP_N_AXES;
    for (i = 0; i < n; ++i) { out[i] = in[i]; }
    for (; i < (size_t)DSP_WINDOW_LEN * DSP_N_AXES; ++i) { out[i] = 0.0f; }
}
""",
    "resample": r"""
/* The recording resampled linearly to DSP_WINDOW_LEN rows, in float32 in the order of
   crisp_eml.core.impulse.resample_rows: pos = i * step, y = x[j] + (x[j + 1] - x[j]) * (pos - j). */
static void dsp_fit_window(const float *in, size_t rows, float *out)
{
    size_t i, j, a;
    float step, pos, frac;
    if (rows == 1u || DSP_WINDOW_LEN == 1) {
        for (i = 0; i < (size_t)DSP_WINDOW_LEN; ++i) {
            for (a = 0; a < (size_t)DSP_N_AXES; ++a) { out[i * DSP_N_AXES + a] = in[a]; }
        }
        return;
    }
    step = (float)(rows - 1u) / (float)(DSP_WINDOW_LEN - 1);
    for (i = 0; i < (size_t)DSP_WINDOW_LEN; ++i) {
        pos = (float)i * step;
        j = (size_t)pos;
        if (j > rows - 2u) { j = rows - 2u; }
        frac = pos - (float)j;
        for (a = 0; a < (size_t)DSP_N_AXES; ++a) {
            const float x0 = in[j * DSP_N_AXES + a];
            const float x1 = in[(j + 1u) * DSP_N_AXES + a];
            out[i * DSP_N_AXES + a] = x0 + (x1 - x0) * frac;
        }
    }
}
""",
}


def _length_check(up: str, mode: str) -> str:
    if mode not in _FIT:
        return f"    if (len != (size_t){up}_DSP_INPUT_LEN) {{ return {up}_DSP_ERR_LENGTH; }}\n"
    return (f"    if (len == 0u || len % (size_t){up}_DSP_N_AXES != 0u) {{ return {up}_DSP_ERR_LENGTH; }}\n"
            f"    dsp_fit_window(input, len / (size_t){up}_DSP_N_AXES, s_win);\n    raw = s_win;\n")


def render_dsp_c(spec: ImpulseSpec | dict[str, Any], prefix: str = "eml") -> dict[str, str]:
    """C sources computing the impulse's features for one window (see the package docstring).

    ``spec`` may be an :class:`ImpulseSpec` or its ``to_dict()`` form (validated here)."""
    if not isinstance(spec, ImpulseSpec):
        spec = ImpulseSpec.from_dict(spec)
    refuse_external(spec)  # before validation, which would ask the block's server
    validate_impulse(spec)
    p = c_identifier(prefix)
    up = p.upper()
    inp = spec.input
    if isinstance(inp, ImageInput):  # one frame, row by row: "window" = rows, "axes" = values per row
        ctx = Ctx(wl=inp.height, na=inp.width * len(inp.axes), fs=0.0)
        layout = (f"raw[(y * {up}_DSP_IMAGE_WIDTH + x) * {up}_DSP_IMAGE_CHANNELS + c], 0..255, a frame already at\n"
                  f"   the impulse's {inp.width}x{inp.height} ({inp.channels}): resizing stays on the host")
        image_macros = (f"#define {up}_DSP_IMAGE_WIDTH {inp.width}\n#define {up}_DSP_IMAGE_HEIGHT {inp.height}\n"
                        f"#define {up}_DSP_IMAGE_CHANNELS {len(inp.axes)}\n")
    else:
        ctx = Ctx(wl=inp.window_len, na=len(inp.axes), fs=inp.frequency_hz)
        layout = f"one window, raw[t * {up}_DSP_N_AXES + axis]"
        image_macros = ""
    mode = str(getattr(inp, "length_mode", "window"))
    whole = mode in ("pad", "resample")
    if whole:
        layout = (f"one whole recording, raw[t * {up}_DSP_N_AXES + axis], any number of rows (len a positive\n"
                  f"   multiple of {up}_DSP_N_AXES), first "
                  + ("zero-padded or cut to" if mode == "pad" else "resampled linearly to")
                  + f" {up}_DSP_WINDOW_LEN rows as the impulse's length_mode '{mode}' says")
        image_macros = f"#define {up}_DSP_VARIABLE_LENGTH 1\n"
    written = _body(spec, ctx)
    total = n_features(spec)
    if written != total:
        raise AssertionError(f"C twin wrote {written} features, the impulse has {total}")
    if whole:
        ctx.need("s_win", ctx.wl * ctx.na)
    buffers = [(b, ctx.sizes[b]) for b in _BUFFERS if b in ctx.sizes]
    buffers += [(b, n) for b, n in sorted(ctx.sizes.items()) if b not in _BUFFERS and b != "s_used"]
    static_bytes = 4 * sum(n for _, n in buffers) + ctx.sizes.get("s_used", 0)
    decls = "".join(f"static float {b}[{n}];\n" for b, n in buffers)
    if "s_used" in ctx.sizes:
        decls += f"static unsigned char s_used[{ctx.sizes['s_used']}];\n"
    helpers = "".join(text for name, text in _HELPERS if name in ctx.helpers) + "".join(ctx.extra_helpers.values())
    if whole:
        helpers = _FIT[mode].replace("DSP_WINDOW_LEN", f"{up}_DSP_WINDOW_LEN").replace(
            "DSP_N_AXES", f"{up}_DSP_N_AXES") + helpers
    tw = twiddles(ctx.fft_max) if "fft" in ctx.helpers else ""
    stamp = f"/* Generated by crisp-eml: float32 DSP for impulse {spec.hash[:16]}. Do not edit. */"
    header = f"""{stamp}
#ifndef {up}_DSP_H
#define {up}_DSP_H

#include <stddef.h>

#define {up}_DSP_WINDOW_LEN {ctx.wl}
#define {up}_DSP_N_AXES {ctx.na}
#define {up}_DSP_INPUT_LEN ({ctx.wl} * {ctx.na})
#define {up}_DSP_N_FEATURES {total}
#define {up}_DSP_FREQUENCY_HZ {flit(ctx.fs)}
{image_macros}/* bytes of static working buffers in {p}_dsp.c (not reentrant); the code needs libm (-lm) */
#define {up}_DSP_STATIC_BYTES {static_bytes}

typedef enum {{
    {up}_DSP_OK = 0,
    {up}_DSP_ERR_NULL = 1,
    {up}_DSP_ERR_LENGTH = 2
}} {p}_dsp_status;

/* raw: {layout}; len must be {up}_DSP_INPUT_LEN floats{" (or any whole rows, see above)" if whole else ""}. */
int {p}_dsp(const float *raw, size_t len, float *features);

#endif
"""
    source = f"""{stamp}
#include "{p}_dsp.h"

#include <math.h>

{tw}{"".join(ctx.consts)}
{decls}{helpers}
int {p}_dsp(const float *input, size_t len, float *features)
{{
    int t, f, k;
    const float *raw = input;
    if (input == NULL || features == NULL) {{ return {up}_DSP_ERR_NULL; }}
{_length_check(up, mode)}    (void)t; (void)f; (void)k;
{chr(10).join(ctx.body)}
    return {up}_DSP_OK;
}}
"""
    return {f"{p}_dsp.h": header, f"{p}_dsp.c": source}
