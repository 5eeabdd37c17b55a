"""Render a graph and its memory plan into a dependency-free C99 library: ``{relative path: text}``.

Pure (no I/O). Layout (also an Arduino library): ``src/<name>.h``, ``src/<name>.c``, ``src/eml_kernels.[ch]``
(only the kernels the model uses), ``src/<name>_dsp.[ch]`` when a DSP renderer exists, ``CMakeLists.txt``,
``Makefile``, ``library.properties`` and ``MANIFEST.json``.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field, replace
from typing import Any, Protocol

import numpy as np

from crisp_eml import __version__
from crisp_eml.compiler import flash
from crisp_eml.compiler.c import POSTPROCESS_FILES, kernel_source, whole_source
from crisp_eml.compiler.c.io_api import IoTensor, float_lit, io_functions, io_macros, io_prototypes, io_tensors
from crisp_eml.compiler.c.lower import Layer, lower_op
from crisp_eml.compiler.optimize import check_optimize
from crisp_eml.core.errors import InputError
from crisp_eml.core.graph import Graph
from crisp_eml.core.library_digest import sources_sha256

GENERATOR = f"crisp-eml {__version__}"
ARENA_ALIGN = 16

# One table -> the status enum and <name>_status_str(): they cannot drift.
STATUS: tuple[tuple[str, str], ...] = (
    ("OK", "ok"),
    ("ERR_NULL", "a pointer argument is NULL"),
    ("ERR_NOT_INITIALIZED", "call <name>_init() first"),
    ("ERR_INPUT_SIZE", "input length does not match the model's input size"),
    ("ERR_DSP", "feature extraction failed"),
)


class PlanLike(Protocol):
    arena_bytes: int
    offsets: dict[int, int]


@dataclass
class RenderOptions:
    name: str = "model"
    labels: list[str] = field(default_factory=list)
    model_sha256: str = ""
    dsp: dict[str, Any] | None = None  # impulse DSP spec (recorded in the manifest; C when a renderer exists)
    # per-channel feature standardisation applied by <name>_run before quantizing (from the model's metadata)
    normalization: dict[str, Any] | None = None
    # named linker sections (external RAM / flash) for the arena + scratch and for the constants (compiler.flash)
    arena_section: str | None = None
    weights_section: str | None = None
    # ram | balanced | speed (compiler.optimize): which kernels and weight layouts the lowering picks
    optimize: str = "balanced"


def c_identifier(name: str) -> str:
    """Sanitize any string into a lower-case C identifier (never a keyword, never starting with a digit)."""
    s = re.sub(r"[^0-9a-zA-Z_]", "_", name.strip()).lower()
    s = re.sub(r"_+", "_", s).strip("_") or "model"
    if s[0].isdigit():
        s = "m_" + s
    if s in _C_KEYWORDS:
        s += "_model"
    return s


_C_KEYWORDS = frozenset([
    "auto", "break", "case", "char", "const", "continue", "default", "do", "double", "else", "enum",
    "extern", "float", "for", "goto", "if", "inline", "int", "long", "register", "restrict", "return",
    "short", "signed", "sizeof", "static", "struct", "switch", "typedef", "union", "unsigned", "void",
    "volatile", "while", "main",
])


def c_string(text: str) -> str:
    """A C string literal holding ``text`` as UTF-8: every byte outside printable ASCII (and ``?``, which could
    start a trigraph) is an octal escape, so labels in any language survive byte for byte."""
    out = []
    for b in text.encode("utf-8"):
        ch = chr(b)
        if ch in '"\\':
            out.append("\\" + ch)
        elif 32 <= b < 127 and ch != "?":
            out.append(ch)
        else:
            out.append(f"\\{b:03o}")
    return '"' + "".join(out) + '"'


def _qparams(g: Graph, ti: int) -> dict[str, Any]:
    t = g.tensor(ti)
    return {"name": t.name, "shape": list(t.shape), "dtype": t.dtype,
            "scale": float(t.scale[0]) if len(t.scale) else 0.0,
            "zero_point": int(t.zero_point[0]) if len(t.zero_point) else 0, "bytes": t.nbytes}


_float_lit = float_lit


def _has_run(ins: list[IoTensor], outs: list[IoTensor]) -> bool:
    """``<name>_run`` (float in, dequantized scores and argmax out) exists for one input and one output only."""
    return len(ins) == 1 and len(outs) == 1


def _dsp_sources(spec: dict[str, Any] | None, name: str) -> tuple[dict[str, str] | None, str | None]:
    """The DSP step's C sources (``compiler.dsp_c``) or None with the reason it is not in C."""
    if not spec:
        return None, None
    try:
        from crisp_eml.compiler.dsp_c import render_dsp_c
    except ImportError:  # pragma: no cover - shipped together
        return None, "no DSP C renderer available"
    try:
        out: dict[str, str] = render_dsp_c(spec, name)
    except InputError as exc:
        return None, str(exc)
    return out, None


_C_SIZES = {"float": 4, "double": 8, "int8_t": 1, "uint8_t": 1, "int16_t": 2, "uint16_t": 2, "int32_t": 4,
            "uint32_t": 4, "int": 4}
_STATIC_ARRAY = re.compile(r"^static (?!const)(\w+) \w+\[(\d+)\]", re.M)


_STATIC_BYTES = re.compile(r"#define \w+_DSP_STATIC_BYTES (\d+)")


def static_ram_of(sources: dict[str, str]) -> int:
    """Bytes of the DSP step's static buffers: its ``*_DSP_STATIC_BYTES``, else its non-const static arrays."""
    declared = [int(m) for text in sources.values() for m in _STATIC_BYTES.findall(text)]
    if declared:
        return sum(declared)
    return sum(_C_SIZES.get(t, 4) * int(n) for text in sources.values() for t, n in _STATIC_ARRAY.findall(text))


def render_library(g: Graph, plan: PlanLike, opts: RenderOptions) -> dict[str, str]:
    """Graph + memory plan -> the library's files."""
    name = c_identifier(opts.name)
    up = name.upper()
    in_t, out_t = g.tensor(g.inputs[0]), g.tensor(g.outputs[0])
    arena = max(int(plan.arena_bytes), 1)
    if opts.labels and len(opts.labels) != int(np.prod(out_t.shape)):
        raise InputError(f"{len(opts.labels)} labels given but the model has {int(np.prod(out_t.shape))} outputs"
                         + (" in its first output" if len(g.outputs) > 1 else ""), field="labels")
    if opts.dsp and len(g.inputs) != 1:
        raise InputError(f"a DSP step feeds one input; the model has {len(g.inputs)}", field="dsp")

    def ptr(ti: int) -> str:
        if ti not in plan.offsets:
            raise InputError(f"memory plan has no offset for tensor {ti}")
        off = int(plan.offsets[ti])
        if off < 0 or off + g.tensor(ti).nbytes > arena:
            raise InputError(f"memory plan puts tensor {ti} outside the arena")
        return f"&{name}_arena[{off}]"

    ins, outs = io_tensors(g, ptr)
    optimize = check_optimize(opts.optimize)
    layers: list[Layer] = [lower_op(g, op, name, ptr, optimize=optimize, offsets=plan.offsets) for op in g.ops]
    a_sec, w_sec = flash.check_sections(opts.arena_section, opts.weights_section)
    opts = replace(opts, arena_section=a_sec, weights_section=w_sec)
    dedup = flash.dedupe_layers(layers)  # identical constants emitted once (weights_bytes counts them once)
    scratch = max((layer.scratch_int16 for layer in layers), default=0)
    sections = sorted({s for layer in layers for s in layer.sections} | {"copy"})
    in_size = int(np.prod(in_t.shape))
    dsp_files, dsp_note = _dsp_sources(opts.dsp, name)
    files: dict[str, str] = {
        "src/eml_kernels.h": kernel_source("eml_kernels.h", sections),
        "src/eml_kernels.c": kernel_source("eml_kernels.c", sections),
        f"src/{name}.h": _header(name, up, ins, outs, arena, opts, dsp_files is not None),
        f"src/{name}.c": _source(name, up, g, layers, ins, outs, opts, dsp_files is not None, scratch),
    }
    for fam in sorted({f for layer in layers for f in layer.families}):  # op families added since round 1
        files[f"src/{fam}.h"] = whole_source(f"{fam}.h")
        files[f"src/{fam}.c"] = whole_source(f"{fam}.c")
    files.update({f"src/{f}": whole_source(f) for f in POSTPROCESS_FILES})  # continuous-stream post-processing
    for rel, text in (dsp_files or {}).items():
        files[rel if rel.startswith("src/") else f"src/{rel}"] = text
    weights = sum(layer.weights_bytes for layer in layers)
    c_files = sorted(p.removeprefix("src/") for p in files if p.endswith(".c"))
    files["CMakeLists.txt"] = _cmake(name, c_files)
    files["Makefile"] = _makefile(name, c_files)
    files["library.properties"] = _library_properties(name)
    if opts.arena_section or opts.weights_section:
        files["linker/example_external.ld"] = flash.example_linker_script(name, opts.arena_section,
                                                                          opts.weights_section)
    manifest = {
        "generator": GENERATOR,
        "name": name,
        "model_sha256": opts.model_sha256,
        "arena_bytes": arena,
        # arena + 'initialized' flag + im2col scratch (+ the DSP step's feature vector and static buffers)
        "ram_bytes": arena + 1 + 2 * scratch + ((4 * in_size + static_ram_of(dsp_files)) if dsp_files else 0),
        "scratch_bytes": 2 * scratch,
        # the memory planner's figures: the op that sets the arena's peak and what is alive there
        "memory": {"arena_bytes": arena, "scratch_bytes": 2 * scratch, "peak_op": getattr(plan, "peak", None) or None},
        "weights_bytes": weights,
        "flash": {"dedup_saved_bytes": dedup.saved_bytes, "shared_constants": len(dedup.shared),
                  "arena_section": opts.arena_section, "weights_section": opts.weights_section},
        "optimize": optimize,
        "ops": [layer.op_type for layer in layers],
        "kernels": sections,
        # how the figures in docs/benchmarks/compiler.md were measured; the Makefile's default CFLAGS match
        "build": {"cortex_m4_cflags": "-O2 -mcpu=cortex-m4 -mthumb -mfloat-abi=hard -mfpu=fpv4-sp-d16",
                  "dsp_extension": "__ARM_FEATURE_DSP paths (SMLAD, SMMULR, SSAT) unless EML_NO_DSP",
                  "host_cflags": "-O3 (the Makefile's default and 'eml verify --host'); x86-64 builds take the "
                                 "SSE2 path (EML_NO_SIMD: portable C); the benchmark also reports -O2"},
        "inputs": [_qparams(g, ti) for ti in g.inputs],
        "outputs": [_qparams(g, ti) for ti in g.outputs],
        # vectors.bin / expected.bin rows and <name>_invoke_packed: every input's (output's) bytes in graph order
        "input_bytes": sum(t.nbytes for t in ins),
        "output_bytes": sum(t.nbytes for t in outs),
        "api": {"invoke": len(ins) == 1 and len(outs) == 1, "run": _has_run(ins, outs),
                "invoke_n": True, "invoke_packed": True},
        "labels": list(opts.labels),
        "dsp": opts.dsp,
        "dsp_in_c": dsp_files is not None,
        "dsp_note": dsp_note,
        "normalization": opts.normalization,
        "files": sorted([*files, "MANIFEST.json"]),
        "sources_sha256": sources_sha256(files),
    }
    files["MANIFEST.json"] = json.dumps(manifest, indent=2) + "\n"
    return files


def _header(name: str, up: str, ins: list[IoTensor], outs: list[IoTensor], arena: int, opts: RenderOptions,
            has_dsp: bool) -> str:
    status = "\n".join(f"    {up}_{code} = {i}," for i, (code, _) in enumerate(STATUS))
    run = _has_run(ins, outs)
    single_io = ""
    run_block = ""
    if run:
        i0, o0 = ins[0], outs[0]
        dsp_block = (f'#include "{name}_dsp.h"\n/* floats per raw window that {name}_run() takes */\n'
                     f"#define {up}_RAW_INPUT_LEN {up}_DSP_INPUT_LEN\n") if has_dsp else \
            f"/* {name}_run() takes the features themselves */\n#define {up}_RAW_INPUT_LEN {up}_INPUT_SIZE\n"
        run_doc = ("raw signal -> <name>_dsp() features -> quantize -> invoke -> dequantize" if has_dsp else
                   "float features (already computed by your DSP code) -> quantize -> invoke -> dequantize")
        if opts.normalization:
            run_doc = run_doc.replace(" -> quantize", " -> standardise (training-set mean/std) -> quantize", 1)
            dsp_block += (f"/* {name}_run() standardises the features before quantizing; {name}_invoke() takes "
                          "codes of standardised features */\n#define " + up + "_NORMALIZED 1\n")
        single_io = f"""#define {up}_INPUT_SIZE {i0.size}
#define {up}_OUTPUT_SIZE {o0.size}
{dsp_block}
#define {up}_INPUT_SCALE {float_lit(i0.scale)}
#define {up}_INPUT_ZERO_POINT ({i0.zero_point})
#define {up}_OUTPUT_SCALE {float_lit(o0.scale)}
#define {up}_OUTPUT_ZERO_POINT ({o0.zero_point})
/* real value <-> {i0.ctype} code of the model input / {o0.ctype} code of its output */
#define {up}_QUANTIZE_INPUT(x) {name}_quantize_input(x)
#define {up}_DEQUANTIZE_OUTPUT(q) ((float)((double){up}_OUTPUT_SCALE * (double)((int32_t)(q) - {up}_OUTPUT_ZERO_POINT)))
"""
        run_block = f"""
typedef struct {{
    float scores[{up}_OUTPUT_SIZE];   /* dequantized outputs */
    {o0.ctype} raw[{up}_OUTPUT_SIZE];{" " * (8 - len(o0.ctype))}/* {o0.dtype} outputs as the model computed them */
    int32_t label_index;              /* index of the largest output */
    const char *label;                /* its label, or NULL when the model has no labels */
}} {name}_result_t;
"""
        what = " (raw samples)" if has_dsp else " (the features)"
        run_proto = (f"/* {run_doc}; len must be {up}_RAW_INPUT_LEN{what},\n * else {up}_ERR_INPUT_SIZE. */\n"
                     f"{name}_status_t {name}_run(const float *raw, size_t len, {name}_result_t *out);\n"
                     f"{i0.ctype} {name}_quantize_input(float x);\n")
    else:
        run_proto = (f"/* {len(ins)} inputs, {len(outs)} outputs: no {name}_run() (float features and argmax need one "
                     f"input and one output);\n * quantize with {up}_INPUTk_SCALE / {up}_INPUTk_ZERO_POINT. */\n")
    entry = f"{name}_run() or {name}_invoke()" if run else f"{name}_invoke_n() or {name}_invoke_packed()"
    return f"""/* {name}.h - generated by {GENERATOR}; do not edit. Public API of the '{name}' model library.
 * C99, no dynamic allocation, no stdio. All state is static: call {name}_init() once, then {entry}
 * from one thread at a time. */
#ifndef {up}_H
#define {up}_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {{
#endif

#define {up}_ARENA_BYTES {arena}
#define {up}_LABEL_COUNT {len(opts.labels)}
{single_io}{io_macros(up, ins, outs)}
typedef enum {{
{status}
}} {name}_status_t;
{run_block}
extern const char *const {name}_labels[];

{name}_status_t {name}_init(void);
{io_prototypes(name, up, ins, outs)}{run_proto}const char *{name}_status_str({name}_status_t status);

#ifdef __cplusplus
}}
#endif

#endif /* {up}_H */
"""


def _normalization(name: str, norm: dict[str, Any] | None, in_size: int, src: str) -> tuple[str, str]:
    """(constant tables, the C expression of the value quantized for feature ``i``) of ``<name>_run``.

    With statistics: ``(x - mean[c]) / std[c]`` in float32 with ``c = i % channels``, the arithmetic of
    :class:`crisp_eml.core.normalization.Normalization` (one subtraction, one division: nothing to fuse)."""
    if not norm:
        return "", f"{src}[i]"
    from crisp_eml.core.normalization import Normalization

    n = Normalization.from_dict(norm)
    if in_size % n.channels:
        raise InputError(f"the model takes {in_size} features, not a multiple of its {n.channels} normalisation "
                         "channels", field="normalization")
    table = ", ".join(_float_lit(v) for v in n.mean)
    spread = ", ".join(_float_lit(v) for v in n.std)
    decls = (f"/* feature standardisation from the training set: z = (x - mean[c]) / std[c], c = i % "
             f"{n.channels} */\nstatic const float {name}_norm_mean[{n.channels}] = {{{table}}};\n"
             f"static const float {name}_norm_std[{n.channels}] = {{{spread}}};\n")
    return decls, f"({src}[i] - {name}_norm_mean[i % {n.channels}]) / {name}_norm_std[i % {n.channels}]"


def _source(name: str, up: str, g: Graph, layers: list[Layer], ins: list[IoTensor], outs: list[IoTensor],
            opts: RenderOptions, has_dsp: bool, scratch: int) -> str:
    arena_sec = f" {up}_ARENA_SECTION" if opts.arena_section else ""
    col = f"/* scratch of the convolutions (im2col of two output pixels; depthwise 3x3: row ring) */\n" \
        f"static int16_t {name}_col[{scratch}]{arena_sec};\n" \
        if scratch else ""
    decls = "\n".join(d for layer in layers for d in layer.decls)
    if opts.weights_section:
        decls = "\n".join(flash.in_section([d for layer in layers for d in layer.decls], f"{up}_WEIGHTS_SECTION"))
    calls = "\n".join(f"    /* {layer.op_index}: {layer.op_type} */\n    {layer.call}" for layer in layers)
    status_strs = "\n".join(f"    {c_string(text.replace('<name>', name))}," for _, text in STATUS)
    labels = ", ".join(c_string(lb) for lb in opts.labels) or "NULL"
    dsp_include = (f"#if {up}_DSP_N_FEATURES != {up}_INPUT_SIZE\n"
                   f'#error "the DSP step and the model disagree on the feature count"\n#endif\n') if has_dsp else ""
    norm_decls, run = _run_source(name, up, ins, outs, opts, has_dsp) if _has_run(ins, outs) else ("", "")
    fam_includes = "".join(f'#include "{f}.h"\n' for f in sorted({f for layer in layers for f in layer.families}))
    return f"""/* {name}.c - generated by {GENERATOR}; do not edit. Model '{g.name}', {len(layers)} layers. */
#include "{name}.h"

#include "eml_kernels.h"
{fam_includes}{dsp_include}
#if defined(__GNUC__) || defined(__clang__)
#define {up}_ALIGNED __attribute__((aligned({ARENA_ALIGN})))
#else
#define {up}_ALIGNED
#endif
{flash.section_macros(up, opts.arena_section, opts.weights_section)}
/* Every activation tensor lives in this arena at the offset the memory planner chose. */
static int8_t {name}_arena[{up}_ARENA_BYTES] {up}_ALIGNED{arena_sec};
static uint8_t {name}_initialized;
{col}
const char *const {name}_labels[] = {{{labels}}};

static const char *const {name}_status_strings[] = {{
{status_strs}
}};

{decls}
{norm_decls}
const char *{name}_status_str({name}_status_t status)
{{
    const size_t n = sizeof({name}_status_strings) / sizeof({name}_status_strings[0]);
    return (size_t)status < n ? {name}_status_strings[status] : "unknown status";
}}

{name}_status_t {name}_init(void)
{{
    int32_t i;
    for (i = 0; i < {up}_ARENA_BYTES; ++i) {{
        {name}_arena[i] = 0;
    }}
    {name}_initialized = 1u;
    return {up}_OK;
}}

static void {name}_layers(void)
{{
{calls}
}}

{io_functions(name, up, ins, outs)}{run}"""


def _run_source(name: str, up: str, ins: list[IoTensor], outs: list[IoTensor], opts: RenderOptions,
                has_dsp: bool) -> tuple[str, str]:
    """(normalisation tables, C of ``<name>_quantize_input`` and ``<name>_run``) of a one-input, one-output model."""
    x, y, tin, tout = ins[0].ptr, outs[0].ptr, ins[0].ctype, outs[0].ctype
    bits = 8 * ins[0].nbytes // max(ins[0].size, 1)
    lo, hi, lim = -(1 << (bits - 1)), (1 << (bits - 1)) - 1, 1 << bits
    in_size = ins[0].size
    if has_dsp:
        features = (f"    static float features[{up}_INPUT_SIZE];\n"
                    f"    if ({name}_dsp(raw, len, features) != 0) {{\n        return {up}_ERR_DSP;\n    }}\n")
        src = "features"
    else:
        features, src = "", "raw"
    # a wrong length is the caller's input size error, with or without a DSP step (checked before the DSP runs);
    # a DSP step that takes whole recordings (length_mode pad/resample) takes any number of complete rows
    len_check = (f"#if defined({up}_DSP_VARIABLE_LENGTH) && {up}_DSP_VARIABLE_LENGTH\n"
                 f"    if (len == 0u || len % (size_t){up}_DSP_N_AXES != 0u) {{\n"
                 f"        return {up}_ERR_INPUT_SIZE;\n    }}\n#else\n"
                 f"    if (len != (size_t){up}_RAW_INPUT_LEN) {{\n        return {up}_ERR_INPUT_SIZE;\n    }}\n"
                 "#endif\n") if has_dsp else \
        f"    if (len != (size_t){up}_RAW_INPUT_LEN) {{\n        return {up}_ERR_INPUT_SIZE;\n    }}\n"
    norm_decls, value = _normalization(name, opts.normalization, in_size, src)
    return norm_decls, f"""
{tin} {name}_quantize_input(float x)
{{
    /* zero_point + round-half-away-from-zero(x / scale), clamped: what TFLite's QUANTIZE does */
    const float v = x / {up}_INPUT_SCALE;
    int32_t q;
    float frac;
    if (!(v < {lim}.0f)) {{
        return {hi};
    }}
    if (!(v > -{lim}.0f)) {{
        return {lo};
    }}
    q = (int32_t)v;
    frac = v - (float)q;
    if (frac >= 0.5f) {{
        ++q;
    }} else if (frac <= -0.5f) {{
        --q;
    }}
    q += {up}_INPUT_ZERO_POINT;
    return ({tin})(q < {lo} ? {lo} : (q > {hi} ? {hi} : q));
}}

{name}_status_t {name}_run(const float *raw, size_t len, {name}_result_t *out)
{{
    {tin} *q_in = ({tin} *)(void *){x};
    const {tout} *q_out = (const {tout} *)(const void *){y};
    int32_t i, best = 0;
    if (raw == NULL || out == NULL) {{
        return {up}_ERR_NULL;
    }}
    if (!{name}_initialized) {{
        return {up}_ERR_NOT_INITIALIZED;
    }}
{len_check}{features}    for (i = 0; i < {up}_INPUT_SIZE; ++i) {{
        q_in[i] = {name}_quantize_input({value});
    }}
    {name}_layers();
    for (i = 0; i < {up}_OUTPUT_SIZE; ++i) {{
        out->raw[i] = q_out[i];
    }}
    for (i = 0; i < {up}_OUTPUT_SIZE; ++i) {{
        out->scores[i] = {up}_DEQUANTIZE_OUTPUT(out->raw[i]);
        if (out->raw[i] > out->raw[best]) {{
            best = i;
        }}
    }}
    out->label_index = best;
    out->label = {up}_LABEL_COUNT > 0 ? {name}_labels[best] : NULL;
    return {up}_OK;
}}
"""


def _cmake(name: str, c_files: list[str]) -> str:
    srcs = " ".join(f"src/{f}" for f in c_files)
    # The DSP step calls sqrtf/logf/log10f: consumers must link libm, so the target says so.
    libm = f"target_link_libraries({name} PUBLIC m)\n" if any(f.endswith("_dsp.c") for f in c_files) else ""
    return f"""# Generated by {GENERATOR}. Static library '{name}' (C99, no dependencies).
cmake_minimum_required(VERSION 3.13)
project({name} C)
add_library({name} STATIC {srcs})
target_include_directories({name} PUBLIC ${{CMAKE_CURRENT_SOURCE_DIR}}/src)
set_target_properties({name} PROPERTIES C_STANDARD 99 C_STANDARD_REQUIRED ON)
{libm}"""


def _makefile(name: str, c_files: list[str]) -> str:
    objs = " ".join(f"build/{f[:-2]}.o" for f in c_files)
    note = "\n# The DSP step uses libm: link programs with -lm." if any(f.endswith("_dsp.c") for f in c_files) else ""
    return f"""# Generated by {GENERATOR}. `make` builds lib{name}.a; override CC/CFLAGS for cross builds.{note}
# -O3: x86-64 (SSE2) and Cortex-M (DSP extension) builds have explicit SIMD paths and gain little from it, but
# other hosts (e.g. aarch64 Linux) run the portable inner loops, which gcc vectorises only at -O3.
CC ?= cc
AR ?= ar
CFLAGS ?= -std=c99 -O3 -Wall -Wextra -pedantic
OBJS = {objs}

lib{name}.a: $(OBJS)
\t$(AR) rcs $@ $^

build/%.o: src/%.c
\t@mkdir -p build
\t$(CC) $(CFLAGS) -Isrc -c $< -o $@

clean:
\trm -rf build lib{name}.a

.PHONY: clean
"""


def _library_properties(name: str) -> str:
    return f"""name={name}
version=1.0.0
author=crisp-eml
maintainer=crisp-eml
sentence=Generated int8 inference library for the '{name}' model.
paragraph=Bit-exact with TensorFlow Lite Micro; C99, no dynamic allocation.
category=Data Processing
url=https://example.invalid/crisp-eml
architectures=*
"""
