"""Pure parts of the C renderer: identifiers, the status table, kernel sections and the target catalog."""

from __future__ import annotations

import re
from types import SimpleNamespace

import pytest

from conftest import SHARED
from crisp_eml.compiler.c import kernel_source
from crisp_eml.compiler.render import STATUS, RenderOptions, c_identifier, render_library
from crisp_eml.core.errors import InputError
from crisp_eml.targets.catalog import TARGETS, get_target

AD01 = SHARED / "models" / "mlperf-tiny" / "ad01_int8.tflite"


@pytest.mark.parametrize(("raw", "want"), [("KWS model", "kws_model"), ("9lives", "m_9lives"), ("int", "int_model"),
                                           ("a--b..c", "a_b_c"), ("", "model"), ("Ünïcode", "n_code")])
def test_c_identifier(raw: str, want: str) -> None:
    assert c_identifier(raw) == want
    assert re.fullmatch(r"[a-z_][a-z0-9_]*", c_identifier(raw))


def _sequential(g):  # type: ignore[no-untyped-def]
    offs, off = {}, 0
    for t in g.tensors:
        if not t.is_constant:
            offs[t.index] = off
            off += t.nbytes
    return SimpleNamespace(arena_bytes=off, offsets=offs)


def test_status_enum_and_strings_come_from_one_table() -> None:
    from crisp_eml.compiler.reader import read_tflite

    g = read_tflite(AD01)
    files = render_library(g, _sequential(g), RenderOptions(name="ad", labels=["x"] * 640))
    header, source = files["src/ad.h"], files["src/ad.c"]
    codes = re.findall(r"AD_(OK|ERR_\w+) = (\d+),", header)
    assert [c for c, _ in codes] == [c for c, _ in STATUS]
    strings = re.search(r"ad_status_strings\[\] = \{\n(.*?)\n\};", source, re.S)
    assert strings is not None and strings.group(1).count('",') == len(STATUS)
    assert "#define AD_ARENA_BYTES" in header and "static int8_t ad_arena[AD_ARENA_BYTES]" in source
    assert "malloc" not in source and "stdio" not in source and "stdio" not in files["src/eml_kernels.c"]


def test_render_rejects_a_plan_outside_the_arena() -> None:
    from crisp_eml.compiler.reader import read_tflite

    g = read_tflite(AD01)
    plan = _sequential(g)
    plan.arena_bytes = 10
    with pytest.raises(InputError, match="outside the arena"):
        render_library(g, plan, RenderOptions(name="ad"))


def test_kernel_sections() -> None:
    src = kernel_source("eml_kernels.c", ["pool"])
    assert "eml_avgpool_s8" in src and "eml_mul_by_qm" in src
    assert "eml_softmax_s8" not in src and "@section" not in src
    with pytest.raises(KeyError):
        kernel_source("eml_kernels.c", ["nope"])


def test_target_catalog() -> None:
    assert get_target("cortex-m4").id == "cortex-m4f-80mhz"
    m0 = get_target("cortex-m0plus-48mhz")
    assert not m0.fpu and not m0.dsp_extension and m0.clock_hz == 48_000_000
    assert {"linux-x86_64", "linux-aarch64", "esp32-s3-240mhz", "rp2040-133mhz", "cortex-m7-216mhz"} <= set(TARGETS)
    assert all(t.cpi > 0 for t in TARGETS.values() if t.kind == "mcu")
    # a user typed the name (--target, target=): an input error on field 'target' with close matches
    with pytest.raises(InputError, match="unknown target device 'pdp-11'; known: cortex-m0plus-48mhz") as exc:
        get_target("pdp-11")
    assert exc.value.field == "target" and "'eml targets' lists them" in exc.value.reason
    with pytest.raises(InputError, match="did you mean 'linux-x86_64' or 'linux-aarch64'"):
        get_target("linux")
    with pytest.raises(InputError, match="did you mean 'cortex-m4'"):
        get_target("cortex-m44")


def test_render_rejects_a_bias_that_does_not_match_the_output_channels() -> None:
    from crisp_eml.compiler.reader import read_tflite

    g = read_tflite(AD01)
    fc = next(op for op in g.ops if op.type == "FULLY_CONNECTED" and len(op.inputs) > 2 and op.inputs[2] >= 0)
    bias = g.tensor(fc.inputs[2])
    assert bias.data is not None
    bias.data = bias.data[:-1]  # a corrupt model: one bias value short (the C kernel would read past it)
    with pytest.raises(InputError, match=rf"operator {fc.index} \(FULLY_CONNECTED\): bias has"):
        render_library(g, _sequential(g), RenderOptions(name="ad"))


def _dw_rows_bytes(spec: object, optimize: str) -> int:
    from crisp_eml.compiler.planner import plan_memory
    from crisp_eml.compiler.synth_graphs import ConvSpec, conv_graph

    assert isinstance(spec, ConvSpec)
    g = conv_graph(spec, seed=0)
    src = render_library(g, plan_memory(g), RenderOptions(name="k", optimize=optimize))["src/k.c"]
    m = re.search(r"\.rows_bytes = (\d+)", src)
    assert m, "no depthwise params in the library"
    return int(m.group(1))


@pytest.mark.parametrize(("h", "w", "c", "dil", "granted"), [
    (16, 16, 32, 1, True),   # wide rows: the records (36 B a channel) are less than the ring
    (25, 5, 64, 1, False),   # KWS's depthwise: narrow rows, the records would more than double the ring
    (12, 10, 16, 2, True),   # dilation 2 at stride 1 (split rows)
])
def test_depthwise_records_scratch_by_mode(h: int, w: int, c: int, dil: int, granted: bool) -> None:
    """The depthwise ring kernel's per-channel records (eml_dwp_records) get scratch after the ring: always with
    --optimize speed, in balanced only where they at most double it, never in ram mode."""
    from crisp_eml.compiler.c.lower import dw_records_bytes, dw_ring_bytes
    from crisp_eml.compiler.synth_graphs import ConvSpec

    spec = ConvSpec("DEPTHWISE_CONV_2D", h, w, c, c, 3, 3, dilation=dil)
    f: dict[str, int | list[int]] = {"k_h": 3, "k_w": 3, "pad_h": dil, "pad_w": dil, "out_w": w, "in_w": w,
                                     "in_c": c, "out_c": c, "stride_h": 1, "stride_w": 1, "dil_h": dil,
                                     "dil_w": dil, "rq_fast": 1}
    rec = dw_records_bytes(f)
    assert rec == 36 * c + 3
    four = dw_ring_bytes(f, two_rows=True)
    assert _dw_rows_bytes(spec, "speed") == four + rec
    balanced = _dw_rows_bytes(spec, "balanced")
    assert (balanced == four + rec) is granted
    assert balanced < four + rec or granted
    assert _dw_rows_bytes(spec, "ram") < four + rec
    assert dw_records_bytes({**f, "rq_fast": 0}) == 0
    assert dw_records_bytes({**f, "dil_w": 3}) == 0


def test_wide_5x5_depthwise_gets_the_direct_kernel_only_in_speed_mode() -> None:
    """The direct k x k depthwise kernel's records grow with the channels (87 B a channel for 5x5): balanced
    grants them up to DW_DIRECT_BALANCED_MAX bytes, speed always, ram never."""
    from crisp_eml.compiler.c.lower import DW_DIRECT_BALANCED_MAX
    from crisp_eml.compiler.planner import plan_memory
    from crisp_eml.compiler.synth_graphs import ConvSpec, conv_graph

    def kernel(c: int, optimize: str) -> bool:
        g = conv_graph(ConvSpec("DEPTHWISE_CONV_2D", 7, 7, c, c, 5, 5), seed=0)
        src = render_library(g, plan_memory(g), RenderOptions(name="k", optimize=optimize))["src/k.c"]
        return "eml_dwk_s8(" in src

    assert DW_DIRECT_BALANCED_MAX < (12 + 3 * 25) * 240
    assert not kernel(240, "balanced") and kernel(240, "speed") and not kernel(240, "ram")
    assert kernel(64, "balanced") and not kernel(64, "ram")
