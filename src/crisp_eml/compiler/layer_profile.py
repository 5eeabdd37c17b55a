"""Per-layer Cortex-M4 instruction counts of a generated library (QEMU ``mps2-an386``, SysTick per layer call).

The whole-inference count (``verify.run_cortex_m4``) says how fast a model is; tuning kernels needs the count of
each layer. :func:`instrument` rewrites a rendered ``<name>.c`` (a copy, never the shipped library) so each
layer call of ``<name>_layers`` is bracketed by two SysTick reads, :func:`profile_m4` builds it with a runner that
prints the ticks and the outputs, and converts ticks to instructions with the same in-run calibration loop as
the whole-model runner (``-icount shift=0``: 1 instruction per ns; 25 MHz SysTick: 40 instructions per tick).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from crisp_eml.compiler import build
from crisp_eml.compiler.c.runner import M4_TIMING
from crisp_eml.core.errors import VerificationError

_CALL = re.compile(r"^    /\* (\d+): (\w+) \*/\n    (.*)$", re.M)


def instrument(source: str, name: str) -> tuple[str, list[tuple[int, str]]]:
    """``<name>.c`` with SysTick reads around each layer call; also the (op index, op type) of each layer."""
    layers: list[tuple[int, str]] = []

    def wrap(m: re.Match[str]) -> str:
        k = len(layers)
        layers.append((int(m.group(1)), m.group(2)))
        return (f"    /* {m.group(1)}: {m.group(2)} */\n    eml_prof_t0 = EML_SYST_CVR;\n    {m.group(3)}\n"
                f"    {name}_prof[{k}] += (eml_prof_t0 - EML_SYST_CVR) & 0x00FFFFFFu;")

    head, sep, tail = source.partition(f"static void {name}_layers(void)\n{{\n")
    if not sep:
        raise VerificationError(f"{name}.c has no {name}_layers() to instrument")
    body, sep2, rest = tail.partition("\n}\n")
    body = _CALL.sub(wrap, body)
    prelude = ("#define EML_SYST_CVR (*(volatile uint32_t *)0xE000E018u)\n"
               f"uint32_t {name}_prof[{max(len(layers), 1)}];\nstatic uint32_t eml_prof_t0;\n")
    return head + prelude + sep + body + sep2 + rest, layers


def _runner(name: str, vector: np.ndarray, n_layers: int) -> str:
    up = name.upper()
    row = ", ".join(str(int(v)) for v in vector.reshape(-1))
    return f"""/* per-layer profile runner for {name} (generated) */
#include <stdio.h>

#include "{name}.h"
{M4_TIMING}
extern uint32_t {name}_prof[];
static const int8_t vec[{up}_INPUT_SIZE] = {{{row}}};
static int8_t out[{up}_OUTPUT_SIZE];

static void one_inference(void)
{{
    (void){name}_invoke(vec, out);
}}

int main(void)
{{
    int32_t i;
    if ({name}_init() != {up}_OK) {{
        return 3;
    }}
    printf("E %lu\\n", (unsigned long)ticks_of(nothing));
    printf("C %lu\\n", (unsigned long)ticks_of(calibrate));
    for (i = 0; i < {n_layers}; ++i) {{
        {name}_prof[i] = 0u;
    }}
    SYST_RVR = 0x00FFFFFFu;
    SYST_CVR = 0u;
    SYST_CSR = 5u;
    (void){name}_invoke(vec, out);
    SYST_CSR = 0u;
    printf("O ");
    for (i = 0; i < {up}_OUTPUT_SIZE; ++i) {{
        printf("%02x", (unsigned)(uint8_t)out[i]);
    }}
    printf("\\n");
    for (i = 0; i < {n_layers}; ++i) {{
        printf("L %lu\\n", (unsigned long){name}_prof[i]);
    }}
    printf("T %lu\\n", (unsigned long)ticks_of(one_inference));
    return 0;
}}
"""


@dataclass
class LayerProfile:
    outputs: np.ndarray  # the outputs of the profiled inference (int8)
    layers: list[tuple[int, str, int]]  # (op index, op type, instructions)
    total: int  # instructions of one uninstrumented-equivalent inference ('T' line of the same build)


def profile_m4(lib_dir: Path, vector: np.ndarray, work: Path) -> LayerProfile:
    """Instrument a copy of the library at ``lib_dir``, run one inference of ``vector`` on QEMU, count per layer."""
    name = build.library_name(lib_dir)
    copy = work / "lib"
    files = {str(p.relative_to(lib_dir)): p.read_text(encoding="utf-8") for p in lib_dir.rglob("*") if p.is_file()}
    src_key = f"src/{name}.c"
    files[src_key], layers = instrument(files[src_key], name)
    build.write_tree(files, copy)
    elf = build.m4_build(copy, work / "m4", vector[None, :], runner=_runner(name, vector, len(layers)))
    stdout = build.qemu_stdout(elf)
    totals, tpi = build.instructions(stdout)
    if tpi <= 0:
        raise VerificationError("the SysTick calibration failed")
    ticks = [int(line.split()[1]) for line in stdout.splitlines() if line.startswith("L ")]
    outs = [bytes.fromhex(line[2:].strip()) for line in stdout.splitlines() if line.startswith("O ")]
    return LayerProfile(outputs=np.frombuffer(outs[0], np.int8).copy(),
                        layers=[(i, t, round(n / tpi)) for (i, t), n in zip(layers, ticks, strict=True)],
                        total=totals[0])
