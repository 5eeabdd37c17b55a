"""Flash of a generated library: shared constants emitted once, named linker sections, flash broken down by op.

Three jobs, one subject (what a library puts in read-only memory and where):

* :func:`dedupe_layers` - a rendering pass over the layers' constant declarations: two constants with the same
  C type, length and values (equal multiplier/shift arrays, identical parameter structs of identical layers,
  equal softmax/LUT tables, shared weights) are emitted once; each later copy becomes ``#define COPY FIRST``, so
  every reference to it (in calls or other declarations) reads the first and ``weights_bytes`` counts it once.
* :func:`check_section` / :func:`section_macros` / :func:`in_section` - ``eml compile --arena-section`` and
  ``--weights-section``: the arena (and the static scratch) and every constant weight array go into named
  linker sections (external RAM / flash) through ``__attribute__((section))`` behind macros that are empty on
  compilers without GNU attributes; :func:`example_linker_script` is the linker script shipped with such a
  library (QEMU ``mps2-an386`` as it stands, its two blocks marked for a vendor script).
* :func:`flash_by_op` - from the Cortex-M4 objects of a library: per op its own constants (``<name>_l<i>_*``
  symbol sizes), the constants it shares with an earlier op, and its kernel's code (the kernel function and
  every library function it calls, by relocations), with the bytes left unattributed.
"""

from __future__ import annotations

import json
import re
import subprocess
from collections import defaultdict
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol

from crisp_eml.core.errors import InputError, ToolMissingError, VerificationError


class LayerLike(Protocol):
    op_index: int
    decls: list[str]
    weights_bytes: int


_ELEM_BYTES = {"int8_t": 1, "uint8_t": 1, "int16_t": 2, "uint16_t": 2, "int32_t": 4, "uint32_t": 4, "float": 4}
# a constant array or struct as lower.c_array / lower._struct write it (pointer tables never match: no '*')
_CONST_DECL = re.compile(r"^static const (?P<type>\w+) (?P<name>\w+)(?P<dims>\[\d+\])? = (?P<body>\{.*\});$", re.S)
_INT_TOKEN = re.compile(r"(?<![\w.])-?\d+|INT32_MIN")


@dataclass
class Dedup:
    """What :func:`dedupe_layers` merged: ``{copy: first}`` and the const bytes that are no longer emitted."""

    shared: dict[str, str]
    saved_bytes: int


def const_bytes(decl: str) -> int | None:
    """Bytes of a constant array/struct declaration as the lowering counts them, or None when not one."""
    m = _CONST_DECL.match(decl)
    if m is None:
        return None
    ctype, dims, body = m.group("type"), m.group("dims"), m.group("body")
    if dims:
        size = _ELEM_BYTES.get(ctype)
        return None if size is None else size * int(dims[1:-1])
    if not ctype.endswith("_t") or ctype in _ELEM_BYTES:
        return None
    return 4 * len(_INT_TOKEN.findall(body))  # parameter structs: int32 fields (lower._struct / add_struct)


def dedupe_layers(layers: list[Any]) -> Dedup:
    """Emit every constant once: a later identical declaration becomes ``#define COPY FIRST`` (in place, in
    ``layer.decls``) and its bytes leave that layer's ``weights_bytes``. Identical = same C type, same length,
    same initializer text (values and, for structs, field names)."""
    first: dict[tuple[str, str, str], str] = {}
    shared: dict[str, str] = {}
    saved = 0
    for layer in layers:
        for i, decl in enumerate(layer.decls):
            m = _CONST_DECL.match(decl)
            size = const_bytes(decl)
            if m is None or size is None:
                continue
            key = (m.group("type"), m.group("dims") or "", m.group("body"))
            name = m.group("name")
            if key not in first:
                first[key] = name
                continue
            shared[name] = first[key]
            layer.decls[i] = f"#define {name} {first[key]} /* the same constant: emitted once */"
            layer.weights_bytes -= size
            saved += size
    return Dedup(shared, saved)


# ELF section names: what GNU as and ld take without quoting; at most 64 characters
_SECTION_NAME = re.compile(r"^\.?[A-Za-z_][A-Za-z0-9_.]{0,63}$")
# sections the toolchain fills itself: writable data there would be read-only (or not loaded), weights lost
_ARENA_REFUSED = (".text", ".rodata", ".init", ".fini", ".isr_vector", ".ARM")
_WEIGHTS_REFUSED = (".bss", ".sbss", ".tbss", ".noinit", ".tdata", ".data", ".stack", ".heap")


def check_section(value: str | None, option: str) -> str | None:
    """A valid ``--arena-section`` / ``--weights-section`` name (stripped), or None when not given.

    ``option`` is the option's name (``--arena-section`` or ``--weights-section``): every refusal names it."""
    if value is None:
        return None
    name = value.strip()
    example = ".ext_ram" if option == "--arena-section" else ".ext_flash"
    if not _SECTION_NAME.match(name):
        raise InputError(f"'{value}' is not a linker section name: use 1-64 letters, digits, '_' and '.', "
                         f"optionally starting with '.', e.g. {example}", field=option)
    refused = _ARENA_REFUSED if option == "--arena-section" else _WEIGHTS_REFUSED
    for base in refused:
        if name == base or name.startswith(base + "."):
            what = "the arena is written at run time" if option == "--arena-section" else \
                "constants there would not be loaded or would be copied into RAM"
            raise InputError(f"'{name}' is the toolchain's own {base} section ({what}); name a section of your "
                             f"linker script, e.g. {example}", field=option)
    return name


def check_sections(arena: str | None, weights: str | None) -> tuple[str | None, str | None]:
    """Both options checked, and not the same section (a writable arena and read-only weights cannot share one)."""
    a, w = check_section(arena, "--arena-section"), check_section(weights, "--weights-section")
    if a is not None and a == w:
        raise InputError(f"'{a}' is given for both the arena (writable) and the weights (read-only); use two "
                         "sections", field="--weights-section")
    return a, w


def section_macros(up: str, arena: str | None, weights: str | None) -> str:
    """The ``<UP>_ARENA_SECTION`` / ``<UP>_WEIGHTS_SECTION`` definitions of ``<name>.c`` ("" without sections).

    Empty on compilers without GNU attributes; a build may predefine either macro to override it."""
    if arena is None and weights is None:
        return ""
    lines = ["/* linker sections chosen at compile time (eml compile --arena-section / --weights-section); empty on",
             " * compilers without GNU attributes: place the arena and the weights with that compiler's own means */"]
    for macro, sec in ((f"{up}_ARENA_SECTION", arena), (f"{up}_WEIGHTS_SECTION", weights)):
        attr = f'__attribute__((section("{sec}")))' if sec else ""
        lines += [f"#ifndef {macro}", "#if defined(__GNUC__) || defined(__clang__)", f"#define {macro} {attr}".rstrip(),
                  "#else", f"#define {macro}", "#endif", "#endif"]
    return "\n".join(lines) + "\n"


def in_section(decls: list[str], macro: str) -> list[str]:
    """Constant arrays and structs of ``decls`` with ``macro`` (a section attribute) before their initializer."""
    out = []
    for d in decls:
        m = _CONST_DECL.match(d)
        if m is not None:
            head = d[:m.start("body")].removesuffix(" = ")
            d = f"{head} {macro} = {d[m.start('body'):]}"
        out.append(d)
    return out


def example_linker_script(name: str, arena: str | None, weights: str | None) -> str:
    """A GNU ld script for QEMU ``mps2-an386`` (Cortex-M4) whose external regions hold the named sections.

    It links and runs as it stands with crisp-eml's test startup (the tests do); for a board, copy the lines
    between the 'external memory' markers into its own script with the external memories' real addresses."""
    blocks = []
    if weights:
        blocks.append(f"    /* {name}'s weights (--weights-section {weights}): read-only, loaded with the image */\n"
                      f"    {weights} : ALIGN(4) {{ KEEP(*({weights} {weights}.*)) }} > EXT_FLASH")
    if arena:
        blocks.append(f"    /* {name}'s arena and scratch (--arena-section {arena}): not loaded, {name}_init() "
                      f"clears the arena */\n    {arena} (NOLOAD) : ALIGN(16) {{ *({arena} {arena}.*) }} > EXT_RAM")
    return _example_ld(name, "\n".join(blocks))


# QEMU mps2-an386: SSRAM1 at 0 (code, vector table), SSRAM2/3 at 0x20000000 (data) and a 16 MB ZBT SSRAM at
# 0x21000000 standing in for the external memories. QEMU loads every ELF segment at its address, so .data (and
# the external flash) need no copy here; on a board the startup code copies .data and the loader/programmer
# writes the external flash.
_EXAMPLE_HEAD = """/* Example GNU ld script for the '{name}' library with named sections in external memory
 * (generated by eml compile). As it stands it is a complete script for QEMU mps2-an386 (Cortex-M4) with a startup that
 * provides eml_reset_handler and .isr_vector; for a board, copy the lines between the 'external memory'
 * markers into its own linker script and set the external memories' ORIGIN/LENGTH. */
"""
_EXAMPLE_MEMORY = """    /* external memory: begin (QEMU's ZBT SSRAM at 0x21000000 here: use your board's addresses) */
    EXT_FLASH (r) : ORIGIN = 0x21000000, LENGTH = 8M
    EXT_RAM (rw)  : ORIGIN = 0x21800000, LENGTH = 8M
    /* external memory: end */
"""


def _example_ld(name: str, sections: str) -> str:
    """The test harness's mps2-an386 script (``boards``) with the external regions and the named sections added."""
    from crisp_eml.compiler.c.boards import get_board

    base = get_board("cortex-m4").linker()
    body = base[base.index("MEMORY"):]
    ram = body.index("\n", body.index("RAM (rwx)")) + 1
    body = body[:ram] + _EXAMPLE_MEMORY + body[ram:]
    data = body.index("    .data :")
    body = body[:data] + f"    /* external memory: begin */\n{sections}\n    /* external memory: end */\n" + body[data:]
    return _EXAMPLE_HEAD.format(name=name) + body



# --- flash by op (Cortex-M4 objects) ---------------------------------------------------------------------------------

_CALL = re.compile(r"/\* (\d+): (\w+) \*/\n\s+(\w+)\(")
_RELOC_CALL = re.compile(r"R_ARM_THM_(?:CALL|JUMP24|JUMP19|PC22)\s+(\w+)")
_FUNC_HEAD = re.compile(r"^[0-9a-f]+ <(\w+)>:$")


def _tool_out(args: list[str]) -> str:
    import shutil

    exe = shutil.which(args[0])
    if exe is None:
        raise ToolMissingError(f"'{args[0]}' is not installed (needed for the flash breakdown)")
    r = subprocess.run([exe, *args[1:]], capture_output=True, text=True, timeout=120, check=False)
    if r.returncode != 0:
        raise VerificationError(f"{args[0]} failed: {r.stderr.strip()[:2000]}")
    return r.stdout


def symbol_sizes(obj: Path) -> list[tuple[str, str, int]]:
    """(name, nm type letter, size) of every sized symbol of ``obj`` (``arm-none-eabi-nm -S --size-sort``)."""
    out = []
    for line in _tool_out(["arm-none-eabi-nm", "-S", "--size-sort", str(obj)]).splitlines():
        parts = line.split()
        if len(parts) == 4:
            out.append((parts[3], parts[2], int(parts[1], 16)))
    return out


def call_graph(obj: Path) -> dict[str, set[str]]:
    """function -> the functions it calls or tail-calls (relocations of ``arm-none-eabi-objdump -dr``)."""
    graph: dict[str, set[str]] = defaultdict(set)
    current = ""
    for line in _tool_out(["arm-none-eabi-objdump", "-dr", str(obj)]).splitlines():
        head = _FUNC_HEAD.match(line.strip())
        if head:
            current = head.group(1)
            graph.setdefault(current, set())
        elif current and (m := _RELOC_CALL.search(line)):
            graph[current].add(m.group(1))
    return graph


def section_bytes(objs: list[Path]) -> dict[str, int]:
    """Bytes per output section class of ``objs``: text/rodata/data/bss plus any other allocated section by
    name (the ``--weights-section`` / ``--arena-section`` ones), from ``arm-none-eabi-size -A``."""
    out: dict[str, int] = {"text": 0, "rodata": 0, "data": 0, "bss": 0}
    skip = (".comment", ".ARM.attributes", ".debug", ".note", ".group", ".rel", ".symtab", ".strtab")
    for obj in objs:
        for line in _tool_out(["arm-none-eabi-size", "-A", str(obj)]).splitlines():
            parts = line.split()
            if len(parts) < 2 or not parts[1].isdigit() or not parts[0].startswith(".") or parts[0].startswith(skip):
                continue
            sec, n = parts[0], int(parts[1])
            key = next((k for k in ("rodata", "text", "data", "bss") if sec == f".{k}" or sec.startswith(f".{k}.")),
                       sec)
            out[key] = out.get(key, 0) + n
    return out


def _op_of(own: re.Pattern[str], symbol: str) -> int | None:
    m = own.match(symbol)
    return int(m.group(1)) if m else None


def flash_by_op(lib_dir: Path, obj_dir: Path) -> dict[str, Any]:
    """Flash of each op of a library from its Cortex-M4 objects (``obj_dir/<stem>.o`` as ``m4_build`` leaves them).

    Per op: ``const_bytes`` (its own ``<name>_l<i>_*`` constants), ``shared_const_bytes`` (identical constants it
    reads from an earlier op), its ``kernel`` and ``kernel_code_bytes`` (that function plus every library
    function it reaches; code shared with other ops counts for each, once in ``kernel_code_bytes_total``).
    ``unattributed_bytes`` = flash - own constants - kernel code: the model's own functions, strings, tables."""
    manifest = json.loads((lib_dir / "MANIFEST.json").read_text(encoding="utf-8"))
    name = str(manifest["name"])
    source = (lib_dir / "src" / f"{name}.c").read_text(encoding="utf-8")
    objs = [obj_dir / (p.stem + ".o") for p in sorted((lib_dir / "src").glob("*.c"))]
    missing = [o.name for o in objs if not o.is_file()]
    if missing:
        raise VerificationError(f"no Cortex-M4 objects to measure ({', '.join(missing)})")
    kernel_of = {int(i): fn for i, _, fn in _CALL.findall(source)}
    shared = dict(re.findall(r"^#define (\w+) (\w+) /\* the same constant", source, re.M))
    consts: dict[int, int] = defaultdict(int)
    sizes: dict[str, int] = {}
    code: dict[str, int] = {}
    graph: dict[str, set[str]] = {}
    own = re.compile(rf"^{re.escape(name)}_l(\d+)_\w+$")
    for obj in objs:
        for sym, kind, size in symbol_sizes(obj):
            if kind in "tT":
                code[sym] = code.get(sym, 0) + size
            elif (m := own.match(sym)) is not None:
                consts[int(m.group(1))] += size
                sizes[sym] = size
        for fn, callees in call_graph(obj).items():
            graph.setdefault(fn, set()).update(callees)

    def reach(fn: str) -> list[str]:
        seen, todo = set(), [fn]
        while todo:
            f = todo.pop()
            if f in seen or f not in code:
                continue
            seen.add(f)
            todo.extend(graph.get(f, ()))
        return sorted(seen)

    users: dict[str, int] = defaultdict(int)
    rows = []
    for i, op_type in enumerate(manifest.get("ops", [])):
        fns = reach(kernel_of[i]) if i in kernel_of else []
        for f in fns:
            users[f] += 1
        borrowed = sum(sizes.get(first, 0) for copy, first in shared.items() if _op_of(own, copy) == i)
        rows.append({"op": i, "type": op_type, "const_bytes": consts.get(i, 0), "shared_const_bytes": borrowed,
                     "kernel": kernel_of.get(i), "kernel_functions": fns,
                     "kernel_code_bytes": sum(code[f] for f in fns)})
    for row in rows:
        row["kernel_shared_by_ops"] = max((users[f] for f in row["kernel_functions"]), default=0)
    kernel_fns = sorted(users)
    secs = section_bytes(objs)
    flash = sum(v for k, v in secs.items() if k not in ("bss", manifest.get("flash", {}).get("arena_section")))
    const_total = sum(consts.values())
    kernel_total = sum(code[f] for f in kernel_fns)
    model_fns = sum(v for f, v in code.items() if f.startswith(f"{name}_"))
    other_fns = {f: v for f, v in sorted(code.items()) if f not in users and not f.startswith(f"{name}_")}
    unattributed = flash - const_total - kernel_total
    return {"ops": rows, "const_bytes_total": const_total, "kernel_code_bytes_total": kernel_total,
            "kernel_functions": kernel_fns, "flash_bytes": flash, "sections": secs,
            "unattributed_bytes": unattributed,
            # what no op owns: the model's own functions (invoke/run/...), library functions no op calls
            # (post-processing, the other kernel of a shared section), strings and the rest
            "unattributed": {"model_functions_bytes": model_fns, "other_functions": other_fns,
                             "other_bytes": unattributed - model_fns - sum(other_fns.values())},
            "dedup_saved_bytes": int(manifest.get("flash", {}).get("dedup_saved_bytes", 0))}
