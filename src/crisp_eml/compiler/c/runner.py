"""Test programs around a generated library (not part of the library): host and Cortex-M4 runners.

Both runners move packed vectors: per inference ``<NAME>_INPUT_BYTES`` bytes (every input's codes, little-endian,
in graph order: a row of ``tests/vectors.bin``) in and ``<NAME>_OUTPUT_BYTES`` bytes out through
``<name>_invoke_packed``, so they work for any number of int8/int16 inputs and outputs. The host runner reads the
vectors from a file, writes the outputs to another and can time a loop of inferences. The Cortex-M4 runner embeds
the vectors as C byte arrays, prints the outputs as hex through semihosting and counts SysTick ticks around each
inference; our own startup code and linker script for
QEMU's ``mps2-an386`` board come with it. Pure text generation.
"""

from __future__ import annotations

import numpy as np


def host_runner(name: str) -> str:
    up = name.upper()
    return f"""/* Host test runner for {name} (generated). usage: runner IN.bin OUT.bin [ITERATIONS] */
#include <stdio.h>
#include <stdlib.h>
#include <time.h>

#include "{name}.h"

int main(int argc, char **argv)
{{
    static int8_t in[{up}_INPUT_BYTES];
    static int8_t out[{up}_OUTPUT_BYTES];
    FILE *fi;
    FILE *fo;
    long n = 0;
    if (argc < 3) {{
        fprintf(stderr, "usage: %s IN.bin OUT.bin [ITERATIONS]\\n", argv[0]);
        return 2;
    }}
    if ({name}_init() != {up}_OK) {{
        return 3;
    }}
    fi = fopen(argv[1], "rb");
    fo = fopen(argv[2], "wb");
    if (fi == NULL || fo == NULL) {{
        fprintf(stderr, "cannot open files\\n");
        return 2;
    }}
    while (fread(in, 1, sizeof in, fi) == sizeof in) {{
        {name}_status_t st = {name}_invoke_packed(in, out);
        if (st != {up}_OK) {{
            fprintf(stderr, "invoke: %s\\n", {name}_status_str(st));
            return 4;
        }}
        if (fwrite(out, 1, sizeof out, fo) != sizeof out) {{
            return 5;
        }}
        ++n;
    }}
    fclose(fi);
    fclose(fo);
    if (argc > 3) {{
        const long iters = atol(argv[3]);
        long i;
        clock_t t0, t1;
        t0 = clock();
        for (i = 0; i < iters; ++i) {{
            (void){name}_invoke_packed(in, out);
        }}
        t1 = clock();
        printf("ns_per_inference %.1f\\n", 1e9 * (double)(t1 - t0) / CLOCKS_PER_SEC / (double)(iters > 0 ? iters : 1));
    }}
    printf("vectors %ld\\n", n);
    return 0;
}}
"""


# SysTick timing shared by the Cortex-M4 runners: ticks_of(fn) around one call, nothing() for the call overhead
# ('E' line) and calibrate(), a loop of exactly 200,003 instructions ('C' line), so ticks convert to instructions.
M4_TIMING = """
#define SYST_CSR (*(volatile uint32_t *)0xE000E010u)
#define SYST_RVR (*(volatile uint32_t *)0xE000E014u)
#define SYST_CVR (*(volatile uint32_t *)0xE000E018u)

static uint32_t ticks_of(void (*fn)(void))
{
    uint32_t t0, t1;
    SYST_RVR = 0x00FFFFFFu;
    SYST_CVR = 0u;
    SYST_CSR = 5u; /* enable, processor clock, no interrupt */
    t0 = SYST_CVR;
    fn();
    t1 = SYST_CVR;
    SYST_CSR = 0u;
    return (t0 - t1) & 0x00FFFFFFu;
}

static void nothing(void)
{
}

static void calibrate(void)
{
    /* 2 instructions per iteration x 100000 */
#if defined(__ARM_ARCH_6M__) /* Thumb-1: no movw/movt; 195 << 9 + 160 = 100000 */
    __asm volatile(".syntax unified\\n    movs r0, #195\\n    lsls r0, r0, #9\\n    adds r0, r0, #160\\n"
                   "1:  subs r0, r0, #1\\n    bne 1b\\n.syntax divided\\n" ::: "r0", "cc");
#else
    __asm volatile("    movw r0, #34464\\n    movt r0, #1\\n1:  subs r0, r0, #1\\n    bne 1b\\n" ::: "r0", "cc");
#endif
}
"""


def m4_runner(name: str, vectors: np.ndarray, iterations: int = 1, timing: str = M4_TIMING) -> str:
    """Vectors (K rows of ``<NAME>_INPUT_BYTES`` packed bytes; any integer dtype, viewed as bytes) embedded;
    prints 'O <hex>' (the ``<NAME>_OUTPUT_BYTES`` output bytes) per vector, then 'T <ticks>' per timed inference.

    ``timing``: the C of ``ticks_of``/``nothing``/``calibrate`` (SysTick by default; ``c/boards.py`` has a
    timer-less one for boards without SysTick, whose counts then come from the QEMU plugin).
    """
    up = name.upper()
    k = int(vectors.shape[0])
    packed = np.ascontiguousarray(vectors).view(np.int8).reshape(k, -1) if k else np.zeros((0, 0), np.int8)
    rows = ",\n".join("{" + ", ".join(str(int(v)) for v in row) + "}" for row in packed) or "{0}"
    return f"""/* Cross-build (QEMU) test runner for {name} (generated). Output through semihosting. */
#include <stdio.h>

#include "{name}.h"
{timing}
#define N_VECTORS {k}
#define N_TIMED {int(iterations)}

static const int8_t vectors[{max(k, 1)}][{up}_INPUT_BYTES] = {{
{rows}
}};

static int8_t out[{up}_OUTPUT_BYTES];

static void one_inference(void)
{{
    (void){name}_invoke_packed(vectors[0], out);
}}

int main(void)
{{
    int32_t v, i;
    if ({name}_init() != {up}_OK) {{
        return 3;
    }}
    for (v = 0; v < N_VECTORS; ++v) {{
        if ({name}_invoke_packed(vectors[v], out) != {up}_OK) {{
            return 4;
        }}
        printf("O ");
        for (i = 0; i < {up}_OUTPUT_BYTES; ++i) {{
            printf("%02x", (unsigned)(uint8_t)out[i]);
        }}
        printf("\\n");
    }}
    printf("E %lu\\n", (unsigned long)ticks_of(nothing));
    printf("C %lu\\n", (unsigned long)ticks_of(calibrate));
    for (v = 0; v < N_TIMED; ++v) {{
        printf("T %lu\\n", (unsigned long)ticks_of(one_inference));
    }}
    return 0;
}}
"""
