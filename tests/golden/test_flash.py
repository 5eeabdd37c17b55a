"""Flash of generated libraries (``compiler.flash``): identical constants emitted once and still byte-exact,
named linker sections for external memory (option checks, an ELF whose symbols land in the external regions of
the shipped example linker script, run byte-exact on QEMU), and ``eml profile``'s flash by op adding up."""

from __future__ import annotations

import json
import re
import subprocess
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from tiny_models import convert_int8

from conftest import MLPERF_TINY
from crisp_eml.compiler import build, flash
from crisp_eml.compiler.c.lower import Layer
from crisp_eml.compiler.verify import random_vectors, run_cortex_m4, tflm_outputs
from crisp_eml.core.errors import InputError

KWS = MLPERF_TINY / "kws_ref_model.tflite"


def _render(data: bytes, out: Path, name: str, **sections: str | None) -> dict[str, str]:
    from crisp_eml.compiler.model_render import render_model

    _, files = render_model(data, name=name, labels=[], model_sha256="", dsp=None, source=name, **sections)
    build.write_tree(files, out)
    return files


def _manifest(files: dict[str, str]) -> dict[str, Any]:
    out: dict[str, Any] = json.loads(files["MANIFEST.json"])
    return out


# --- de-duplication ---------------------------------------------------------------------------------------------

def _layer(i: int, *decls: str) -> Layer:
    layer = Layer(i, "X", [], decls=list(decls))
    layer.weights_bytes = sum(flash.const_bytes(d) or 0 for d in decls)
    return layer


def test_dedupe_merges_only_same_type_length_and_values() -> None:
    a = _layer(0, "static const int32_t m_l0_mult[2] = {\n    5, INT32_MIN,\n};",
               "static const eml_fc_params_t m_l0_p = {.batches = 1, .in1_x = {2, -3}};")
    b = _layer(1, "static const int32_t m_l1_mult[2] = {\n    5, INT32_MIN,\n};",  # same: merged
               "static const int16_t m_l1_w[2] = {\n    5, INT32_MIN,\n};",  # another type
               "static const int32_t m_l1_x[3] = {\n    5, INT32_MIN, 0,\n};",  # another length
               "static const eml_fc_params_t m_l1_p = {.batches = 1, .in1_x = {2, -3}};",  # same struct: merged
               "static const eml_pool_params_t m_l1_q = {.batches = 1, .in1_x = {2, -3}};",  # another struct type
               "static const int8_t *const m_l1_ins[1] = {m_l0_w};")  # pointer table: never touched
    before = b.weights_bytes
    d = flash.dedupe_layers([a, b])
    assert d.shared == {"m_l1_mult": "m_l0_mult", "m_l1_p": "m_l0_p"}
    assert d.saved_bytes == 8 + 12  # two int32 values, a struct of three int32 fields
    assert b.weights_bytes == before - d.saved_bytes
    assert b.decls[0].startswith("#define m_l1_mult m_l0_mult ")
    assert b.decls[3].startswith("#define m_l1_p m_l0_p ")
    assert [x.startswith("static const") for x in b.decls] == [False, True, True, False, True, True]


@pytest.fixture(scope="module")
def shared_dense(request: pytest.FixtureRequest) -> bytes:
    """A Dense layer applied twice (same int8 weights in two FULLY_CONNECTED ops), then a head; cached."""
    cache = Path(request.config.cache.mkdir("eml-flash-v1"))
    path = cache / "shared_dense.tflite"
    if not path.exists():
        from tensorflow import keras
        from tensorflow.keras import layers

        keras.utils.set_random_seed(3)
        x = keras.Input((12,), batch_size=1)
        dense = layers.Dense(12, activation="relu")
        y = layers.Dense(5)(dense(dense(x)))
        path.write_bytes(convert_int8(keras.Model(x, y), [(1, 12)]))
    return path.read_bytes()


def test_dedupe_shares_constants_and_stays_byte_exact_on_host(shared_dense: bytes, tmp_path: Path) -> None:
    files = _render(shared_dense, tmp_path / "lib", "twice")
    man = _manifest(files)
    src = files["src/twice.c"]
    shared = re.findall(r"^#define (twice_l\d+_\w+) (twice_l\d+_\w+) ", src, re.M)
    assert ("twice_l1_w", "twice_l0_w") in shared  # the one weight tensor, emitted once
    assert man["flash"]["shared_constants"] == len(shared) > 0
    # weights_bytes counts what is emitted: every remaining const declaration, once
    emitted = sum(flash.const_bytes(m.group(0)) or 0 for m in
                  re.finditer(r"^static const \w+ \w+(\[\d+\])? = \{.*?\};$", src, re.M | re.S))
    assert man["weights_bytes"] == emitted
    assert man["flash"]["dedup_saved_bytes"] >= 12 * 12
    vec = random_vectors(12, 16, seed=4)
    exe = build.host_build(tmp_path / "lib", tmp_path / "host")
    out, _ = build.host_run(exe, vec, 5)
    assert np.array_equal(out, tflm_outputs(shared_dense, vec))


@pytest.mark.cross
def test_dedupe_stays_byte_exact_on_cortex_m4(shared_dense: bytes, tmp_path: Path) -> None:
    _render(shared_dense, tmp_path / "lib", "twice")
    vec = random_vectors(12, 6, seed=9)
    res = run_cortex_m4(tmp_path / "lib", vec, tmp_path / "m4")
    assert np.array_equal(res["outputs"], tflm_outputs(shared_dense, vec))


# --- named linker sections ------------------------------------------------------------------------------------

@pytest.mark.parametrize(("arena", "weights", "option", "words"), [
    ("a b", None, "--arena-section", "not a linker section name"),
    ("", None, "--arena-section", "not a linker section name"),
    ("." + "x" * 70, None, "--arena-section", "not a linker section name"),
    ('.x")))', None, "--arena-section", "not a linker section name"),  # no way out of the attribute string
    (".text", None, "--arena-section", "toolchain's own .text"),
    (".rodata.mine", None, "--arena-section", "toolchain's own .rodata"),
    (None, ".bss", "--weights-section", "toolchain's own .bss"),
    (None, ".noinit.w", "--weights-section", "toolchain's own .noinit"),
    (None, "9x", "--weights-section", "not a linker section name"),
    (".ext", ".ext", "--weights-section", "both the arena"),
])
def test_section_options_refused_with_the_option_named(arena: str | None, weights: str | None, option: str,
                                                       words: str) -> None:
    with pytest.raises(InputError) as exc:
        flash.check_sections(arena, weights)
    assert exc.value.field == option
    assert words in str(exc.value)


def test_bad_section_option_writes_nothing(tmp_path: Path) -> None:
    from crisp_eml.workspace.compile import compile_model

    with pytest.raises(InputError, match="--weights-section"):
        compile_model(str(KWS), tmp_path / "lib", vectors=0, use_project=False, weights_section=".data")
    assert not (tmp_path / "lib").exists()


def test_sections_are_macros_that_vanish_without_gnu_attributes(tmp_path: Path) -> None:
    files = _render(KWS.read_bytes(), tmp_path / "lib", "kws", arena_section=" .ext_ram ",
                    weights_section=".ext_flash")
    src = files["src/kws.c"]
    assert '#define KWS_ARENA_SECTION __attribute__((section(".ext_ram")))' in src
    assert "static int8_t kws_arena[KWS_ARENA_BYTES] KWS_ALIGNED KWS_ARENA_SECTION;" in src
    assert re.search(r"^static int16_t kws_col\[\d+\] KWS_ARENA_SECTION;$", src, re.M)
    consts = re.findall(r"^static const \w+ kws_l\d+_\w+(?:\[\d+\])? (\w*) ?= \{", src, re.M)
    assert consts and set(consts) == {"KWS_WEIGHTS_SECTION"}
    placed = _manifest(files)["flash"]
    assert (placed["arena_section"], placed["weights_section"]) == (".ext_ram", ".ext_flash")  # stripped
    assert "linker/example_external.ld" in files
    # a compiler without GNU attributes: both macros empty, the library still compiles (strict C99)
    r = subprocess.run([build.tool("gcc"), "-std=c99", "-Wall", "-Wextra", "-Werror", "-pedantic", "-U__GNUC__",
                        "-E", "-I", str(tmp_path / "lib" / "src"), str(tmp_path / "lib" / "src" / "kws.c")],
                       capture_output=True, text=True)
    assert r.returncode == 0, r.stderr
    assert "__attribute__((section" not in r.stdout
    plain = _render(KWS.read_bytes(), tmp_path / "plain", "kws")
    assert "SECTION" not in plain["src/kws.c"] and "linker/example_external.ld" not in plain


def _symbols(elf: Path) -> dict[str, tuple[int, int]]:
    out = subprocess.run([build.tool("arm-none-eabi-nm"), "-S", str(elf)], capture_output=True, text=True).stdout
    return {p[3]: (int(p[0], 16), int(p[1], 16)) for line in out.splitlines() if len(p := line.split()) == 4}


@pytest.mark.cross
def test_kws_in_external_sections_runs_byte_exact_on_qemu(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """KWS with both sections, linked with the library's own example script: every weight symbol in EXT_FLASH,
    the arena and scratch in EXT_RAM (QEMU mps2-an386's 16 MB SSRAM), outputs identical to TFLite Micro."""
    data = KWS.read_bytes()
    files = _render(data, tmp_path / "lib", "kws", arena_section=".ext_ram", weights_section=".ext_flash")
    from crisp_eml.compiler.c import boards

    # the board's linker script replaced by the library's example (a board_build(linker=...) hook would do)
    monkeypatch.setattr(boards.Board, "linker", lambda self: files["linker/example_external.ld"])
    vec = random_vectors(490, 3, seed=2)
    elf = build.m4_build(tmp_path / "lib", tmp_path / "m4", vec)
    heads = subprocess.run([build.tool("arm-none-eabi-objdump"), "-h", str(elf)], capture_output=True,
                           text=True).stdout
    assert re.search(r"\.ext_flash\s+\w+\s+21000000", heads) and re.search(r"\.ext_ram\s+\w+\s+21800000", heads)
    syms = _symbols(elf)
    weights = {k: v for k, v in syms.items() if re.match(r"kws_l\d+_", k)}
    assert len(weights) > 40
    assert all(a >= 0x21000000 and a + s <= 0x21800000 for a, s in weights.values())
    assert sum(s for _, s in weights.values()) == _manifest(files)["weights_bytes"]
    for ram in ("kws_arena", "kws_col"):
        assert 0x21800000 <= syms[ram][0] < 0x22000000, ram
    assert syms["kws_initialized"][0] < 0x21000000  # the flag stays in internal RAM (zeroed .bss)
    res = build.qemu_run(elf, 12)
    assert np.array_equal(res.outputs, tflm_outputs(data, vec))


# --- flash by op --------------------------------------------------------------------------------------------------

@pytest.mark.cross
@pytest.mark.parametrize("sections", [{}, {"weights_section": ".ext_flash", "arena_section": ".ext_ram"}])
def test_flash_by_op_adds_up_to_the_sections(sections: dict[str, str], tmp_path: Path) -> None:
    files = _render(KWS.read_bytes(), tmp_path / "lib", "kws", **sections)
    man = _manifest(files)
    res = run_cortex_m4(tmp_path / "lib", random_vectors(490, 1, seed=1), tmp_path / "m4")
    f = flash.flash_by_op(tmp_path / "lib", tmp_path / "m4")
    assert [r["type"] for r in f["ops"]] == man["ops"]
    # every op's own constants are nm symbol sizes; together exactly the manifest's (de-duplicated) weights
    assert f["const_bytes_total"] == sum(r["const_bytes"] for r in f["ops"]) == man["weights_bytes"]
    assert f["dedup_saved_bytes"] == man["flash"]["dedup_saved_bytes"] > 0
    assert sum(r["shared_const_bytes"] for r in f["ops"]) == man["flash"]["dedup_saved_bytes"]
    conv = [r for r in f["ops"] if r["type"] == "CONV_2D"]
    assert all(r["kernel"] == "eml_conv2d_s8" and r["kernel_shared_by_ops"] == len(conv) for r in conv)
    assert all(r["kernel_code_bytes"] > 0 for r in f["ops"] if r["type"] != "RESHAPE")
    un = f["unattributed"]
    assert f["const_bytes_total"] + f["kernel_code_bytes_total"] + f["unattributed_bytes"] == f["flash_bytes"]
    assert un["model_functions_bytes"] + sum(un["other_functions"].values()) + un["other_bytes"] == \
        f["unattributed_bytes"]
    assert 0 <= un["other_bytes"] < 1024 and f["unattributed_bytes"] < 0.1 * f["flash_bytes"]
    if sections:
        assert f["sections"][".ext_flash"] == man["weights_bytes"]
        assert f["flash_bytes"] == res["flash_bytes"] + man["weights_bytes"]  # run_cortex_m4 counts .rodata only
    else:
        assert f["flash_bytes"] == res["flash_bytes"]


@pytest.mark.cross
def test_cli_compile_with_sections_then_profile_by_op(run_cli, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    lib = tmp_path / "lib"
    code, _, err = run_cli(["compile", str(KWS), "-o", str(lib), "--vectors", "1", "--arena-section", ".ext_ram",
                            "--weights-section", ".ext_flash"], cwd=tmp_path)
    assert code == 0, err
    assert (lib / "linker" / "example_external.ld").is_file()
    code, stdout, err = run_cli(["profile", str(lib), "--json"], cwd=tmp_path)
    assert code == 0, err
    r = json.loads(stdout)
    f = r["flash_by_op"]
    man = json.loads((lib / "MANIFEST.json").read_text())
    weights, ram = man["weights_bytes"], man["arena_bytes"] + man["scratch_bytes"]
    # the weights left .rodata for the named section: internal flash no longer counts them, the breakdown does
    assert set(r["named_sections"]) == {".ext_flash", ".ext_ram"} and r["named_sections"][".ext_flash"] == weights
    assert ram <= r["named_sections"][".ext_ram"] < ram + 16  # arena + scratch (alignment only)
    assert f["flash_bytes"] == r["flash_bytes"] + weights and f["const_bytes_total"] == weights
    code, stdout, err = run_cli(["profile", str(lib)], cwd=tmp_path)
    assert code == 0, err
    assert "flash by op" in stdout and "eml_conv2d_s8" in stdout and "section .ext_flash" in stdout


def test_gate_re_derives_a_library_with_sections(tmp_path: Path) -> None:
    """The gate/deploy check re-renders a library from its MANIFEST: the sections it states must be used."""
    from crisp_eml.lifecycle.library_check import _render
    from crisp_eml.workspace.compile import compile_model

    lib = tmp_path / "lib"
    compile_model(str(KWS), lib, name="kws", vectors=0, use_project=False, arena_section=".ext_ram",
                  weights_section=".ext_flash")
    manifest = json.loads((lib / "MANIFEST.json").read_text())
    src = (lib / "src" / "kws.c").read_bytes()
    files = _render(manifest, KWS.read_bytes(), manifest["model_sha256"], str(lib), {"src/kws.c": src})
    assert files["src/kws.c"].encode() == src
    assert files["linker/example_external.ld"] == (lib / "linker" / "example_external.ld").read_text()
