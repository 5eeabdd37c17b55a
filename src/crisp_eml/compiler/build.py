"""Build and run generated libraries: gcc host builds (optionally ASan/UBSan), arm-none-eabi-gcc Cortex-M4
builds and QEMU ``mps2-an386`` runs with semihosting. Every external tool missing -> ``ToolMissingError``.
"""

from __future__ import annotations

import re
import shutil
import subprocess
import tempfile
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from crisp_eml.compiler.c.runner import M4_LINKER, M4_STARTUP, host_runner, m4_runner
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


def m4_build(lib_dir: Path, out_dir: Path, vectors: np.ndarray, *, iterations: int = 1,
             opt: str = "-O2", runner: str | None = None) -> Path:
    """Cross-compile library + runner + our startup for mps2-an386 (hard-float Cortex-M4).

    ``runner``: the runner's C source; by default the int8 runner with ``vectors`` embedded.
    """
    cc = tool("arm-none-eabi-gcc")
    name = library_name(lib_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    source = runner if runner is not None else m4_runner(name, vectors, iterations)
    (out_dir / "m4_runner.c").write_text(source, encoding="utf-8")
    (out_dir / "startup.c").write_text(M4_STARTUP, encoding="utf-8")
    (out_dir / "mps2_an386.ld").write_text(M4_LINKER, encoding="utf-8")
    elf = out_dir / "prog.elf"
    lib_objs = []
    for src in _sources(lib_dir):  # library: strict flags
        obj = out_dir / (src.stem + ".o")
        r = _run([cc, *M4_FLAGS, *WARNINGS, opt, "-ffunction-sections", "-fdata-sections", "-fstack-usage",
                  f"-I{lib_dir / 'src'}", "-c", str(src), "-o", str(obj)])
        if r.returncode != 0:
            raise VerificationError(f"Cortex-M4 build of {src.name} failed:\n{r.stderr.strip()[:4000]}")
        lib_objs.append(str(obj))
    r = _run([cc, *M4_FLAGS, "-std=gnu99", "-Wall", "-Werror", opt, "--specs=rdimon.specs",
              f"-T{out_dir / 'mps2_an386.ld'}", "-Wl,--gc-sections", f"-I{lib_dir / 'src'}",
              str(out_dir / "startup.c"), str(out_dir / "m4_runner.c"), *lib_objs, "-o", str(elf), "-lm"])
    if r.returncode != 0:
        raise VerificationError(f"Cortex-M4 link failed:\n{r.stderr.strip()[:4000]}")
    return elf


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


def section_sizes(paths: list[Path]) -> dict[str, int]:
    """text/rodata/data/bss of object files or an ELF, summed by ``arm-none-eabi-size -A``."""
    size = tool("arm-none-eabi-size")
    out = {"text": 0, "rodata": 0, "data": 0, "bss": 0}
    for p in paths:
        r = _run([size, "-A", str(p)])
        for line in r.stdout.splitlines():
            parts = line.split()
            if len(parts) < 2 or not parts[1].isdigit():
                continue
            sec, n = parts[0], int(parts[1])
            for key in ("rodata", "text", "data", "bss"):
                if sec == f".{key}" or sec.startswith(f".{key}."):
                    out[key] += n
                    break
    return out


def qemu_stdout(elf: Path, *, timeout: float = 300) -> str:
    """Run ``elf`` on QEMU mps2-an386 with semihosting; its standard output (a non-zero exit is an error)."""
    qemu = tool("qemu-system-arm")
    r = _run([qemu, *QEMU_CMD[1:], "-kernel", str(elf)], timeout=timeout)
    if r.returncode != 0:
        raise VerificationError(f"QEMU run failed (exit {r.returncode}):\n{(r.stdout + r.stderr).strip()[:4000]}")
    return r.stdout


def instructions(stdout: str) -> tuple[list[int], float]:
    """Instructions per timed call ('T' lines) and SysTick ticks per instruction, from the runner's 'E'/'C'."""
    empty = _ticks(stdout, "E")[0]
    calib = _ticks(stdout, "C")[0] - empty
    # the calibration loop runs 2 x 100000 instructions (+ 3 set-up instructions)
    tpi = calib / 200003.0 if calib > 0 else 0.0
    return [round((t - empty) / tpi) if tpi else 0 for t in _ticks(stdout, "T")], tpi


def qemu_run(elf: Path, out_size: int, *, timeout: float = 300) -> M4Result:
    stdout = qemu_stdout(elf, timeout=timeout)
    outs = [bytes.fromhex(line[2:].strip()) for line in stdout.splitlines() if line.startswith("O ")]
    instr, tpi = instructions(stdout)
    arr = np.array([np.frombuffer(o, np.int8) for o in outs], np.int8).reshape(-1, out_size)
    return M4Result(arr, instr, tpi, {})


def _ticks(stdout: str, tag: str) -> list[int]:
    return [int(line.split()[1]) for line in stdout.splitlines() if line.startswith(tag + " ")] or [0]
