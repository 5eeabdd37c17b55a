"""Float32 C twin of the impulse's DSP blocks: ``render_dsp_c(spec, prefix) -> {filename: text}``.

Covers ``raw``, ``flatten``, ``spectral-analysis`` (FFT mode), ``spectrogram``, ``mfe``, ``mfcc`` and, for image
impulses, ``image`` (frames arrive at the impulse's size: resizing stays on the host); one renderer per block
family (:mod:`.motion`, :mod:`.audio`, :mod:`.image`), the FFTs in :mod:`.fft`, assembly in :mod:`.render`.
Pure: no files, no subprocesses.

API of the generated code: ``int <prefix>_dsp(const float *raw, size_t len, float *features)`` where ``raw``
is one window, interleaved ``raw[t * N_AXES + a]`` over the impulse's input axes, ``len`` =
``<PREFIX>_DSP_INPUT_LEN``, and ``features`` receives ``<PREFIX>_DSP_N_FEATURES`` floats in
:func:`crisp_eml.dsp.pipeline.apply_impulse` order. Returns ``<PREFIX>_DSP_OK`` (0) or an error status.
C99, no allocation (fixed-size static buffers, ``<PREFIX>_DSP_STATIC_BYTES``, so not reentrant), no stdio;
needs libm (``sqrtf``, ``log10f``).
"""

from __future__ import annotations

from crisp_eml.compiler.dsp_c.emit import c_identifier
from crisp_eml.compiler.dsp_c.render import SUPPORTED, render_dsp_c

__all__ = ["SUPPORTED", "c_identifier", "render_dsp_c"]
