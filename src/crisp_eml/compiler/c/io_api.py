"""The generated library's input/output API: per-tensor macros and the invoke entry points, for any number of
int8 or int16 inputs and outputs.

Every library has ``<name>_invoke_n(inputs[], outputs[])`` (one pointer per tensor, graph order) and
``<name>_invoke_packed(in, out)`` (all inputs' bytes concatenated in graph order, little-endian, likewise the
outputs: the layout of ``tests/vectors.bin`` / ``tests/expected.bin``, so test runners need no model
knowledge); a one-input, one-output model also has the typed ``<name>_invoke(const T_in *, T_out *)``. Macros
per tensor ``k``: ``<NAME>_INPUTk_SIZE`` (elements), ``_BYTES``, ``_SCALE``, ``_ZERO_POINT``, ``_TYPE``; in total
``<NAME>_INPUT_COUNT``/``<NAME>_INPUT_BYTES`` (and the same for outputs). Pure text generation.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

from crisp_eml.core.errors import InputError
from crisp_eml.core.graph import Graph

C_TYPES = {"int8": "int8_t", "int16": "int16_t"}


@dataclass(frozen=True)
class IoTensor:
    """One model input or output as the C API sees it."""

    index: int  # graph tensor index
    name: str
    dtype: str  # "int8" / "int16"
    shape: tuple[int, ...]
    scale: float
    zero_point: int
    ptr: str  # C expression of its bytes in the arena
    used: bool  # read (inputs) / written (outputs) by some op

    @property
    def ctype(self) -> str:
        return C_TYPES[self.dtype]

    @property
    def size(self) -> int:
        return int(np.prod(self.shape, dtype=np.int64)) if self.shape else 1

    @property
    def nbytes(self) -> int:
        return self.size * int(np.dtype(self.dtype).itemsize)


def io_tensors(g: Graph, ptr: Callable[[int], str]) -> tuple[list[IoTensor], list[IoTensor]]:
    """(inputs, outputs) in graph order; refuses I/O types the C library has no API for."""

    def one(ti: int, what: str, used: bool) -> IoTensor:
        t = g.tensor(ti)
        if t.dtype not in C_TYPES:
            raise InputError(f"model {what} '{t.name}' is {t.dtype}; the C library needs int8 or int16 I/O")
        return IoTensor(ti, t.name, t.dtype, tuple(t.shape), float(t.scale[0]) if len(t.scale) else 0.0,
                        int(t.zero_point[0]) if len(t.zero_point) else 0, ptr(ti), used)

    read = {i for op in g.ops for i in op.inputs}
    written = {i for op in g.ops for i in op.outputs}
    return ([one(ti, "input", ti in read) for ti in g.inputs],
            [one(ti, "output", ti in written or ti in g.inputs) for ti in g.outputs])


def float_lit(v: float) -> str:
    return f"{float(np.float32(v))!r}f".replace("inf", "INFINITY")


def io_macros(up: str, ins: list[IoTensor], outs: list[IoTensor]) -> str:
    lines = [f"#define {up}_INPUT_COUNT {len(ins)}", f"#define {up}_OUTPUT_COUNT {len(outs)}",
             "/* bytes of all inputs / all outputs, packed in graph order (<name>_invoke_packed) */",
             f"#define {up}_INPUT_BYTES {sum(t.nbytes for t in ins)}",
             f"#define {up}_OUTPUT_BYTES {sum(t.nbytes for t in outs)}"]
    for kind, ts in (("INPUT", ins), ("OUTPUT", outs)):
        for k, t in enumerate(ts):
            p = f"{up}_{kind}{k}"
            lines += [f"/* {kind.lower()} {k} '{_comment(t.name)}': {t.ctype} {list(t.shape)} */",
                      f"#define {p}_SIZE {t.size}", f"#define {p}_BYTES {t.nbytes}",
                      f"#define {p}_SCALE {float_lit(t.scale)}", f"#define {p}_ZERO_POINT ({t.zero_point})",
                      f"#define {p}_TYPE {t.ctype}"]
    return "\n".join(lines) + "\n"


def _comment(text: str) -> str:
    return "".join(c if 32 <= ord(c) < 127 and c not in "*/\\" else "_" for c in text)


def io_prototypes(name: str, up: str, ins: list[IoTensor], outs: list[IoTensor]) -> str:
    single = ""
    if len(ins) == 1 and len(outs) == 1:
        single = (f"/* features: {up}_INPUT_SIZE {ins[0].ctype} codes; out: {up}_OUTPUT_SIZE {outs[0].ctype} "
                  f"codes. */\n{name}_status_t {name}_invoke(const {ins[0].ctype} *features, {outs[0].ctype} *out);\n")
    return (f"{single}/* inputs[k]: {up}_INPUTk_SIZE codes of type {up}_INPUTk_TYPE, k < {up}_INPUT_COUNT; "
            f"outputs[k] likewise. */\n"
            f"{name}_status_t {name}_invoke_n(const void *const inputs[], void *const outputs[]);\n"
            f"/* in: {up}_INPUT_BYTES bytes, every input's codes (little-endian) one after the other in graph order;\n"
            f" * out: {up}_OUTPUT_BYTES bytes, the outputs likewise. */\n"
            f"{name}_status_t {name}_invoke_packed(const void *in, void *out);\n")


def io_functions(name: str, up: str, ins: list[IoTensor], outs: list[IoTensor]) -> str:
    """C definitions of the invoke entry points (``<name>_layers()`` runs the graph)."""
    null_n = " || ".join(["inputs == NULL", "outputs == NULL", *(f"inputs[{k}] == NULL" for k in range(len(ins))),
                          *(f"outputs[{k}] == NULL" for k in range(len(outs)))])
    load_n = "".join(f"    eml_copy_s8((const int8_t *)inputs[{k}], {t.ptr}, {t.nbytes});\n"
                     for k, t in enumerate(ins) if t.used)
    store_n = "".join(f"    eml_copy_s8({t.ptr}, (int8_t *)outputs[{k}], {t.nbytes});\n" for k, t in enumerate(outs))
    load_p, store_p, off = "", "", 0
    for t in ins:
        if t.used:
            load_p += f"    eml_copy_s8(src + {off}, {t.ptr}, {t.nbytes});\n"
        off += t.nbytes
    off = 0
    for t in outs:
        store_p += f"    eml_copy_s8({t.ptr}, dst + {off}, {t.nbytes});\n"
        off += t.nbytes
    guard = f"""    if (!{name}_initialized) {{
        return {up}_ERR_NOT_INITIALIZED;
    }}
"""
    single = ""
    if len(ins) == 1 and len(outs) == 1:
        single = f"""
{name}_status_t {name}_invoke(const {ins[0].ctype} *features, {outs[0].ctype} *out)
{{
    return {name}_invoke_packed(features, out);
}}
"""
    return f"""{name}_status_t {name}_invoke_packed(const void *in, void *out)
{{
    const int8_t *src = (const int8_t *)in;
    int8_t *dst = (int8_t *)out;
    if (src == NULL || dst == NULL) {{
        return {up}_ERR_NULL;
    }}
{guard}{load_p}    {name}_layers();
{store_p}    return {up}_OK;
}}

{name}_status_t {name}_invoke_n(const void *const inputs[], void *const outputs[])
{{
    if ({null_n}) {{
        return {up}_ERR_NULL;
    }}
{guard}{load_n}    {name}_layers();
{store_n}    return {up}_OK;
}}
{single}"""
