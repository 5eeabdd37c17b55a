"""An instruction-counting QEMU TCG plugin, built on demand with the host gcc (Debian packages no plugin).

Two modes in one ~60-line C source:

* **total** (no arguments): every executed guest instruction, one inline add per translation block; printed as
  ``insns: N`` at exit. ``benchmarks/neon.py`` uses it (per inference = count(N) - count(0), over N).
* **window** (``on=ADDR,off=LO:HI,off=...``): counting starts when a translation block starting at ``ADDR``
  runs (the entry of ``<name>_invoke``) and stops when a block starting in one of the ``[LO, HI)`` ranges runs
  (the test runner's own functions, where every call of the library returns to). Each window's count is printed as
  ``window: N`` at exit: the exact number of instructions of one ``<name>_invoke`` call, the library's
  callees (libgcc, memcpy) included, the runner's call overhead excluded. Exact because a call target and a
  return address always start a translation block, and nothing in a library call runs runner code.

The declarations it needs from ``qemu-plugin.h`` (plugin API version 1, QEMU 7.x) are spelled out here.
"""

from __future__ import annotations

import re
import shutil
import subprocess
from pathlib import Path

from crisp_eml.core.errors import ToolMissingError

PLUGIN_C = r"""
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
typedef uint64_t qemu_plugin_id_t;
struct qemu_plugin_tb;
struct qemu_info_t;
enum qemu_plugin_op { QEMU_PLUGIN_INLINE_ADD_U64 };
enum qemu_plugin_cb_flags { QEMU_PLUGIN_CB_NO_REGS, QEMU_PLUGIN_CB_R_REGS, QEMU_PLUGIN_CB_RW_REGS };
void qemu_plugin_register_vcpu_tb_trans_cb(qemu_plugin_id_t, void (*)(qemu_plugin_id_t, struct qemu_plugin_tb *));
void qemu_plugin_register_vcpu_tb_exec_inline(struct qemu_plugin_tb *, enum qemu_plugin_op, void *, uint64_t);
void qemu_plugin_register_vcpu_tb_exec_cb(struct qemu_plugin_tb *, void (*)(unsigned int, void *),
                                          enum qemu_plugin_cb_flags, void *);
size_t qemu_plugin_tb_n_insns(const struct qemu_plugin_tb *);
uint64_t qemu_plugin_tb_vaddr(const struct qemu_plugin_tb *);
void qemu_plugin_register_atexit_cb(qemu_plugin_id_t, void (*)(qemu_plugin_id_t, void *), void *);
__attribute__((visibility("default"))) int qemu_plugin_version = 1;
#define MAX_WINDOWS 4096
#define MAX_RANGES 64
static uint64_t count, on_addr, off_lo[MAX_RANGES], off_hi[MAX_RANGES], windows[MAX_WINDOWS];
static int windowed, counting, n_windows, n_ranges;
static int in_off(uint64_t pc)
{
    int i;
    for (i = 0; i < n_ranges; ++i) {
        if (pc >= off_lo[i] && pc < off_hi[i]) {
            return 1;
        }
    }
    return 0;
}
/* userdata of a block: its instruction count, bit 30 = starts at ADDR, bit 29 = starts in the off range */
static void tb_exec(unsigned int vcpu, void *udata)
{
    uintptr_t u = (uintptr_t)udata;
    (void)vcpu;
    if (u & (1u << 29)) {
        if (counting && n_windows < MAX_WINDOWS) {
            windows[n_windows++] = count;
        }
        counting = 0;
        return;
    }
    if (u & (1u << 30)) {
        if (!counting) {
            count = 0;
        }
        counting = 1;
    }
    if (counting) {
        count += u & 0xFFFFFFu;
    }
}
static void tb_trans(qemu_plugin_id_t id, struct qemu_plugin_tb *tb)
{
    uint64_t pc = qemu_plugin_tb_vaddr(tb);
    uintptr_t u = qemu_plugin_tb_n_insns(tb);
    (void)id;
    if (!windowed) {
        qemu_plugin_register_vcpu_tb_exec_inline(tb, QEMU_PLUGIN_INLINE_ADD_U64, &count, u);
        return;
    }
    if (pc == on_addr) {
        u |= 1u << 30;
    } else if (in_off(pc)) {
        u |= 1u << 29;
    }
    qemu_plugin_register_vcpu_tb_exec_cb(tb, tb_exec, QEMU_PLUGIN_CB_NO_REGS, (void *)u);
}
static void at_exit(qemu_plugin_id_t id, void *p)
{
    int i;
    (void)id;
    (void)p;
    if (!windowed) {
        fprintf(stderr, "insns: %llu\n", (unsigned long long)count);
    }
    for (i = 0; i < n_windows; ++i) {
        fprintf(stderr, "window: %llu\n", (unsigned long long)windows[i]);
    }
}
__attribute__((visibility("default"))) int qemu_plugin_install(qemu_plugin_id_t id, const struct qemu_info_t *info,
                                                               int argc, char **argv)
{
    int i;
    (void)info;
    for (i = 0; i < argc; ++i) {
        const char *eq = strchr(argv[i], '=');
        uint64_t v = eq ? strtoull(eq + 1, NULL, 0) : 0;
        if (strncmp(argv[i], "on=", 3) == 0) {
            on_addr = v;
            windowed = 1;
        } else if (strncmp(argv[i], "off=", 4) == 0 && n_ranges < MAX_RANGES) {
            char *end;
            off_lo[n_ranges] = strtoull(argv[i] + 4, &end, 0);
            off_hi[n_ranges] = *end == ':' ? strtoull(end + 1, NULL, 0) : 0;
            ++n_ranges;
        }
    }
    qemu_plugin_register_vcpu_tb_trans_cb(id, tb_trans);
    qemu_plugin_register_atexit_cb(id, at_exit, NULL);
    return 0;
}
"""


def build_plugin(work: Path) -> Path:
    """Compile the plugin into ``work/libinsn.so`` with the host gcc (``ToolMissingError`` without one)."""
    gcc = shutil.which("gcc")
    if gcc is None:
        raise ToolMissingError("'gcc' is not installed (needed to build the QEMU instruction-count plugin)")
    work.mkdir(parents=True, exist_ok=True)
    so = work / "libinsn.so"
    (work / "insn.c").write_text(PLUGIN_C, encoding="utf-8")
    r = subprocess.run([gcc, "-shared", "-fPIC", "-O2", "-Wall", "-fvisibility=hidden", str(work / "insn.c"),
                        "-o", str(so)], capture_output=True, text=True, check=False)
    if r.returncode != 0:
        raise ToolMissingError(f"cannot build the QEMU instruction-count plugin:\n{r.stderr.strip()[:2000]}")
    return so


def plugin_args(so: Path, *, on: int | None = None, off: list[tuple[int, int]] | None = None) -> list[str]:
    """QEMU ``-plugin`` arguments: total mode, or window mode from entry ``on`` until a block in an ``off`` range."""
    spec = str(so)
    if on is not None:
        spec += f",on={on:#x}" + "".join(f",off={lo:#x}:{hi:#x}" for lo, hi in off or [])
    return ["-plugin", spec]


def total(output: str) -> int | None:
    """The total-mode count from QEMU's output, or None when the plugin printed none."""
    m = re.search(r"insns: (\d+)", output)
    return int(m.group(1)) if m else None


def windows(output: str) -> list[int]:
    """The window-mode counts from QEMU's output, in execution order."""
    return [int(x) for x in re.findall(r"window: (\d+)", output)]
