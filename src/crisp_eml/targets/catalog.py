"""The device catalog: pure data (clock, RAM, flash, FPU, DSP extension, CPI factor) for each target.

``cpi`` converts an instruction count measured on the emulated Cortex-M4 (QEMU ``mps2-an386``, Thumb-2 with
the DSP extension) into cycles on the target: ``latency = instructions x cpi / clock``. The factors are
documented estimates, not measurements of the target:

* Cortex-M4/M33: 3-stage pipeline; most ALU ops 1 cycle, loads 2 (1 when pipelined), taken branches 2-3,
  ``SMULL`` 1 cycle -> ~1.25 cycles per instruction on these kernels.
* Cortex-M7: dual-issue 6-stage pipeline, but flash wait states and branch misses -> ~0.8.
* Cortex-M0+ / RP2040: Thumb-1 only (no ``SMULL``/``SDIV``/``SSAT``): the 64-bit multiply of the
  requantization becomes a library call and loops need more instructions -> ~2.5 (per M4 instruction).
* ESP32-S3 (Xtensa LX7): a different ISA; ~1.5 per M4 instruction as a rough proxy.
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

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


_M4_NOTE = "3-stage pipeline, loads 1-2 cycles, branches 2-3"
TARGETS: dict[str, Target] = {t.id: t for t in (
    Target("cortex-m0plus-48mhz", "Arm Cortex-M0+ @ 48 MHz (e.g. SAMD21)", "cortex-m0plus", 48_000_000,
           32 * 1024, 256 * 1024, False, False, 2.5, "Thumb-1 only: 64-bit multiply in software"),
    Target("cortex-m4f-80mhz", "Arm Cortex-M4F @ 80 MHz (e.g. STM32L4)", "cortex-m4", 80_000_000,
           128 * 1024, 1024 * 1024, True, True, 1.25, _M4_NOTE),
    Target("cortex-m7-216mhz", "Arm Cortex-M7 @ 216 MHz (e.g. STM32F7)", "cortex-m7", 216_000_000,
           512 * 1024, 2 * 1024 * 1024, True, True, 0.8, "dual issue; flash wait states"),
    Target("cortex-m33-64mhz", "Arm Cortex-M33 @ 64 MHz (e.g. nRF5340 app core at 64 MHz)", "cortex-m33",
           64_000_000, 256 * 1024, 1024 * 1024, True, True, 1.25, _M4_NOTE),
    Target("esp32-s3-240mhz", "Espressif ESP32-S3 (Xtensa LX7) @ 240 MHz", "xtensa-lx7", 240_000_000,
           512 * 1024, 8 * 1024 * 1024, True, False, 1.5, "different ISA: rough proxy"),
    Target("rp2040-133mhz", "Raspberry Pi RP2040 (Cortex-M0+) @ 133 MHz", "cortex-m0plus", 133_000_000,
           264 * 1024, 2 * 1024 * 1024, False, False, 2.5, "Thumb-1 only: 64-bit multiply in software"),
    Target("linux-x86_64", "Linux x86-64 host", "x86-64", 0, 0, 0, True, True, 0.0, "latency measured", "linux"),
    Target("linux-aarch64", "Linux AArch64 host", "aarch64", 0, 0, 0, True, True, 0.0, "latency measured", "linux"),
)}
ALIASES: dict[str, str] = {"cortex-m4": "cortex-m4f-80mhz", "cortex-m4f": "cortex-m4f-80mhz",
                           "cortex-m0plus": "cortex-m0plus-48mhz", "cortex-m7": "cortex-m7-216mhz",
                           "cortex-m33": "cortex-m33-64mhz", "esp32-s3": "esp32-s3-240mhz", "rp2040": "rp2040-133mhz"}


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
