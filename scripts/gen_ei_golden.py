"""Generate golden feature vectors from Edge Impulse's own processing blocks (issue 16).

Why: our spectral / audio / raw / flatten blocks claim parity with Edge Impulse's Python blocks. The tests
compare against vectors that EI's code produced, stored as data in ``tests/data/ei_golden/``; tests never
import or fetch EI code. This script is run by hand, once, whenever the grid changes.

How to run (outside our .venv; EI's code needs numpy, scipy, PyWavelets, matplotlib, peakutils)::

    mkdir -p /tmp/pb && git --git-dir=<processing-blocks mirror or clone>/.git archive HEAD | tar -x -C /tmp/pb
    python3 -m venv /tmp/eivenv && /tmp/eivenv/bin/pip install numpy scipy PyWavelets matplotlib peakutils
    /tmp/eivenv/bin/python scripts/gen_ei_golden.py --pb /tmp/pb --commit "$(git --git-dir=... rev-parse HEAD)"

``--out`` defaults to ``tests/data/ei_golden``; ``--commit`` is recorded in the files (when omitted the script
asks ``git -C <pb> rev-parse HEAD``, which works for a clone, not an archive).

Each block is run in its own subprocess (this script with ``--worker``) whose ``sys.path`` starts with that
block's folder, because every folder carries its own copies of ``common/`` and ``third_party/``.

Output, one gzip JSON per block (our block type names): ``spectral-analysis``, ``spectrogram``, ``mfe``,
``mfcc``, ``raw``, ``flatten``::

    {"generator": {"processing_blocks_commit", "python", "numpy", "scipy", "pywt", "shims", "feature_digits"},
     "inputs": {id: {"sampling_freq", "axes", "data": [interleaved t0a0, t0a1, ...]}},
     "cases": [{"id", "block", "version", "input", "params", "features" | null, "error" | null,
                "output_config" | null}]}

``params`` holds every argument the block's ``generate_features`` received besides the window, under the
names of the block's ``parameters.json`` (dashed for spectral_analysis / raw / flatten, underscored for
spectrogram / mfe / mfcc, exactly as EI spells them); the call itself uses the underscored python names.

Inputs are seeded synthetic signals. Motion values are multiples of 1/1024 and audio values are integers,
so the float32 windows our blocks take hold exactly the float64 values EI was fed. Features are stored
rounded to 10 significant digits (relative change <= 5e-11, far below any test tolerance) to keep the files
small. ``shims`` (recorded in every file): numpy 1.26 needs none; one import shim (``SHIMS``).
"""

from __future__ import annotations

import argparse
import gzip
import json
import math
import os
import platform
import subprocess
import sys
from pathlib import Path
from typing import Any

FOLDERS = {"spectral-analysis": "spectral_analysis", "spectrogram": "spectrogram", "mfe": "mfe",
           "mfcc": "mfcc", "raw": "raw", "flatten": "flatten"}
# Runtime shims applied in the worker before importing a block (each one documented):
SHIMS: list[str] = [
    "import importlib.util before dsp.py: mfe/mfcc/spectrogram call importlib.util.spec_from_file_location after a"
    " bare 'import importlib', which works only once something else imported importlib.util (nothing has in our"
    " fresh worker process); no effect on any computation",
    "scipy.stats.skew / kurtosis given scipy 1.7.3's (EI's requirements.txt pin) result for (near-)constant data:"
    " scipy >= 1.9 returns NaN where 1.7.3 returned skew 0 and kurtosis 0 (Fisher: -3); the wrapper calls the"
    " installed function and replaces only those NaNs (finite input), before the block's dsp.py is imported",
]
DIGITS = 10


# ----------------------------------------------------------------------------------------------- inputs

def _inputs() -> dict[str, dict[str, Any]]:
    import numpy as np

    rng = np.random.default_rng(16)

    def motion(fs: float, n: int, n_axes: int) -> list[float]:
        t = np.arange(n) / fs
        cols = []
        for a in range(n_axes):
            f1, f2, f3 = [1.3, 2.1, 0.7][a], [7.9, 11.3, 4.4][a], [17.0, 23.5, 13.2][a]
            x = (6.0 * np.sin(2 * np.pi * f1 * t + 0.3 * a) + 2.5 * np.sin(2 * np.pi * f2 * t + 1.1)
                 + 0.8 * np.sin(2 * np.pi * f3 * t) + [0.4, -1.2, 9.81][a] + rng.normal(0, 0.6, n))
            cols.append(np.round(x * 1024) / 1024)
        return np.stack(cols, axis=1).reshape(-1).tolist()

    def audio(fs: float, n: int, amp: float) -> list[float]:
        t = np.arange(n) / fs
        chirp = np.sin(2 * np.pi * (100 * t + 0.5 * (0.45 * fs - 100) / t[-1] * t * t))
        tones = 0.5 * np.sin(2 * np.pi * 440 * t) + 0.3 * np.sin(2 * np.pi * 1250 * t)
        env = 0.5 + 0.5 * np.sin(2 * np.pi * 3 * t)
        x = amp * (0.4 * chirp * env + 0.3 * tones + 0.05 * rng.normal(0, 1, n))
        return np.clip(np.round(x), -32768, 32767).tolist()

    acc = ["accX", "accY", "accZ"]
    quiet = np.round(rng.normal(0, 1.0, 4000)).astype(float)
    quiet[:1000] = 0.0  # a run of exact zeros: frames of zero energy
    pm1 = np.clip(np.round(rng.normal(0, 0.7, 4000)), -1, 1)  # within [-1, 1]: spectrogram v3 keeps the scale
    d = {
        "motion-62hz-3ax": {"sampling_freq": 62.5, "axes": acc, "data": motion(62.5, 125, 3)},
        "motion-100hz-3ax": {"sampling_freq": 100.0, "axes": acc, "data": motion(100.0, 200, 3)},
        "motion-62hz-1ax": {"sampling_freq": 62.5, "axes": ["accX"], "data": motion(62.5, 125, 1)},
        "motion-100hz-1ax": {"sampling_freq": 100.0, "axes": ["accX"], "data": motion(100.0, 200, 1)},
        "motion-62hz-3ax-short": {"sampling_freq": 62.5, "axes": acc, "data": motion(62.5, 20, 3)},
        "motion-100hz-3ax-10s": {"sampling_freq": 100.0, "axes": acc, "data": motion(100.0, 1000, 3)},
        "audio-16k": {"sampling_freq": 16000.0, "axes": ["audio"], "data": audio(16000.0, 16000, 12000.0)},
        "audio-8k": {"sampling_freq": 8000.0, "axes": ["audio"], "data": audio(8000.0, 4000, 9000.0)},
        "audio-8k-quiet": {"sampling_freq": 8000.0, "axes": ["audio"], "data": quiet.tolist()},
        "audio-8k-pm1": {"sampling_freq": 8000.0, "axes": ["audio"], "data": pm1.tolist()},
        "audio-8k-silent": {"sampling_freq": 8000.0, "axes": ["audio"], "data": [0.0] * 4000},
    }
    flat_z = np.array(d["motion-62hz-3ax"]["data"]).reshape(-1, 3)
    flat_z[:, 2] = 9.8095703125  # a constant axis (a device lying still): skew / kurtosis of constant data
    d["motion-62hz-3ax-const-z"] = {"sampling_freq": 62.5, "axes": acc, "data": flat_z.reshape(-1).tolist()}
    g_z = np.array(d["motion-62hz-3ax"]["data"]).reshape(-1, 3)
    g_z[:, 2] = float(np.float32(9.81))  # a constant whose float32 mean is not exact: rounding noise, not 0
    d["motion-62hz-3ax-const-981"] = {"sampling_freq": 62.5, "axes": acc, "data": g_z.reshape(-1).tolist()}
    # 20 s at 1 kHz, one axis: input decimation by 100 and 1000 (version 4)
    d["motion-1000hz-1ax-20s"] = {"sampling_freq": 1000.0, "axes": ["accX"], "data": motion(1000.0, 20000, 1)}
    # plateaus and steps: version 1's peak finder on flat tops
    step = np.repeat(np.array([0.0, 2.0, 2.0, 5.0, 1.0, 1.0, 4.0, 4.0, 0.5, 3.0]), 13)[:125]
    d["motion-62hz-1ax-steps"] = {"sampling_freq": 62.5, "axes": ["accX"], "data": step.tolist()}
    return d


MOTION = ["motion-62hz-3ax", "motion-100hz-3ax", "motion-62hz-1ax", "motion-62hz-3ax-short"]


# ------------------------------------------------------------------------------------------------ grids

SPECTRAL_DEFAULTS: dict[str, Any] = {
    "scale-axes": 1.0, "input-decimation-ratio": 1, "filter-type": "none", "filter-cutoff": 3.0,
    "filter-order": 6, "analysis-type": "FFT", "fft-length": 16, "spectral-peaks-count": 3,
    "spectral-peaks-threshold": 0.1, "spectral-power-edges": "0.1, 0.5, 1.0, 2.0, 5.0", "do-log": True,
    "do-fft-overlap": True, "wavelet-level": 1, "wavelet": "db4", "extra-low-freq": False}


def _spectral(v: int) -> list[tuple[str, str, dict[str, Any]]]:
    c: list[tuple[str, str, dict[str, Any]]] = []
    for inp in MOTION:
        c.append(("default", inp, {}))
        c.append(("low3-o6-fft16", inp, {"filter-type": "low", "filter-cutoff": 3.0, "filter-order": 6}))
        c.append(("high5-o4-fft64", inp, {"filter-type": "high", "filter-cutoff": 5.0, "filter-order": 4,
                                          "fft-length": 64}))
    c += [
        ("low8-o2-fft64", "motion-62hz-3ax", {"filter-type": "low", "filter-cutoff": 8.0, "filter-order": 2,
                                              "fft-length": 64}),
        ("low12.5-o8-fft128", "motion-100hz-3ax", {"filter-type": "low", "filter-cutoff": 12.5,
                                                   "filter-order": 8, "fft-length": 128}),
        ("high1.5-o8-fft128", "motion-62hz-3ax", {"filter-type": "high", "filter-cutoff": 1.5,
                                                  "filter-order": 8, "fft-length": 128}),
        ("high7.8125-o2-fft16", "motion-62hz-3ax", {"filter-type": "high", "filter-cutoff": 7.8125,
                                                    "filter-order": 2}),
        ("low10-o0-fft64", "motion-62hz-3ax", {"filter-type": "low", "filter-cutoff": 10.0, "filter-order": 0,
                                               "fft-length": 64}),
        ("high20-o0-fft32", "motion-100hz-3ax", {"filter-type": "high", "filter-cutoff": 20.0,
                                                 "filter-order": 0, "fft-length": 32}),
        ("low40-o0-cut-above-nyquist", "motion-62hz-3ax", {"filter-type": "low", "filter-cutoff": 40.0,
                                                           "filter-order": 0, "fft-length": 32}),
        ("nolog", "motion-62hz-3ax", {"do-log": False, "fft-length": 64}),
        ("nooverlap", "motion-62hz-3ax", {"do-fft-overlap": False, "fft-length": 32}),
        ("nolog-nooverlap-low5", "motion-100hz-3ax", {"do-log": False, "do-fft-overlap": False,
                                                      "filter-type": "low", "filter-cutoff": 5.0}),
        ("scale0.25", "motion-62hz-3ax", {"scale-axes": 0.25, "fft-length": 32}),
        ("scale3", "motion-100hz-3ax", {"scale-axes": 3.0, "filter-type": "high", "filter-cutoff": 2.0}),
        ("short-fft64-nooverlap", "motion-62hz-3ax-short", {"fft-length": 64, "do-fft-overlap": False}),
        ("short-fft128", "motion-62hz-3ax-short", {"fft-length": 128}),
        ("const-z-default", "motion-62hz-3ax-const-z", {}),
        ("const-z-low3-o4-nolog-fft32", "motion-62hz-3ax-const-z", {"filter-type": "low", "filter-order": 4,
                                                                    "do-log": False, "fft-length": 32}),
        ("err-fft20", "motion-62hz-3ax", {"fft-length": 20}),
        ("err-order3", "motion-62hz-3ax", {"filter-type": "low", "filter-order": 3}),
        ("err-cutoff-above-nyquist", "motion-62hz-3ax", {"filter-type": "low", "filter-cutoff": 40.0}),
        ("high31.25-o0-nyquist-bin-only", "motion-62hz-3ax", {"filter-type": "high", "filter-cutoff": 31.25,
                                                              "filter-order": 0, "fft-length": 16}),
        ("err-low0.1-o0-masks-all", "motion-62hz-3ax", {"filter-type": "low", "filter-cutoff": 0.1,
                                                        "filter-order": 0}),
    ]
    if v == 1:
        c += [
            ("peaks1-thr0", "motion-62hz-3ax", {"spectral-peaks-count": 1, "spectral-peaks-threshold": 0.0}),
            ("peaks5-thr0.5", "motion-100hz-3ax", {"spectral-peaks-count": 5, "spectral-peaks-threshold": 0.5,
                                                   "fft-length": 64}),
            ("peaks4-thr0.05-low6", "motion-62hz-3ax", {"spectral-peaks-count": 4,
                                                        "spectral-peaks-threshold": 0.05,
                                                        "filter-type": "low", "filter-cutoff": 6.0}),
            ("edges-3", "motion-62hz-3ax", {"spectral-power-edges": "0.5, 1.5, 3.0"}),
            ("edges-wide", "motion-100hz-3ax", {"spectral-power-edges": "0.1, 1.0, 5.0, 10.0, 20.0, 40.0",
                                                "fft-length": 128}),
            ("peaks3-short", "motion-62hz-3ax-short", {"fft-length": 64}),
        ]
    if v >= 3:
        for w, lvl, inp in [("db4", 1, "motion-62hz-3ax"), ("db4", 2, "motion-100hz-3ax"),
                            ("haar", 1, "motion-62hz-3ax"), ("haar", 3, "motion-100hz-3ax-10s"),
                            ("sym5", 2, "motion-100hz-3ax"), ("coif2", 1, "motion-62hz-3ax"),
                            ("coif2", 3, "motion-100hz-3ax-10s"),
                            ("bior3.5", 1, "motion-62hz-3ax"), ("bior3.5", 2, "motion-62hz-3ax"),
                            ("rbio2.2", 1, "motion-62hz-1ax"), ("db10", 3, "motion-100hz-3ax-10s"),
                            ("db10", 3, "motion-100hz-3ax"), ("sym5", 1, "motion-62hz-3ax-short"),
                            ("db4", 2, "motion-62hz-3ax-short")]:
            c.append((f"wavelet-{w}-l{lvl}", inp, {"analysis-type": "Wavelet", "wavelet": w,
                                                   "wavelet-level": lvl}))
        c.append(("wavelet-db4-l2-low5", "motion-100hz-3ax", {"analysis-type": "Wavelet", "wavelet": "db4",
                                                              "wavelet-level": 2, "filter-type": "low",
                                                              "filter-cutoff": 5.0}))
        c.append(("wavelet-haar-l1-high2-scale2", "motion-62hz-3ax", {
            "analysis-type": "Wavelet", "wavelet": "haar", "filter-type": "high", "filter-cutoff": 2.0,
            "filter-order": 4, "scale-axes": 2.0}))
        c.append(("wavelet-db4-l1-const-z", "motion-62hz-3ax-const-z", {"analysis-type": "Wavelet"}))
        c.append(("wavelet-db4-l3-high-level", "motion-62hz-3ax-short", {"analysis-type": "Wavelet",
                                                                         "wavelet": "db4", "wavelet-level": 3}))
    c += [
        ("err-cutoff0", "motion-62hz-3ax", {"filter-type": "low", "filter-cutoff": 0.0}),
        ("steps-fft32", "motion-62hz-1ax-steps", {"fft-length": 32}),
        ("const-981-default", "motion-62hz-3ax-const-981", {}),
    ]
    if v == 1:
        c += [("steps-peaks5-thr0", "motion-62hz-1ax-steps", {"spectral-peaks-count": 5,
                                                               "spectral-peaks-threshold": 0.0, "fft-length": 64})]
    if v >= 3:
        c.append(("wavelet-db4-l1-const-981", "motion-62hz-3ax-const-981", {"analysis-type": "Wavelet"}))
    if v >= 3:
        c.append(("ratio3", "motion-100hz-3ax-10s", {"input-decimation-ratio": 3}))
    if v == 4:
        c += [
            ("elf-low3-fft16", "motion-100hz-3ax-10s", {"extra-low-freq": True, "filter-type": "low",
                                                         "filter-cutoff": 3.0}),
            ("elf-none-fft32", "motion-100hz-3ax-10s", {"extra-low-freq": True, "fft-length": 32}),
            ("elf-high1-o4-nolog", "motion-100hz-3ax-10s", {"extra-low-freq": True, "filter-type": "high",
                                                             "filter-cutoff": 1.0, "filter-order": 4,
                                                             "do-log": False}),
            ("elf-err-too-short", "motion-62hz-3ax", {"extra-low-freq": True, "fft-length": 64}),
            ("ratio10-fft16", "motion-100hz-3ax-10s", {"input-decimation-ratio": 10}),
            ("ratio3-low5-fft32", "motion-100hz-3ax-10s", {"input-decimation-ratio": 3, "filter-type": "low",
                                                            "filter-cutoff": 5.0, "fft-length": 32}),
            ("ratio30-high0.5", "motion-100hz-3ax-10s", {"input-decimation-ratio": 30, "filter-type": "high",
                                                          "filter-cutoff": 0.5, "filter-order": 2,
                                                          "fft-length": 16}),
            ("ratio10-err-cutoff", "motion-100hz-3ax-10s", {"input-decimation-ratio": 10, "filter-type": "low",
                                                             "filter-cutoff": 5.0}),
            ("ratio3-wavelet-db4-l2", "motion-100hz-3ax-10s", {"input-decimation-ratio": 3,
                                                               "analysis-type": "Wavelet", "wavelet-level": 2}),
            ("ratio100-fft16", "motion-1000hz-1ax-20s", {"input-decimation-ratio": 100}),
            ("ratio1000-fft16", "motion-1000hz-1ax-20s", {"input-decimation-ratio": 1000, "fft-length": 16}),
            ("ratio100-low2-fft64", "motion-1000hz-1ax-20s", {"input-decimation-ratio": 100, "filter-type": "low",
                                                               "filter-cutoff": 2.0, "fft-length": 64}),
        ]
    return c


SPECTROGRAM_DEFAULTS: dict[str, Any] = {"frame_length": 0.02, "frame_stride": 0.01, "fft_length": 128,
                                        "show_axes": True, "noise_floor_db": -52}


def _spectrogram(v: int) -> list[tuple[str, str, dict[str, Any]]]:
    return [
        ("default", "audio-8k", {}),
        ("f0.032-s0.05-fft256", "audio-16k", {"frame_length": 0.032, "frame_stride": 0.05, "fft_length": 256}),
        ("f0.02-s0.1-fft512", "audio-16k", {"frame_length": 0.02, "frame_stride": 0.1, "fft_length": 512}),
        ("f0.032-s0.04-fft256", "audio-8k", {"frame_length": 0.032, "frame_stride": 0.04, "fft_length": 256}),
        ("f0.0125-s0.03125-fft128", "audio-8k", {"frame_length": 0.0125, "frame_stride": 0.03125}),
        ("f0.0199-s0.0333-fft128", "audio-8k", {"frame_length": 0.0199, "frame_stride": 0.0333}),
        ("frame-longer-than-fft", "audio-8k", {"frame_length": 0.05, "frame_stride": 0.05, "fft_length": 128}),
        ("nf-30", "audio-8k", {"noise_floor_db": -30, "frame_stride": 0.04}),
        ("nf-90", "audio-8k", {"noise_floor_db": -90, "frame_stride": 0.04}),
        ("nf0", "audio-8k", {"noise_floor_db": 0, "frame_stride": 0.04}),
        ("quiet", "audio-8k-quiet", {"frame_stride": 0.03}),
        ("quiet-nf-100", "audio-8k-quiet", {"frame_stride": 0.03, "noise_floor_db": -100}),
        ("values-within-pm1", "audio-8k-pm1", {"frame_stride": 0.04}),
        ("silent", "audio-8k-silent", {"frame_stride": 0.05}),
        ("show-axes-false", "audio-8k", {"show_axes": False, "frame_stride": 0.05}),
        ("motion-62hz-f0.5-s0.25-fft32", "motion-62hz-1ax", {"frame_length": 0.5, "frame_stride": 0.25,
                                                             "fft_length": 32}),
        ("motion-100hz-f0.32-s0.16-fft64", "motion-100hz-1ax", {"frame_length": 0.32, "frame_stride": 0.16,
                                                                "fft_length": 64}),
        ("motion-62hz-f0.25-s0.1-fft16", "motion-62hz-1ax", {"frame_length": 0.25, "frame_stride": 0.1,
                                                             "fft_length": 16, "noise_floor_db": -20}),
        ("err-3ax", "motion-100hz-3ax", {"frame_length": 0.32, "frame_stride": 0.16, "fft_length": 64}),
        ("err-fft100", "audio-8k", {"fft_length": 100}),
        ("err-frame-3-samples", "audio-8k", {"frame_length": 0.0003}),
    ]


MFE_DEFAULTS: dict[str, Any] = {"frame_length": 0.02, "frame_stride": 0.01, "num_filters": 40, "fft_length": 256,
                                "low_frequency": 0, "high_frequency": 0, "win_size": 101, "noise_floor_db": -52}


def _mfe(v: int) -> list[tuple[str, str, dict[str, Any]]]:
    return [
        ("nf40-fft256-audio8k", "audio-8k", {}),
        ("nf40-fft256-s0.05-audio16k", "audio-16k", {"frame_stride": 0.05}),
        ("nf40-fft512-f0.025-s0.02-audio16k", "audio-16k", {"fft_length": 512, "frame_length": 0.025,
                                                             "frame_stride": 0.02}),
        ("nf32-fft512-s0.05-audio16k", "audio-16k", {"num_filters": 32, "fft_length": 512,
                                                     "frame_stride": 0.05}),
        ("nf20-fft256-s0.02", "audio-8k", {"num_filters": 20, "frame_stride": 0.02}),
        ("nf32-fft512-f0.032-s0.016", "audio-8k", {"num_filters": 32, "fft_length": 512,
                                                   "frame_length": 0.032, "frame_stride": 0.016}),
        ("f0.0199-s0.0333", "audio-8k", {"frame_length": 0.0199, "frame_stride": 0.0333}),
        ("low300-high3500", "audio-8k", {"low_frequency": 300, "high_frequency": 3500, "frame_stride": 0.02}),
        ("low80-high7600-audio16k", "audio-16k", {"low_frequency": 80, "high_frequency": 7600,
                                                  "frame_stride": 0.04, "fft_length": 512, "num_filters": 32}),
        ("high4000", "audio-8k", {"high_frequency": 4000, "frame_stride": 0.02, "num_filters": 20}),
        ("noise-floor-30", "audio-8k", {"noise_floor_db": -30, "frame_stride": 0.025}),
        ("noise-floor-90", "audio-8k", {"noise_floor_db": -90, "frame_stride": 0.025}),
        ("win0", "audio-8k", {"win_size": 0, "frame_stride": 0.02}),
        ("win11", "audio-8k", {"win_size": 11, "frame_stride": 0.02}),
        ("quiet", "audio-8k-quiet", {"frame_stride": 0.025}),
        ("quiet-nf-100", "audio-8k-quiet", {"frame_stride": 0.025, "noise_floor_db": -100}),
        ("silent", "audio-8k-silent", {"frame_stride": 0.05}),
        ("motion-100hz-f0.32-s0.16-nf8-fft32", "motion-100hz-1ax", {"frame_length": 0.32, "frame_stride": 0.16,
                                                                    "fft_length": 32, "num_filters": 8}),
        ("err-zero-filter-nf40-fft64", "audio-8k", {"fft_length": 64, "frame_length": 0.008,
                                                    "frame_stride": 0.02}),
        ("err-zero-filter-nf128-fft256", "audio-8k", {"num_filters": 128}),
        ("err-3ax", "motion-100hz-3ax", {"frame_length": 0.32, "frame_stride": 0.16, "fft_length": 32,
                                         "num_filters": 8}),
        ("err-nf1", "audio-8k", {"num_filters": 1}),
        ("err-fft200", "audio-8k", {"fft_length": 200}),
    ]


MFCC_DEFAULTS: dict[str, Any] = {"num_cepstral": 13, "frame_length": 0.02, "frame_stride": 0.02, "num_filters": 32,
                                 "fft_length": 256, "win_size": 101, "low_frequency": 0, "high_frequency": 0,
                                 "pre_cof": 0.98, "pre_shift": 1}


def _mfcc(v: int) -> list[tuple[str, str, dict[str, Any]]]:
    return [
        ("default-audio8k", "audio-8k", {}),
        ("default-audio16k", "audio-16k", {}),
        ("nc20-nf40-fft512-audio16k", "audio-16k", {"num_cepstral": 20, "num_filters": 40, "fft_length": 512,
                                                    "frame_length": 0.025, "frame_stride": 0.025}),
        ("nc8-nf20", "audio-8k", {"num_cepstral": 8, "num_filters": 20}),
        ("nf40-fft512-f0.032-s0.016", "audio-8k", {"num_filters": 40, "fft_length": 512, "frame_length": 0.032,
                                                   "frame_stride": 0.016}),
        ("f0.0199-s0.0333", "audio-8k", {"frame_length": 0.0199, "frame_stride": 0.0333}),
        ("win0", "audio-8k", {"win_size": 0}),
        ("win5", "audio-8k", {"win_size": 5}),
        ("win11-s0.01", "audio-8k", {"win_size": 11, "frame_stride": 0.01}),
        ("win101-s0.01", "audio-8k", {"frame_stride": 0.01}),
        ("precof0.9", "audio-8k", {"pre_cof": 0.9}),
        ("precof0", "audio-8k", {"pre_cof": 0.0}),
        ("preshift2", "audio-8k", {"pre_shift": 2}),
        ("preshift2-precof0.97-win0", "audio-8k", {"pre_shift": 2, "pre_cof": 0.97, "win_size": 0}),
        ("low300-high3400", "audio-8k", {"low_frequency": 300, "high_frequency": 3400}),
        ("high4000-nf20", "audio-8k", {"high_frequency": 4000, "num_filters": 20}),
        ("quiet", "audio-8k-quiet", {}),
        ("silent-win0", "audio-8k-silent", {"win_size": 0, "frame_stride": 0.05}),
        ("silent", "audio-8k-silent", {"frame_stride": 0.05}),
        ("motion-100hz-f0.32-s0.16-nf8-nc6-fft32", "motion-100hz-1ax", {
            "frame_length": 0.32, "frame_stride": 0.16, "fft_length": 32, "num_filters": 8, "num_cepstral": 6,
            "win_size": 0}),
        ("err-zero-filter-nf40-fft64", "audio-8k", {"fft_length": 64, "frame_length": 0.008, "num_filters": 40}),
        ("err-zero-filter-nf128", "audio-8k", {"num_filters": 128}),
        ("err-3ax", "motion-100hz-3ax", {"frame_length": 0.32, "frame_stride": 0.16, "fft_length": 32,
                                         "num_filters": 8, "num_cepstral": 6}),
        ("err-fft200", "audio-8k", {"fft_length": 200}),
    ]


def _raw(v: int) -> list[tuple[str, str, dict[str, Any]]]:
    c: list[tuple[str, str, dict[str, Any]]] = []
    for inp in MOTION + ["motion-100hz-1ax", "motion-62hz-3ax-const-z"]:
        c.append(("scale1", inp, {}))
    c += [("scale0.5", "motion-62hz-3ax", {"scale-axes": 0.5}), ("scale3", "motion-100hz-3ax", {"scale-axes": 3.0}),
          ("scale-1", "motion-62hz-3ax-short", {"scale-axes": -1.0}),
          ("scale0.001-audio", "audio-8k", {"scale-axes": 0.001}), ("scale1-audio", "audio-8k", {})]
    return c


FLATTEN_STATS = ["average", "minimum", "maximum", "rms", "stdev", "skewness", "kurtosis"]


def _flatten(v: int) -> list[tuple[str, str, dict[str, Any]]]:
    c: list[tuple[str, str, dict[str, Any]]] = []
    for inp in MOTION + ["motion-100hz-3ax-10s", "audio-8k", "motion-62hz-3ax-const-z"]:
        c.append(("all", inp, {}))
    for s in FLATTEN_STATS:
        c.append((f"no-{s}", "motion-62hz-3ax", {s: False}))
        c.append((f"only-{s}", "motion-100hz-3ax", {k: k == s for k in FLATTEN_STATS}))
    c += [("scale2.5", "motion-62hz-3ax", {"scale-axes": 2.5}), ("scale-0.1", "motion-100hz-3ax", {"scale-axes": -0.1}),
          ("scale0.5-rms-stdev", "motion-62hz-3ax-short", {"scale-axes": 0.5, "average": False, "minimum": False,
                                                           "maximum": False, "skewness": False, "kurtosis": False}),
          ("none-enabled", "motion-62hz-3ax", {k: False for k in FLATTEN_STATS})]
    return c


GRIDS = {
    "spectral-analysis": ([1, 2, 3, 4], SPECTRAL_DEFAULTS, _spectral),
    "spectrogram": ([1, 2, 3, 4], SPECTROGRAM_DEFAULTS, _spectrogram),
    "mfe": ([1, 2, 3, 4], MFE_DEFAULTS, _mfe),
    "mfcc": ([1, 2, 3, 4], MFCC_DEFAULTS, _mfcc),
    "raw": ([1], {"scale-axes": 1.0}, _raw),
    "flatten": ([1], {"scale-axes": 1.0, **{k: True for k in FLATTEN_STATS}}, _flatten),
}


def _cases(block: str) -> list[dict[str, Any]]:
    versions, defaults, grid = GRIDS[block]
    out: list[dict[str, Any]] = []
    for v in versions:
        for name, inp, over in grid(v):
            params = {**defaults, **over}
            out.append({"id": f"{block}-v{v}-{name}-{inp}", "block": block, "version": v, "input": inp,
                        "params": params})
    ids = [c["id"] for c in out]
    assert len(ids) == len(set(ids)), [i for i in ids if ids.count(i) > 1]
    return out


# ----------------------------------------------------------------------------------------------- worker

def _round(v: float) -> float:
    return float(f"{v:.{DIGITS}g}")


def _scipy_173_constant_moments() -> None:
    """Shim 2: skew / kurtosis of (near-)constant data as scipy 1.7.3 gave them (0, and 0 - 3 with fisher)."""
    import numpy as np
    import scipy.stats as st

    new_skew, new_kurtosis = st.skew, st.kurtosis

    def fill(a: Any, r: Any, value: float) -> Any:
        if np.any(np.isnan(np.asarray(a, dtype=np.float64))):
            return r  # NaN input: NaN out in both versions
        if np.ndim(r) == 0:
            return value if np.isnan(r) else r
        return np.where(np.isnan(r), value, r)

    def skew(a: Any, axis: Any = 0, bias: bool = True, nan_policy: str = "propagate", **kw: Any) -> Any:
        return fill(a, new_skew(a, axis, bias, nan_policy, **kw), 0.0)

    def kurtosis(a: Any, axis: Any = 0, fisher: bool = True, bias: bool = True, nan_policy: str = "propagate",
                 **kw: Any) -> Any:
        return fill(a, new_kurtosis(a, axis, fisher, bias, nan_policy, **kw), -3.0 if fisher else 0.0)

    st.skew, st.kurtosis = skew, kurtosis


def _worker(folder: str) -> None:
    """Run inside the block's folder: read {"inputs", "cases"} on stdin, write results on stdout."""
    import warnings

    import numpy as np

    warnings.simplefilter("ignore")
    sys.path.insert(0, folder)
    os.chdir(folder)
    import importlib.util  # noqa: F401  # shim 1 (SHIMS)

    _scipy_173_constant_moments()  # shim 2 (SHIMS)

    import dsp  # type: ignore[import-not-found]  # the block's own dsp.py

    job = json.load(sys.stdin)
    results = []
    for case in job["cases"]:
        inp = job["inputs"][case["input"]]
        args = {k.replace("-", "_"): v for k, v in case["params"].items()}
        try:
            r = dsp.generate_features(implementation_version=case["version"], draw_graphs=False,
                                      raw_data=np.array(inp["data"], dtype=np.float64),
                                      axes=np.array(inp["axes"]), sampling_freq=inp["sampling_freq"], **args)
            feats = np.asarray(r["features"], dtype=np.float64).reshape(-1)
            if not np.all(np.isfinite(feats)):
                raise FloatingPointError(f"non-finite features ({int(np.sum(~np.isfinite(feats)))} of "
                                         f"{feats.size}): not stored")
            oc = r.get("output_config")
            results.append({"features": [_round(float(x)) for x in feats], "error": None,
                            "output_config": json.loads(json.dumps(oc, default=float)) if oc else None})
        except Exception as e:  # EI raises plain Exception, ConfigurationError, ValueError...
            results.append({"features": None, "error": f"{type(e).__name__}: {e}", "output_config": None})
    json.dump(results, sys.stdout)


# ------------------------------------------------------------------------------------------------- main

def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--pb", type=Path, help="processing-blocks checkout (folder holding mfe/, raw/, ...)")
    ap.add_argument("--out", type=Path, default=Path(__file__).resolve().parents[1] / "tests/data/ei_golden")
    ap.add_argument("--commit", default=None, help="processing-blocks commit id to record")
    ap.add_argument("--block", action="append", choices=sorted(FOLDERS), help="only these blocks")
    ap.add_argument("--worker", default=None, help=argparse.SUPPRESS)
    a = ap.parse_args()
    if a.worker:
        _worker(a.worker)
        return
    if a.pb is None:
        ap.error("--pb is required")
    import numpy as np
    import pywt  # type: ignore[import-untyped]
    import scipy

    commit = a.commit or subprocess.run(["git", "-C", str(a.pb), "rev-parse", "HEAD"], capture_output=True,
                                        text=True, check=True).stdout.strip()
    gen = {"processing_blocks_commit": commit, "python": platform.python_version(), "numpy": np.__version__,
           "scipy": scipy.__version__, "pywt": pywt.__version__, "shims": SHIMS, "feature_digits": DIGITS}
    all_inputs = _inputs()
    a.out.mkdir(parents=True, exist_ok=True)
    for block in a.block or list(FOLDERS):
        cases = _cases(block)
        used = sorted({c["input"] for c in cases})
        inputs = {k: all_inputs[k] for k in used}
        folder = str((a.pb / FOLDERS[block]).resolve())
        p = subprocess.run([sys.executable, str(Path(__file__).resolve()), "--worker", folder],
                           input=json.dumps({"inputs": inputs, "cases": cases}), capture_output=True, text=True,
                           cwd=folder)
        if p.returncode != 0:
            sys.exit(f"{block}: worker failed:\n{p.stderr}")
        for c, r in zip(cases, json.loads(p.stdout), strict=True):
            c.update(r)
        doc = {"generator": gen, "inputs": inputs, "cases": cases}
        path = a.out / f"{block}.json.gz"
        with gzip.GzipFile(path, "wb", mtime=0) as f:  # mtime 0: reruns give identical bytes
            f.write(json.dumps(doc, separators=(",", ":")).encode())
        n_err = sum(c["error"] is not None for c in cases)
        print(f"{path}: {len(cases)} cases ({n_err} errors), {path.stat().st_size / 1024:.0f} KiB")
        assert all(math.isfinite(x) for c in cases for x in (c["features"] or []))


if __name__ == "__main__":
    main()
