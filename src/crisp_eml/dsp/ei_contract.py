"""Edge Impulse's description of a DSP block (its ``parameters.json`` format), for crisp-eml's built-in blocks.

Edge Impulse talks to a processing block over HTTP (``GET /parameters``, ``POST /run``, ``POST /batch``; served by
:mod:`crisp_eml.server.dsp_block_app`, spoken as a client by :mod:`crisp_eml.dsp.external`). ``GET /parameters``
answers a document in Edge Impulse's ``parameters.json`` format: ``info`` (title, author, the C++ SDK type,
``latestImplementationVersion``...) and ``parameters``, a list of groups of items (``param`` machine name,
``type`` int | float | string | select | boolean, ``value`` default, ``valid`` options, ``showIf``,
``showForImplementationVersion``...).

This module holds, per block, only the metadata Edge Impulse's tools need that our block classes do not carry
(types, select options, groups, which versions show a parameter), written here from the facts of
``/work/notes/ei_blocks_spec.md``. The defaults come from our block class (:func:`parameters_document`), so the
document describes exactly what ``eml dsp serve`` computes. Parameters our class accepts that Edge Impulse does not
have (e.g. ``input_scale`` of the audio blocks) are listed in a last group ``crisp-eml``.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from crisp_eml.core.errors import InputError
from crisp_eml.dsp.base import Block

#: The default port of an Edge Impulse DSP block server.
DEFAULT_PORT = 4446
AUTHOR = "crisp-eml"

_BIOR = ("1.3", "1.5", "2.2", "2.4", "2.6", "2.8", "3.1", "3.3", "3.5", "3.7", "3.9", "4.4", "5.5", "6.8")
#: The wavelet names Edge Impulse's spectral block offers (analysis type "Wavelet").
EI_WAVELETS = (*(f"bior{v}" for v in _BIOR), "coif1", "coif2", "coif3", *(f"db{i}" for i in range(2, 11)), "haar",
               *(f"rbio{v}" for v in _BIOR), *(f"sym{i}" for i in range(2, 11)))


@dataclass(frozen=True)
class Param:
    """One item of a ``parameters.json`` group (everything but the default value, which our class gives)."""

    param: str
    label: str
    type: str  # int | float | string | select | boolean
    help: str
    valid: tuple[str, ...] | None = None
    show_for: tuple[int, ...] | None = None  # showForImplementationVersion ([] = never shown)
    show_if: tuple[str, str, str] | None = None  # (parameter, "eq" | "neq", value)
    optional: bool = False
    config_type: str | None = None  # "int": a select whose value is used as an integer
    create_macro: bool = False


@dataclass(frozen=True)
class BlockMeta:
    title: str
    description: str
    name: str  # the default name of the block in an impulse
    cpp_type: str  # the block's function in Edge Impulse's C++ SDK
    ei_latest: int  # Edge Impulse's latestImplementationVersion
    groups: tuple[tuple[str, tuple[Param, ...]], ...]
    prefer_convolution: bool = False
    convolution_columns: str | None = None
    convolution_kernel_size: int | None = None
    visualization: str | None = "dimensionalityReduction"
    feature_importance: bool = False
    autotune: bool = False
    min_autotune_version: int | None = None
    spectrogram: bool = False  # output_config type "spectrogram" (width = frames, height = bins)
    labels: bool = False  # Edge Impulse's reply carries per-axis feature names


_FFT = ("analysis-type", "eq", "FFT")
_WAVELET = ("analysis-type", "eq", "Wavelet")
_FILTERED = ("filter-type", "neq", "none")
_SCALE = Param("scale-axes", "Scale axes", "float", "Every axis is multiplied by this factor first.")
_FRAME_LEN = Param("frame_length", "Frame length", "float", "Length of one frame, in seconds.")
_FRAME_STRIDE = Param("frame_stride", "Frame stride", "float", "Step between frame starts, in seconds.")
_FFT_LEN = Param("fft_length", "FFT length", "int", "Points of the FFT of each frame (a power of two).")
_NOISE = Param("noise_floor_db", "Noise floor (dB)", "int", "Power below this level (dB) maps to 0.",
               show_for=(3, 4))
_FILTERS = Param("num_filters", "Filter number", "int", "Number of triangular mel filters.")
_LOW = Param("low_frequency", "Low frequency", "int", "Lowest frequency of the mel filterbank (Hz).")
_HIGH = Param("high_frequency", "High frequency", "int",
              "Highest frequency of the mel filterbank (Hz); 0 means half the sampling rate.", optional=True)

BLOCK_META: dict[str, BlockMeta] = {
    "raw": BlockMeta(
        "Raw Data", "The window as it is (optionally scaled): for models that learn their own features.",
        "Raw data", "raw_custom", 1, (("Scaling", (_SCALE,)),), prefer_convolution=True,
        convolution_columns="axes", convolution_kernel_size=7, feature_importance=True),
    "flatten": BlockMeta(
        "Flatten", "Summary statistics of each axis over the window (slow signals such as temperature).",
        "Flatten", "flatten_custom", 1, (
            ("Scaling", (_SCALE,)),
            ("Method", tuple(Param(p, label, "boolean", f"Compute the {label.lower()} of each axis.")
                             for p, label in (("average", "Average"), ("minimum", "Minimum"), ("maximum", "Maximum"),
                                              ("rms", "Root-mean square"), ("stdev", "Standard deviation"),
                                              ("skewness", "Skewness"), ("kurtosis", "Kurtosis"))))),
        visualization=None, feature_importance=True, labels=True),
    "spectral-analysis": BlockMeta(
        "Spectral Analysis", "Time statistics and the power spectrum (or wavelet statistics) of each axis: for "
        "repetitive motion such as accelerometer data.", "Spectral features", "spectral_analysis", 4, (
            ("Filter", (
                _SCALE,
                Param("input-decimation-ratio", "Input decimation ratio", "select",
                      "Decimate the input by this ratio before the analysis.",
                      valid=("1", "3", "10", "30", "100", "1000"), show_for=(4,), config_type="int"),
                Param("filter-type", "Type", "select", "Low-pass, high-pass or no filter.",
                      valid=("low", "high", "none")),
                Param("filter-cutoff", "Cut-off frequency", "float", "Cut-off frequency of the filter (Hz).",
                      show_if=_FILTERED),
                Param("filter-order", "Order", "int", "Order of the Butterworth filter (even, 2 to 8).",
                      show_if=_FILTERED))),
            ("Analysis", (
                Param("analysis-type", "Type", "select", "FFT spectrum or wavelet decomposition.",
                      valid=("FFT", "Wavelet"), show_for=(3, 4), create_macro=True),
                Param("fft-length", "FFT length", "int", "Points of each FFT (a power of two).", show_if=_FFT),
                Param("spectral-peaks-count", "No. of peaks", "int", "How many spectral peaks to report.",
                      show_for=(1,)),
                Param("spectral-peaks-threshold", "Peaks threshold", "float", "Smallest peak height reported.",
                      show_for=(1,)),
                Param("spectral-power-edges", "Power edges", "string",
                      "Comma-separated band edges (Hz) of the spectral power features.", show_for=(1,)),
                Param("do-log", "Take log of spectrum?", "boolean", "Log10 of the power spectrum.",
                      show_for=(2, 3, 4), show_if=_FFT),
                Param("do-fft-overlap", "Overlap FFT frames?", "boolean", "Frames overlap by half an FFT.",
                      show_for=(2, 3, 4), show_if=_FFT),
                Param("wavelet-level", "Wavelet Decomposition Level", "int", "Levels of the wavelet decomposition.",
                      show_for=(3, 4), show_if=_WAVELET),
                Param("wavelet", "Wavelet", "select", "The wavelet of the decomposition.", valid=EI_WAVELETS,
                      show_for=(3, 4), show_if=_WAVELET),
                Param("extra-low-freq", "Improve low frequency resolution?", "boolean",
                      "Add the spectrum of the signal decimated by 10.", show_for=(4,), show_if=_FFT)))),
        feature_importance=True, autotune=True, min_autotune_version=4, labels=True),
    "spectrogram": BlockMeta(
        "Spectrogram", "Power spectrum of successive frames: for non-voice audio or sensor data with continuous "
        "frequencies.", "Spectrogram", "spectrogram_custom", 4, (
            ("Spectrogram", (_FRAME_LEN, _FRAME_STRIDE, _FFT_LEN)),
            ("Normalization", (_NOISE, Param("show_axes", "Show axes", "boolean", "Unused (kept for old projects).",
                                             show_for=())))),
        prefer_convolution=True, convolution_columns="fft_length", convolution_kernel_size=5, autotune=True,
        spectrogram=True),
    "mfe": BlockMeta(
        "Audio (MFE)", "Mel-filterbank energies of successive frames: for non-voice audio.", "MFE", "mfe_custom", 4, (
            ("Mel-filterbank energy features", (_FRAME_LEN, _FRAME_STRIDE, _FILTERS, _FFT_LEN, _LOW, _HIGH)),
            ("Normalization", (Param("win_size", "Window size", "int", "Frames of the sliding mean (odd).",
                                     show_for=(1, 2)), _NOISE))),
        prefer_convolution=True, convolution_columns="num_filters", convolution_kernel_size=5, autotune=True,
        spectrogram=True),
    "mfcc": BlockMeta(
        "Audio (MFCC)", "Mel-frequency cepstral coefficients of successive frames: for human voice.", "MFCC",
        "mfcc_custom", 4, (
            ("Mel Frequency Cepstral Coefficients", (
                Param("num_cepstral", "Number of coefficients", "int", "Cepstral coefficients kept per frame."),
                _FRAME_LEN, _FRAME_STRIDE, _FILTERS, _FFT_LEN,
                Param("win_size", "Normalization window size", "int",
                      "Frames of the sliding normalisation (odd; 0 turns it off)."),
                _LOW, _HIGH)),
            ("Pre-emphasis", (
                Param("pre_cof", "Coefficient", "float", "Pre-emphasis coefficient."),
                Param("pre_shift", "Shift", "int", "Pre-emphasis delay, in samples.", show_for=(1, 2))))),
        prefer_convolution=True, convolution_columns="num_cepstral", convolution_kernel_size=5, autotune=True,
        spectrogram=True),
}

#: The blocks ``eml dsp serve`` offers.
SERVED_BLOCKS = tuple(BLOCK_META)


def block_meta(block_type: str) -> BlockMeta:
    meta = BLOCK_META.get(block_type)
    if meta is None:
        raise InputError(f"no Edge Impulse DSP block for {block_type!r}; one of {list(SERVED_BLOCKS)}", field="block")
    return meta


def ei_param_names(block_type: str) -> set[str]:
    """Every ``param`` of the block's Edge Impulse description (the names Edge Impulse's tools always send)."""
    return {p.param for _, items in block_meta(block_type).groups for p in items}


def _type_of(value: Any) -> str:
    if isinstance(value, bool):
        return "boolean"
    if isinstance(value, int):
        return "int"
    if isinstance(value, float):
        return "float"
    return "string"


def _item(p: Param, value: Any) -> dict[str, Any]:
    if p.type == "select" and not isinstance(value, str):
        value = str(value)  # select values are strings in Edge Impulse's format ("1" for a ratio of 1)
    d: dict[str, Any] = {"name": p.label, "value": value, "type": p.type, "help": p.help, "param": p.param}
    if p.valid is not None:
        d["valid"] = list(p.valid)
    if p.show_if is not None:
        d["showIf"] = {"parameter": p.show_if[0], "operator": p.show_if[1], "value": p.show_if[2]}
    if p.show_for is not None:
        d["showForImplementationVersion"] = list(p.show_for)
    if p.optional:
        d["optional"] = True
    if p.config_type:
        d["configType"] = p.config_type
    if p.create_macro:
        d["createMacro"] = True
    return d


def info_dict(block_type: str, latest: int) -> dict[str, Any]:
    m = block_meta(block_type)
    info: dict[str, Any] = {"title": m.title, "author": AUTHOR, "description": m.description, "name": m.name,
                            "preferConvolution": m.prefer_convolution}
    if m.convolution_columns:
        info["convolutionColumns"] = m.convolution_columns
        info["convolutionKernelSize"] = m.convolution_kernel_size
    info["cppType"] = m.cpp_type
    if m.visualization:
        info["visualization"] = m.visualization
    info["experimental"] = False
    info["latestImplementationVersion"] = latest
    if m.feature_importance:
        info["hasFeatureImportance"] = True
    if m.autotune:
        info["hasAutoTune"] = True
    if m.min_autotune_version is not None:
        info["minimumVersionForAutotune"] = m.min_autotune_version
    return info


def parameters_document(block_type: str, cls: type[Block], latest: int) -> dict[str, Any]:
    """``GET /parameters`` of ``block_type``: Edge Impulse's format, defaults from ``cls`` (what is served).

    An Edge Impulse parameter ``cls`` does not accept is left out; one ``cls`` accepts that Edge Impulse does not
    have is listed in a group ``crisp-eml`` (its type from its default).
    """
    m = block_meta(block_type)
    groups: list[dict[str, Any]] = []
    seen: set[str] = set()
    for title, params in m.groups:
        items = []
        for p in params:
            key = cls.param_key(p.param)
            if key is None:
                continue
            seen.add(key)
            items.append(_item(p, cls.defaults[key]))
        if items:
            groups.append({"group": title, "items": items})
    extra = [{"name": k, "value": v, "type": _type_of(v), "help": "crisp-eml parameter (not in Edge Impulse's block).",
              "param": k} for k, v in cls.defaults.items() if k not in seen]
    if extra:
        groups.append({"group": "crisp-eml", "items": extra})
    return {"version": 1, "type": "dsp", "info": info_dict(block_type, latest), "parameters": groups}
