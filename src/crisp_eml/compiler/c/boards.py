"""The emulated boards a generated library is cross-built for and run on (test harness, not part of the library).

One :class:`Board` per core QEMU emulates here: its QEMU machine, compiler flags, memory map, and the startup
code and linker script that go with the runner (``c/runner.py``'s ``m4_runner`` body, shared by every board).
Instruction counts come from the TCG plugin in ``compiler/insn_plugin.py`` (exact, any core); SysTick under
``-icount shift=0`` is a second measure on the M-profile boards (40-instruction resolution on the 25 MHz MPS2
clocks). Pure data and text generation.

Memory maps (QEMU 7.2): MPS2 AN385/AN386/AN500: 4 MB SSRAM1 at 0 (code, vectors), 4 MB at 0x20000000 (data).
micro:bit (nRF51822): 256 KB flash at 0, 16 KB RAM at 0x20000000. AN505 (SSE-200, Cortex-M33, boots secure
with VTOR_S = 0x10000000): code in the secure alias of SSRAM1 (0x10000000), data in the secure alias of
SSRAM2/3 (0x38000000). AN547 (SSE-300, Cortex-M55 with MVE): code in ITCM (512 KB, secure alias 0x10000000),
data in DTCM (512 KB, secure alias 0x30000000). RISC-V: ``virt`` with ``-bios none`` starts at 0x80000000
(RAM); picolibc's crt0 and linker script, semihosting for output.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from crisp_eml.core.errors import InputError


@dataclass(frozen=True)
class Board:
    id: str  # the core, as ``eml verify --target`` names it
    core: str
    qemu: str  # QEMU binary
    machine: str
    cflags: tuple[str, ...]
    flash: tuple[int, int]  # origin, length
    ram: tuple[int, int]
    dsp: bool  # the kernels' __ARM_FEATURE_DSP paths apply
    note: str
    cc: str = "arm-none-eabi-gcc"
    size_tool: str = "arm-none-eabi-size"
    nm: str = "arm-none-eabi-nm"
    systick: bool = True  # the M-profile SysTick timer exists (runner timing); False: plugin count only
    qemu_extra: tuple[str, ...] = ()
    link_flags: tuple[str, ...] = field(default=("--specs=rdimon.specs",))

    @property
    def arm(self) -> bool:
        return self.cc.startswith("arm-")

    def qemu_cmd(self) -> list[str]:
        return [self.qemu, "-M", self.machine, *self.qemu_extra, "-nographic", "-monitor", "none", "-serial", "none",
                "-semihosting-config", "enable=on,target=native", "-icount", "shift=0"]

    def startup(self) -> str:
        return ARM_STARTUP if self.arm else ""

    def linker(self) -> str:
        if not self.arm:
            return ""
        return ARM_LINKER.format(board=self.machine, core=self.core, flash_org=self.flash[0], flash_len=self.flash[1],
                                 ram_org=self.ram[0], ram_len=self.ram[1])

    def to_dict(self) -> dict[str, object]:
        return {"id": self.id, "core": self.core, "qemu": f"{self.qemu} -M {self.machine}", "cflags": list(self.cflags),
                "flash": [hex(self.flash[0]), self.flash[1]], "ram": [hex(self.ram[0]), self.ram[1]],
                "dsp": self.dsp, "note": self.note}


_MB, _KB = 1024 * 1024, 1024
BOARDS: dict[str, Board] = {b.id: b for b in (
    Board("cortex-m0", "Cortex-M0", "qemu-system-arm", "microbit", ("-mcpu=cortex-m0", "-mthumb", "-mfloat-abi=soft"),
          (0x0, 256 * _KB), (0x20000000, 16 * _KB), False, "nRF51 (micro:bit): ARMv6-M, Thumb-1, no DSP"),
    Board("cortex-m3", "Cortex-M3", "qemu-system-arm", "mps2-an385", ("-mcpu=cortex-m3", "-mthumb", "-mfloat-abi=soft"),
          (0x0, 4 * _MB), (0x20000000, 4 * _MB), False, "ARMv7-M, no DSP extension"),
    Board("cortex-m4", "Cortex-M4F", "qemu-system-arm", "mps2-an386",
          ("-mcpu=cortex-m4", "-mthumb", "-mfloat-abi=hard", "-mfpu=fpv4-sp-d16"),
          (0x0, 4 * _MB), (0x20000000, 4 * _MB), True, "ARMv7E-M with DSP (SMLAD) and single-precision FPU"),
    Board("cortex-m7", "Cortex-M7", "qemu-system-arm", "mps2-an500",
          ("-mcpu=cortex-m7", "-mthumb", "-mfloat-abi=hard", "-mfpu=fpv5-d16"),
          (0x0, 4 * _MB), (0x20000000, 4 * _MB), True, "ARMv7E-M with DSP, double-precision FPU"),
    Board("cortex-m33", "Cortex-M33", "qemu-system-arm", "mps2-an505",
          ("-mcpu=cortex-m33", "-mthumb", "-mfloat-abi=hard", "-mfpu=fpv5-sp-d16"),
          (0x10000000, 4 * _MB), (0x38000000, 4 * _MB), True, "ARMv8-M Mainline with DSP, runs in the secure state"),
    Board("cortex-m55", "Cortex-M55", "qemu-system-arm", "mps3-an547",
          ("-mcpu=cortex-m55", "-mthumb", "-mfloat-abi=hard"),
          (0x10000000, 512 * _KB), (0x30000000, 512 * _KB), True,
          "ARMv8.1-M with DSP and Helium (MVE; gcc may auto-vectorise), secure state"),
    Board("riscv32", "RV32IMAC", "qemu-system-riscv32", "virt",
          ("-march=rv32imac", "-mabi=ilp32", "--specs=picolibc.specs"),
          (0x80000000, 4 * _MB), (0x80400000, 4 * _MB), False, "rv32imac, picolibc + semihosting, no SysTick",
          cc="riscv64-unknown-elf-gcc", size_tool="riscv64-unknown-elf-size", nm="riscv64-unknown-elf-nm",
          systick=False, qemu_extra=("-bios", "none"),
          link_flags=("--oslib=semihost", "--crt0=semihost", "-Wl,--defsym=__flash=0x80000000",
                      "-Wl,--defsym=__flash_size=0x400000", "-Wl,--defsym=__ram=0x80400000",
                      "-Wl,--defsym=__ram_size=0x400000", "-Wl,--defsym=__stack_size=0x4000")),
)}


def get_board(board_id: str | Board) -> Board:
    """The board of an id (``cortex-m0``...); a :class:`Board` is returned as is (a variant built by a caller)."""
    if isinstance(board_id, Board):
        return board_id
    if board_id not in BOARDS:
        raise InputError(f"unknown board/core {board_id!r}; known: {', '.join(BOARDS)}", field="target")
    return BOARDS[board_id]


# Timing for boards without SysTick (RISC-V): the runner's lines keep their shape, the count comes from the plugin.
NO_TIMER = """
static uint32_t ticks_of(void (*fn)(void))
{
    fn();
    return 0u;
}

static void nothing(void)
{
}

static void calibrate(void)
{
}
"""

ARM_STARTUP = """/* Minimal Cortex-M startup for QEMU (crisp-eml test harness), every M-profile board.
 * Vector table at the start of code (VTOR's reset value): initial stack pointer and reset handler; the reset
 * handler enables the FPU/MVE when the core has one and jumps to newlib's _start (rdimon crt0: zeroes .bss,
 * initialises semihosting, calls main, exits). ARMv8-M boards boot in the secure state and stay there. */
#include <stdint.h>

extern uint32_t __stack_top;
extern void _start(void);
void eml_reset_handler(void);
void eml_fault_handler(void);

__attribute__((section(".isr_vector"), used))
const void *const eml_vectors[16] = {
    (const void *)&__stack_top,
    (const void *)eml_reset_handler,
    (const void *)eml_fault_handler, /* NMI */
    (const void *)eml_fault_handler, /* HardFault */
    (const void *)eml_fault_handler, /* MemManage */
    (const void *)eml_fault_handler, /* BusFault */
    (const void *)eml_fault_handler, /* UsageFault */
    (const void *)eml_fault_handler, /* SecureFault (ARMv8-M) */
    0, 0, 0,
    (const void *)eml_fault_handler, /* SVC */
    (const void *)eml_fault_handler, /* DebugMon */
    0,
    (const void *)eml_fault_handler, /* PendSV */
    (const void *)eml_fault_handler, /* SysTick */
};

void eml_reset_handler(void)
{
#if defined(__ARM_FP) || defined(__ARM_FEATURE_MVE)
    /* CPACR: full access to CP10/CP11 (the FPU, and MVE on ARMv8.1-M) */
    *(volatile uint32_t *)0xE000ED88u |= (0xFu << 20);
    __asm volatile("dsb\\n isb");
#endif
    _start();
    for (;;) {
    }
}

void eml_fault_handler(void)
{
    /* semihosting SYS_EXIT with ADP_Stopped_RunTimeErrorUnknown: QEMU exits non-zero */
    __asm volatile("movs r0, #0x18\\n ldr r1, =0x20023\\n bkpt 0xab");
    for (;;) {
    }
}
"""

# QEMU loads every ELF segment at its address, so .data needs no copy from flash here.
ARM_LINKER = """/* Linker script for QEMU {board} ({core}), crisp-eml test harness. */
MEMORY
{{
    FLASH (rx) : ORIGIN = {flash_org:#010x}, LENGTH = {flash_len}
    RAM (rwx)  : ORIGIN = {ram_org:#010x}, LENGTH = {ram_len}
}}
ENTRY(eml_reset_handler)
SECTIONS
{{
    .isr_vector : {{ KEEP(*(.isr_vector)) }} > FLASH
    .text : {{ *(.text*) KEEP(*(.init)) KEEP(*(.fini)) *(.glue_7) *(.glue_7t) *(.eh_frame*) }} > FLASH
    .rodata : {{ *(.rodata*) }} > FLASH
    .ARM.extab : {{ *(.ARM.extab* .gnu.linkonce.armextab.*) }} > FLASH
    .ARM.exidx : {{ __exidx_start = .; *(.ARM.exidx* .gnu.linkonce.armexidx.*) __exidx_end = .; }} > FLASH
    .preinit_array : {{
        PROVIDE_HIDDEN(__preinit_array_start = .); KEEP(*(.preinit_array)) PROVIDE_HIDDEN(__preinit_array_end = .);
    }} > FLASH
    .init_array : {{
        PROVIDE_HIDDEN(__init_array_start = .); KEEP(*(SORT(.init_array.*))) KEEP(*(.init_array))
        PROVIDE_HIDDEN(__init_array_end = .);
    }} > FLASH
    .fini_array : {{
        PROVIDE_HIDDEN(__fini_array_start = .); KEEP(*(.fini_array)) PROVIDE_HIDDEN(__fini_array_end = .);
    }} > FLASH
    .data : {{ *(.data*) }} > RAM
    .bss (NOLOAD) : {{ __bss_start__ = .; *(.bss*) *(COMMON) . = ALIGN(4); __bss_end__ = .; }} > RAM
    . = ALIGN(8);
    end = .;
    PROVIDE(_end = .);
    PROVIDE(__end__ = .);
    __stack_top = ORIGIN(RAM) + LENGTH(RAM);
    PROVIDE(__stack = __stack_top);
}}
"""
