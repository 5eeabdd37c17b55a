"""The device catalog: pure data (clock, RAM, flash, FPU, DSP extension, CPI factor, QEMU board) for each target.

``board`` names the QEMU board of ``compiler/c/boards.py`` whose core runs the target's instruction set: the
library is built for it (its ``-mcpu``) and its instructions per inference are **measured** there (exact, QEMU
instruction-count plugin); ``count`` says "measured". A target without such a board (ESP32-S3: Xtensa) gets the
Cortex-M4 count as a proxy, ``count`` "estimated". The Cortex-M0+ (ARMv6-M) runs the same instructions as the
Cortex-M0 of QEMU's micro:bit, so its count is measured there. ``cpi`` then converts the count into cycles on
the target (``latency = instructions x cpi / clock``); the factors are documented estimates, not measurements:

* Cortex-M4/M33: 3-stage pipeline; most ALU ops 1 cycle, loads 2 (1 when pipelined), taken branches 2-3,
  ``SMULL`` 1 cycle -> ~1.25 cycles per instruction on these kernels.
* Cortex-M7: dual-issue 6-stage pipeline, but flash wait states and branch misses -> ~0.8.
* Cortex-M0+ / RP2040: 2-stage pipeline, loads 2 cycles, taken branches 2, single-cycle multiplier -> ~1.4
  cycles per (measured ARMv6-M) instruction.
* Cortex-M3: like the M4 without DSP -> ~1.25. Cortex-M55: 4-stage, limited dual issue -> ~1.0.
* ESP32-C3 (RV32IMC): 4-stage in-order, loads 1-2 cycles, flash cache -> ~1.2 per (measured rv32) instruction.
* ESP32-S3 (Xtensa LX7): a different ISA; ~1.5 per M4 instruction as a rough proxy (count estimated).
* Linux hosts: latency is measured by running the host build instead (``cpi`` unused, 0).
"""

from __future__ import annotations

import difflib
from dataclasses import asdict, dataclass
from typing import Any

from crisp_eml.core.errors import InputError


@dataclass(frozen=True)
class Target:
    id: str
    name: str
    core: str
    clock_hz: int
    ram_bytes: int
    flash_bytes: int
    fpu: bool
    dsp_extension: bool
    cpi: float
    cpi_note: str
    kind: str = "mcu"  # "mcu" or "linux"
    board: str | None = None  # QEMU board (compiler/c/boards.py) the instruction count is measured on
    count: str = "measured"  # "measured" (on ``board``), "estimated" (Cortex-M4 count as a proxy), "host" (linux)

    def to_dict(self) -> dict[str, Any]:
        return {**asdict(self), "instruction_count": self.count_source()}

    def count_source(self) -> str:
        """Where the instruction count behind the latency comes from, in words."""
        from crisp_eml.compiler.c.boards import BOARDS

        board = BOARDS.get(self.board or "")
        if self.count == "measured" and board is not None:
            return f"measured on QEMU {board.machine} ({board.core})"
        if board is not None:
            return f"estimated (CPI x {board.core} count)"
        return "host timing"


_M4_NOTE = "3-stage pipeline, loads 1-2 cycles, branches 2-3"
_M0_NOTE = "2-stage pipeline, loads 2 cycles, branches 2 (ARMv6-M count measured on the Cortex-M0)"
TARGETS: dict[str, Target] = {t.id: t for t in (
    Target("cortex-m0plus-48mhz", "Arm Cortex-M0+ @ 48 MHz (e.g. SAMD21)", "cortex-m0plus", 48_000_000,
           32 * 1024, 256 * 1024, False, False, 1.4, _M0_NOTE, board="cortex-m0"),
    Target("cortex-m3-72mhz", "Arm Cortex-M3 @ 72 MHz (e.g. STM32F103)", "cortex-m3", 72_000_000,
           20 * 1024, 128 * 1024, False, False, 1.25, _M4_NOTE, board="cortex-m3"),
    Target("cortex-m4f-80mhz", "Arm Cortex-M4F @ 80 MHz (e.g. STM32L4)", "cortex-m4", 80_000_000,
           128 * 1024, 1024 * 1024, True, True, 1.25, _M4_NOTE, board="cortex-m4"),
    Target("cortex-m7-216mhz", "Arm Cortex-M7 @ 216 MHz (e.g. STM32F7)", "cortex-m7", 216_000_000,
           512 * 1024, 2 * 1024 * 1024, True, True, 0.8, "dual issue; flash wait states", board="cortex-m7"),
    Target("cortex-m33-64mhz", "Arm Cortex-M33 @ 64 MHz (e.g. nRF5340 app core at 64 MHz)", "cortex-m33",
           64_000_000, 256 * 1024, 1024 * 1024, True, True, 1.25, _M4_NOTE, board="cortex-m33"),
    Target("cortex-m55-160mhz", "Arm Cortex-M55 (Helium) @ 160 MHz (e.g. Alif Ensemble E3 HE core)", "cortex-m55",
           160_000_000, 256 * 1024, 2 * 1024 * 1024, True, True, 1.0, "4-stage, limited dual issue",
           board="cortex-m55"),
    Target("esp32-c3-160mhz", "Espressif ESP32-C3 (RISC-V RV32IMC) @ 160 MHz", "riscv32", 160_000_000,
           400 * 1024, 4 * 1024 * 1024, False, False, 1.2, "4-stage in-order; rv32imac count measured",
           board="riscv32"),
    Target("esp32-s3-240mhz", "Espressif ESP32-S3 (Xtensa LX7) @ 240 MHz", "xtensa-lx7", 240_000_000,
           512 * 1024, 8 * 1024 * 1024, True, False, 1.5, "different ISA: rough proxy", board="cortex-m4",
           count="estimated"),
    Target("rp2040-133mhz", "Raspberry Pi RP2040 (Cortex-M0+) @ 133 MHz", "cortex-m0plus", 133_000_000,
           264 * 1024, 2 * 1024 * 1024, False, False, 1.4, _M0_NOTE, board="cortex-m0"),
    Target("linux-x86_64", "Linux x86-64 host", "x86-64", 0, 0, 0, True, True, 0.0, "latency measured", "linux",
           count="host"),
    Target("linux-aarch64", "Linux AArch64 host", "aarch64", 0, 0, 0, True, True, 0.0, "latency measured", "linux",
           count="host"),
)}
ALIASES: dict[str, str] = {"cortex-m4": "cortex-m4f-80mhz", "cortex-m4f": "cortex-m4f-80mhz",
                           "cortex-m0plus": "cortex-m0plus-48mhz", "cortex-m7": "cortex-m7-216mhz",
                           "cortex-m33": "cortex-m33-64mhz", "cortex-m3": "cortex-m3-72mhz",
                           "cortex-m55": "cortex-m55-160mhz", "esp32-c3": "esp32-c3-160mhz",
                           "esp32-s3": "esp32-s3-240mhz", "rp2040": "rp2040-133mhz"}


def get_target(target_id: str) -> Target:
    """The catalog entry for an id or alias (``cortex-m4``).

    Target names come from users (``--target``, ``target=`` requirements), so an unknown one is an
    :class:`InputError` on field ``target`` that suggests close matches and says how to list the catalog.
    """
    key = ALIASES.get(target_id, target_id)
    if key not in TARGETS:
        raise InputError(unknown_target_reason(target_id), field="target")
    return TARGETS[key]


def unknown_target_reason(target_id: str) -> str:
    """Why ``target_id`` is refused: close matches among ids and aliases (``linux``, ``cortex-m44``), else the ids."""
    typed, names = str(target_id).strip().lower(), [*ALIASES, *TARGETS]
    close = [n for n in names if len(typed) >= 2 and typed in n]
    close += [n for n in difflib.get_close_matches(typed, names, n=3, cutoff=0.6) if n not in close]
    close = close[:3]
    hint = f"did you mean {' or '.join(repr(c) for c in close)}?" if close else f"known: {', '.join(TARGETS)}"
    return f"unknown target device {target_id!r}; {hint} ('eml targets' lists them)"
