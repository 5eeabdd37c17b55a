"""Small real libraries for the runtime tests: the MLPerf Tiny keyword model taking features, and the same
network behind an MFCC step in C (1 s of 16 kHz audio -> 49 frames x 10 cepstra = the model's 490 inputs)."""

from __future__ import annotations

from pathlib import Path

from conftest import MLPERF_TINY

KWS = MLPERF_TINY / "kws_ref_model.tflite"
KWS_LABELS = ("down", "go", "left", "no", "off", "on", "right", "stop", "up", "yes", "silence", "unknown")
#: 30 ms frames every 20 ms over 1 s at 16 kHz: 49 frames of 10 cepstra
MFCC_SPEC = {"input": {"type": "time-series", "window_size_ms": 1000, "frequency_hz": 16000, "axes": ["audio"]},
             "blocks": [{"type": "mfcc", "params": {"frame_length": 0.03, "frame_stride": 0.02, "num_cepstral": 10,
                                                    "num_filters": 40, "fft_length": 512, "win_size": 0}}]}


def features_library(out: Path) -> Path:
    """The KWS model as a features-in library (no DSP step), with its labels."""
    from crisp_eml.workspace.compile import compile_model

    compile_model(str(KWS), out, vectors=0, labels=list(KWS_LABELS), use_project=False)
    return out


def mfcc_library(out: Path) -> Path:
    """The KWS network with an MFCC step computed in C: takes 16000 raw samples."""
    from crisp_eml.compiler.build import write_tree
    from crisp_eml.compiler.c.float_io import strip_float_io
    from crisp_eml.compiler.planner import plan_memory
    from crisp_eml.compiler.reader import read_tflite
    from crisp_eml.compiler.render import RenderOptions, render_library

    g = strip_float_io(read_tflite(KWS.read_bytes()))
    files = render_library(g, plan_memory(g), RenderOptions(name="kws_mfcc", labels=list(KWS_LABELS),
                                                            dsp=MFCC_SPEC))
    write_tree(files, out)
    return out
