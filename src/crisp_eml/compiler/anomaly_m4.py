"""Run a generated anomaly library (float32 scorer, optionally with its DSP) on the emulated Cortex-M4.

The stored test windows are embedded in the runner as IEEE-754 bit patterns (so the device sees exactly the
floats the host saw); the runner prints each window's score as its bit pattern plus the decision, then the
SysTick figures ``build.instructions`` turns into instructions per ``<name>_run`` call. Built with the same
hard-float flags and QEMU machine as the int8 libraries (``build.m4_build``).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np

from crisp_eml.compiler import build
from crisp_eml.compiler.c.runner import M4_TIMING
from crisp_eml.core.errors import VerificationError


def anomaly_m4_runner(name: str, windows: np.ndarray, iterations: int = 1) -> str:
    """Runner source: 'S <score bits hex> <is_anomaly>' per window, then 'E', 'C' and 'T' timing lines."""
    up = name.upper()
    k, n = int(windows.shape[0]), int(windows.shape[1])
    bits = np.ascontiguousarray(windows, np.float32).view(np.uint32)
    rows = ",\n".join("{" + ", ".join(f"0x{int(v):08x}u" for v in row) + "}" for row in bits) or "{0u}"
    return f"""/* Cortex-M4 (QEMU mps2-an386) test runner for the anomaly library {name} (generated). */
#include <stdio.h>
#include <string.h>

#include "{name}.h"
{M4_TIMING}
#define N_WINDOWS {k}
#define N_TIMED {int(iterations)}

typedef char eml_window_len_check[({n} == {up}_RAW_INPUT_LEN) ? 1 : -1];

static const uint32_t window_bits[{max(k, 1)}][{n}] = {{
{rows}
}};

static float raw[{n}];
static {name}_result_t res;

static void one_inference(void)
{{
    (void){name}_run(raw, {up}_RAW_INPUT_LEN, &res);
}}

int main(void)
{{
    int32_t w;
    uint32_t score_bits;
    if ({name}_init() != {up}_OK) {{
        return 3;
    }}
    for (w = 0; w < N_WINDOWS; ++w) {{
        memcpy(raw, window_bits[w], sizeof raw);
        if ({name}_run(raw, {up}_RAW_INPUT_LEN, &res) != {up}_OK) {{
            return 4;
        }}
        memcpy(&score_bits, &res.score, sizeof score_bits);
        printf("S %08lx %ld\\n", (unsigned long)score_bits, (long)res.is_anomaly);
    }}
    memcpy(raw, window_bits[0], sizeof raw);
    printf("E %lu\\n", (unsigned long)ticks_of(nothing));
    printf("C %lu\\n", (unsigned long)ticks_of(calibrate));
    for (w = 0; w < N_TIMED; ++w) {{
        printf("T %lu\\n", (unsigned long)ticks_of(one_inference));
    }}
    return 0;
}}
"""


def run_anomaly_cortex_m4(lib_dir: Path, windows: np.ndarray, wdir: Path, *, iterations: int = 1) -> dict[str, Any]:
    """Scores and decisions of every window on QEMU, instructions per call and the library's section sizes."""
    name = build.library_name(lib_dir)
    win = np.asarray(windows, np.float32).reshape(len(windows), -1)
    elf = build.m4_build(lib_dir, wdir, win, runner=anomaly_m4_runner(name, win, iterations))
    stdout = build.qemu_stdout(elf)
    rows = [line.split() for line in stdout.splitlines() if line.startswith("S ")]
    if len(rows) != len(win):
        raise VerificationError(f"the Cortex-M4 runner printed {len(rows)} scores for {len(win)} windows")
    scores = np.array([int(r[1], 16) for r in rows], np.uint32).view(np.float32).astype(np.float64)
    flags = np.array([int(r[2]) for r in rows], np.int32)
    instr, tpi = build.instructions(stdout)
    lib_objs = [wdir / (p.stem + ".o") for p in sorted((lib_dir / "src").glob("*.c"))]
    sizes = build.section_sizes(lib_objs)
    return {"scores": scores, "flags": flags,
            "instructions_per_inference": int(np.median(instr)) if instr else None,
            "ticks_per_instruction": tpi, "sizes": sizes,
            "flash_bytes": sizes["text"] + sizes["rodata"] + sizes["data"],
            "static_ram_bytes": sizes["data"] + sizes["bss"], "stack_bytes_max": build.stack_usage(lib_objs)}
