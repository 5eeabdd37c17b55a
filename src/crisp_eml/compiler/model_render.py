"""A ``.tflite`` model's bytes -> the files of its C library: the one rule every caller renders with.

``eml compile`` writes the library, the gate and ``eml deploy`` re-derive it to prove a folder is what the
compiler writes, and ``eml calibrate`` runs it over hours of stream. They must render the same thing: the float
input/output stripped into the library's quantize/dequantize, the training-set standardisation read from the
model's own metadata, the memory plan. A difference would ship, gate or calibrate another library than the one
that runs on the device.
"""

from __future__ import annotations

from typing import Any

from crisp_eml.core.errors import InputError
from crisp_eml.core.graph import Graph


def render_model(data: bytes, *, name: str, labels: list[str], model_sha256: str, dsp: dict[str, Any] | None,
                 source: str, graph_name: str | None = None, arena_section: str | None = None,
                 weights_section: str | None = None, optimize: str = "balanced") -> tuple[Graph, dict[str, str]]:
    """(the graph the library runs, the library's files by relative path) for the int8 model ``data``.

    ``name`` must already be a C identifier; ``graph_name`` overrides the model's own name in the sources'
    comments (re-derivation keeps the one a folder was written with); ``arena_section`` / ``weights_section``:
    named linker sections (``eml compile --arena-section`` / ``--weights-section``); ``optimize``: ram | balanced |
    speed (``eml compile --optimize``)."""
    from crisp_eml.compiler.c.float_io import strip_float_io
    from crisp_eml.compiler.planner import plan_memory
    from crisp_eml.compiler.reader import read_tflite
    from crisp_eml.compiler.render import RenderOptions, render_library
    from crisp_eml.learn.model_metadata import model_normalization

    graph = strip_float_io(read_tflite(data, source=source))
    if graph_name:
        graph.name = graph_name
    norm = model_normalization(data)  # trained by crisp-eml: <name>_run standardises the features first
    opts = RenderOptions(name=name, labels=list(labels), model_sha256=model_sha256, dsp=dsp,
                         normalization=norm.to_dict() if norm is not None else None,
                         arena_section=arena_section, weights_section=weights_section, optimize=optimize)
    try:
        return graph, render_library(graph, plan_memory(graph), opts)
    except InputError as exc:  # the renderer knows no file name: every refusal names the model file
        if exc.source:
            raise
        raise InputError(exc.reason, source=source, field=exc.field) from None
