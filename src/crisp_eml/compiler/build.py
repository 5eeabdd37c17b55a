"""Build and run generated libraries: gcc host builds (optionally ASan/UBSan), cross builds for every QEMU
board of ``c/boards.py`` (Cortex-M0/M3/M4/M7/M33/M55, RISC-V rv32) run with semihosting, instructions per call
counted exactly by a QEMU plugin (``insn_plugin``). ``m4_build``/``qemu_run`` are the Cortex-M4 shorthands.
Every external tool missing -> ``ToolMissingError``.
"""

from __future__ import annotations

import re
import shutil
import subprocess
import tempfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from crisp_eml.compiler.c.boards import NO_TIMER, Board, get_board
from crisp_eml.compiler.c.runner import M4_TIMING, host_runner, m4_runner
from crisp_eml.core.errors import InputError, ToolMissingError, VerificationError

WARNINGS = ["-std=c99", "-Wall", "-Wextra", "-Werror", "-pedantic"]
M4_FLAGS = ["-mcpu=cortex-m4", "-mthumb", "-mfloat-abi=hard", "-mfpu=fpv4-sp-d16"]
SANITIZE = ["-fsanitize=address,undefined", "-fno-sanitize-recover=all", "-fno-omit-frame-pointer", "-g"]
QEMU_CMD = ["qemu-system-arm", "-M", "mps2-an386", "-nographic", "-monitor", "none", "-serial", "none",
            "-semihosting-config", "enable=on,target=native", "-icount", "shift=0"]


def tool(name: str) -> str:
    path = shutil.which(name)
    if path is None:
        raise ToolMissingError(f"'{name}' is not installed (needed to build/verify generated C)")
    return path


def _run(cmd: list[str], *, cwd: Path | None = None, timeout: float = 600) -> subprocess.CompletedProcess[str]:
    try:
        return subprocess.run(cmd, cwd=cwd, capture_output=True, text=True, timeout=timeout, check=False)
    except subprocess.TimeoutExpired as exc:
        raise VerificationError(f"'{Path(cmd[0]).name}' timed out after {timeout:.0f} s") from exc


def write_tree(files: dict[str, str], root: Path) -> None:
    for rel, text in files.items():
        p = root / rel
        p.parent.mkdir(parents=True, exist_ok=True)
        p.write_text(text, encoding="utf-8")


def publish_tree(files: dict[str, str], blobs: dict[str, bytes], out_dir: Path) -> None:
    """Write a library (text ``files`` plus binary ``blobs``, by relative path) to ``out_dir`` all at once.

    Everything is written into a hidden sibling folder first and renamed into place only when complete, so a
    failure leaves neither a half-written library nor a damaged previous one at ``out_dir``.
    """
    from crisp_eml.store.outputs import make_dirs, remove_dirs

    created = make_dirs(out_dir.parent, field="output")
    try:
        tmp = Path(tempfile.mkdtemp(prefix=f".{out_dir.name}-", dir=out_dir.parent))
        tmp.chmod(0o755)  # mkdtemp's 0700 would hide the published folder from other users (a web server)
    except OSError as exc:
        remove_dirs(created)
        raise InputError(f"cannot write the library: {exc.strerror or exc}", source=str(out_dir)) from exc
    try:
        write_tree(files, tmp)
        for rel, data in blobs.items():
            p = tmp / rel
            p.parent.mkdir(parents=True, exist_ok=True)
            p.write_bytes(data)
        if out_dir.exists():
            shutil.rmtree(out_dir)
        tmp.rename(out_dir)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise


def library_name(lib_dir: Path) -> str:
    import json

    try:
        manifest = json.loads((lib_dir / "MANIFEST.json").read_text(encoding="utf-8"))
        return str(manifest["name"])
    except (OSError, ValueError, KeyError, TypeError) as exc:
        raise InputError("not a generated library (MANIFEST.json missing or unreadable)", source=str(lib_dir)) from exc


def _sources(lib_dir: Path) -> list[Path]:
    return sorted((lib_dir / "src").glob("*.c"))


def host_build(lib_dir: Path, out_dir: Path, *, sanitize: bool = False, opt: str = "-O3",
               defines: tuple[str, ...] = ()) -> Path:
    """Compile library + host runner with ``-std=c99 -Wall -Wextra -Werror -pedantic``.

    ``defines``: extra ``-D`` macros, e.g. ``("EML_NO_SIMD",)`` for the portable C kernels instead of SSE2.
    """
    cc = tool("gcc")
    name = library_name(lib_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    runner = out_dir / "runner.c"
    runner.write_text(host_runner(name), encoding="utf-8")
    exe = out_dir / ("runner_asan" if sanitize else "runner")
    cmd = [cc, *WARNINGS, opt, *(SANITIZE if sanitize else []), *(f"-D{d}" for d in defines), f"-I{lib_dir / 'src'}",
           *map(str, _sources(lib_dir)), str(runner), "-o", str(exe), "-lm"]
    r = _run(cmd)
    if r.returncode != 0:
        raise VerificationError(f"host build failed:\n{r.stderr.strip()[:4000]}")
    return exe


def host_run(exe: Path, vectors: np.ndarray, out_size: int, *, iterations: int = 0) -> tuple[np.ndarray, float | None]:
    """Run the runner on int8 vectors (K, input_size) -> ((K, out_size) int8, ns per inference or None)."""
    work = exe.parent
    (work / "vectors.bin").write_bytes(np.ascontiguousarray(vectors, np.int8).tobytes())
    cmd = [str(exe), str(work / "vectors.bin"), str(work / "outputs.bin")]
    if iterations:
        cmd.append(str(iterations))
    r = _run(cmd)
    if r.returncode != 0:
        raise VerificationError(f"host runner failed (exit {r.returncode}):\n{(r.stderr or r.stdout).strip()[:4000]}")
    out = np.frombuffer((work / "outputs.bin").read_bytes(), np.int8).reshape(-1, out_size)
    m = re.search(r"ns_per_inference ([0-9.]+)", r.stdout)
    return out, float(m.group(1)) if m else None


@dataclass
class M4Result:
    outputs: np.ndarray
    instructions: list[int]  # per timed inference
    ticks_per_instruction: float
    sizes: dict[str, int]
    method: str = "systick"  # "plugin" (exact count of the <name>_invoke calls) or "systick" (+-40 instructions)
    systick_instructions: list[int] = field(default_factory=list)


HARNESS = "eml_harness"  # the runner's object name; the instruction-count window closes in its functions


def board_build(lib_dir: Path, out_dir: Path, vectors: np.ndarray, *, board: str | Board = "cortex-m4",
                iterations: int = 1, opt: str = "-O2", runner: str | None = None, entry: str | None = None,
                linker: str | None = None) -> Path:
    """Cross-compile library + runner + the board's startup/linker script for a QEMU board (``c/boards.py``).

    ``runner``: the runner's C source; by default the int8 runner with ``vectors`` embedded. ``entry``: the
    library function whose calls the instruction-count plugin measures (default ``<name>_invoke``). ``linker``:
    a linker script instead of the board's (ARM boards; e.g. a library's example for external memory). The library
    is built with the strict warning flags; ``harness.json`` next to the ELF records board and entry for
    :func:`board_run`.
    """
    import json

    b = get_board(board)
    cc = tool(b.cc)
    name = library_name(lib_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    timing = M4_TIMING if b.systick else NO_TIMER
    source = runner if runner is not None else m4_runner(name, vectors, iterations, timing=timing)
    (out_dir / f"{HARNESS}.c").write_text(source, encoding="utf-8")
    link_extra: list[str] = []
    if b.arm:
        (out_dir / "startup.c").write_text(b.startup(), encoding="utf-8")
        (out_dir / "board.ld").write_text(linker if linker is not None else b.linker(), encoding="utf-8")
        link_extra = [f"-T{out_dir / 'board.ld'}", str(out_dir / "startup.c")]
    elf = out_dir / "prog.elf"
    lib_objs = []
    for src in _sources(lib_dir):  # library: strict flags
        obj = out_dir / (src.stem + ".o")
        r = _run([cc, *b.cflags, *WARNINGS, opt, "-ffunction-sections", "-fdata-sections", "-fstack-usage",
                  f"-I{lib_dir / 'src'}", "-c", str(src), "-o", str(obj)])
        if r.returncode != 0:
            raise VerificationError(f"{b.core} build of {src.name} failed:\n{r.stderr.strip()[:4000]}")
        lib_objs.append(str(obj))
    harness = out_dir / f"{HARNESS}.o"
    r = _run([cc, *b.cflags, "-std=gnu99", "-Wall", "-Werror", opt, f"-I{lib_dir / 'src'}",
              "-c", str(out_dir / f"{HARNESS}.c"), "-o", str(harness)])
    if r.returncode != 0:
        raise VerificationError(f"{b.core} build of the test runner failed:\n{r.stderr.strip()[:4000]}")
    r = _run([cc, *b.cflags, "-std=gnu99", "-Wall", "-Werror", opt, *b.link_flags, *link_extra, "-Wl,--gc-sections",
              str(harness), *lib_objs, "-o", str(elf), "-lm"])
    if r.returncode != 0:
        raise VerificationError(f"{b.core} link failed:\n{r.stderr.strip()[:4000]}")
    (out_dir / "harness.json").write_text(json.dumps({"board": b.id, "entry": entry or f"{name}_invoke"}),
                                          encoding="utf-8")
    return elf


def m4_build(lib_dir: Path, out_dir: Path, vectors: np.ndarray, *, iterations: int = 1,
             opt: str = "-O2", runner: str | None = None) -> Path:
    """Cross-compile library + runner + our startup for mps2-an386 (hard-float Cortex-M4): ``board_build``."""
    return board_build(lib_dir, out_dir, vectors, board="cortex-m4", iterations=iterations, opt=opt, runner=runner)


def stack_usage(objs: list[Path]) -> int:
    """Upper bound of the library's stack: the sum of every function frame from gcc ``-fstack-usage``."""
    total = 0
    for obj in objs:
        su = obj.with_suffix(".su")
        if su.is_file():
            for line in su.read_text().splitlines():
                parts = line.split("\t")
                if len(parts) >= 2 and parts[1].isdigit():
                    total += int(parts[1])
    return total


def section_sizes(paths: list[Path], size_tool: str = "arm-none-eabi-size") -> dict[str, int]:
    """text/rodata/data/bss of object files or an ELF, summed by ``size -A`` (RISC-V's small-data .s* too)."""
    size = tool(size_tool)
    out = {"text": 0, "rodata": 0, "data": 0, "bss": 0}
    for p in paths:
        r = _run([size, "-A", str(p)])
        for line in r.stdout.splitlines():
            parts = line.split()
            if len(parts) < 2 or not parts[1].isdigit():
                continue
            sec, n = parts[0], int(parts[1])
            for key in ("rodata", "text", "data", "bss"):
                if sec in (f".{key}", f".s{key}") or sec.startswith((f".{key}.", f".s{key}.")):
                    out[key] += n
                    break
    return out


def _harness(elf: Path) -> dict[str, str]:
    import json

    try:
        return dict(json.loads((elf.parent / "harness.json").read_text(encoding="utf-8")))
    except (OSError, ValueError):
        return {"board": "cortex-m4"}


def qemu_stdout(elf: Path, *, timeout: float = 300, board: str | Board | None = None,
                extra: tuple[str, ...] = ()) -> str:
    """Run ``elf`` on its QEMU board with semihosting; its standard output (a non-zero exit is an error).

    ``extra``: more QEMU arguments (the plugin); its stderr is appended after a ``--stderr--`` line then.
    """
    b = get_board(board or _harness(elf)["board"])
    qemu = tool(b.qemu)
    r = _run([qemu, *b.qemu_cmd()[1:], *extra, "-kernel", str(elf)], timeout=timeout)
    if r.returncode != 0:
        raise VerificationError(f"QEMU {b.machine} run failed (exit {r.returncode}):\n"
                                f"{(r.stdout + r.stderr).strip()[:4000]}")
    return r.stdout + ("\n--stderr--\n" + r.stderr if extra else "")


def function_ranges(elf: Path, obj: Path, nm: str = "arm-none-eabi-nm") -> tuple[dict[str, int], list[tuple[int, int]],
                                                                              set[str]]:
    """Function addresses of ``elf`` (Thumb bit cleared), the address ranges of the functions ``obj`` defines
    and the symbols ``obj`` calls (undefined there)."""
    tool_nm = tool(nm)
    own, calls = set(), set()
    for ln in _run([tool_nm, str(obj)]).stdout.splitlines():
        parts = ln.split()
        if len(parts) == 3 and parts[1] in "tT":
            own.add(parts[2])
        elif len(parts) == 2 and parts[0] == "U":
            calls.add(parts[1])
    addrs: dict[str, int] = {}
    ranges = []
    for ln in _run([tool_nm, "-S", str(elf)]).stdout.splitlines():
        parts = ln.split()
        if len(parts) == 4 and parts[2] in "tT":
            addr, size, sym = int(parts[0], 16) & ~1, int(parts[1], 16), parts[3]
            addrs.setdefault(sym, addr)
            if sym in own:
                ranges.append((addr, addr + size))
    return addrs, ranges, calls


def _entry(meta: dict[str, str], addrs: dict[str, int], calls: set[str]) -> int | None:
    """Address of the measured function: the entry itself, or what the runner calls for it (``<entry>_packed``
    when the header maps the entry to a packed variant by a macro or an inline wrapper)."""
    entry = meta.get("entry", "")
    names = [entry] if entry in calls else sorted(c for c in calls if entry and c.startswith(entry))
    return addrs.get(names[0]) if len(names) == 1 else None


def board_run(elf: Path, out_size: int, *, board: str | Board | None = None, timeout: float = 300,
              count: bool = True) -> M4Result:
    """Run a :func:`board_build` ELF: outputs, and instructions per timed call of the entry function.

    The count comes from the instruction-count plugin's windows (exact; every call of the entry, the last
    ``iterations`` of them are the timed ones); SysTick is kept alongside on M-profile boards
    (``systick_instructions``) and is the count when the plugin cannot run (``method`` says which).
    """
    from crisp_eml.compiler import insn_plugin

    meta = _harness(elf)
    b = get_board(board or meta["board"])
    extra: tuple[str, ...] = ()
    if count:
        try:
            so = insn_plugin.build_plugin(elf.parent / "plugin")
            addrs, ranges, calls = function_ranges(elf, elf.parent / f"{HARNESS}.o", b.nm)
            on = _entry(meta, addrs, calls)
            if on is not None and ranges:
                extra = tuple(insn_plugin.plugin_args(so, on=on, off=ranges))
        except ToolMissingError:
            extra = ()
    stdout = qemu_stdout(elf, timeout=timeout, board=b, extra=extra)
    outs = [bytes.fromhex(line[2:].strip()) for line in stdout.splitlines() if line.startswith("O ")]
    arr = np.array([np.frombuffer(o, np.int8) for o in outs], np.int8).reshape(-1, out_size)
    ticks, tpi = instructions(stdout) if b.systick else ([], 0.0)
    n_timed = len([ln for ln in stdout.splitlines() if ln.startswith("T ")])
    windows = insn_plugin.windows(stdout)
    if extra and n_timed and len(windows) >= n_timed:
        return M4Result(arr, windows[-n_timed:], tpi, {}, "plugin", ticks)
    return M4Result(arr, ticks, tpi, {}, "systick", ticks)


def run_board(lib_dir: Path, vectors: np.ndarray, wdir: Path, *, board: str | Board, iterations: int = 1,
              opt: str = "-O2") -> dict[str, Any]:
    """Build + run on a QEMU board: outputs, instructions per inference, library section sizes and stack bound."""
    import json

    b = get_board(board)
    manifest = json.loads((lib_dir / "MANIFEST.json").read_text(encoding="utf-8"))
    # bytes of one packed output row (all outputs, int8/int16 codes), as the runner prints them
    n_out = int(manifest.get("output_bytes") or np.prod(manifest["outputs"][0]["shape"]))
    elf = board_build(lib_dir, wdir, vectors, board=board, iterations=iterations, opt=opt)
    res = board_run(elf, n_out, board=b)
    lib_objs = [wdir / (p.stem + ".o") for p in _sources(lib_dir)]
    sizes = section_sizes(lib_objs, b.size_tool)
    instr = res.instructions
    return {"outputs": res.outputs, "instructions_per_inference": int(np.median(instr)) if instr else None,
            "count_method": res.method, "systick_instructions": res.systick_instructions,
            "ticks_per_instruction": res.ticks_per_instruction, "sizes": sizes, "board": b.id,
            "machine": b.machine, "elf_sizes": section_sizes([elf], b.size_tool),
            "flash_bytes": sizes["text"] + sizes["rodata"] + sizes["data"],
            "static_ram_bytes": sizes["data"] + sizes["bss"], "stack_bytes_max": stack_usage(lib_objs)}


def instructions(stdout: str) -> tuple[list[int], float]:
    """Instructions per timed call ('T' lines) and SysTick ticks per instruction, from the runner's 'E'/'C'."""
    empty = _ticks(stdout, "E")[0]
    calib = _ticks(stdout, "C")[0] - empty
    # the calibration loop runs 2 x 100000 instructions (+ 3 set-up instructions)
    tpi = calib / 200003.0 if calib > 0 else 0.0
    return [round((t - empty) / tpi) if tpi else 0 for t in _ticks(stdout, "T")], tpi


def qemu_run(elf: Path, out_size: int, *, timeout: float = 300) -> M4Result:
    """Run an ``m4_build`` ELF (any ``board_build`` ELF): ``board_run``."""
    return board_run(elf, out_size, timeout=timeout)


def _ticks(stdout: str, tag: str) -> list[int]:
    return [int(line.split()[1]) for line in stdout.splitlines() if line.startswith(tag + " ")] or [0]
