"""Single-op int8 graphs built without TensorFlow (seeded random weights and quantization), for kernel work.

Kernel benchmarks and property tests need many convolution / depthwise / fully-connected configurations (1x1,
3x3, strided, padded, dilated, depth multiplier 2, odd channel counts); converting a Keras model per
configuration would cost a TensorFlow conversion each. These graphs go straight to the compiler and the numpy
reference interpreter (bit-exact with TFLite Micro, checked by tests/golden/test_reference_tflm.py).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from crisp_eml.core.graph import Graph, Op, Tensor


@dataclass(frozen=True)
class ConvSpec:
    """One op: ``kind`` CONV_2D, DEPTHWISE_CONV_2D or FULLY_CONNECTED (FC: in_h = in_w = k = 1, in_c = depth)."""

    kind: str
    in_h: int
    in_w: int
    in_c: int
    out_c: int
    k_h: int = 1
    k_w: int = 1
    stride: int = 1
    dilation: int = 1
    padding: str = "SAME"
    activation: str = "NONE"

    def label(self) -> str:
        if self.kind == "FULLY_CONNECTED":
            return f"fc {self.in_c}->{self.out_c}"
        short = "conv" if self.kind == "CONV_2D" else f"dw(m{self.out_c // self.in_c})"
        return (f"{short} {self.k_h}x{self.k_w} s{self.stride} d{self.dilation} {self.padding.lower()} "
                f"{self.in_h}x{self.in_w}x{self.in_c}->{self.out_c}")


def _out_size(n: int, k: int, s: int, d: int, padding: str) -> int:
    eff = (k - 1) * d + 1
    return (n + s - 1) // s if padding == "SAME" else (n - eff) // s + 1


def out_shape(spec: ConvSpec) -> tuple[int, ...]:
    if spec.kind == "FULLY_CONNECTED":
        return (1, spec.out_c)
    return (1, _out_size(spec.in_h, spec.k_h, spec.stride, spec.dilation, spec.padding),
            _out_size(spec.in_w, spec.k_w, spec.stride, spec.dilation, spec.padding), spec.out_c)


def macs(spec: ConvSpec) -> int:
    """Multiply-accumulates of one inference."""
    if spec.kind == "FULLY_CONNECTED":
        return spec.in_c * spec.out_c
    _, oh, ow, oc = out_shape(spec)
    per = spec.k_h * spec.k_w * (spec.in_c if spec.kind == "CONV_2D" else 1)
    return oh * ow * oc * per


def conv_graph(spec: ConvSpec, seed: int = 0) -> Graph:
    """The op of ``spec`` alone, int8 in and out, per-channel symmetric weights (per-tensor for FC)."""
    rng = np.random.default_rng(seed)
    f32 = np.float32
    in_scale, in_zp = 0.02 + 0.05 * rng.random(), int(rng.integers(-60, 60))
    if spec.kind == "FULLY_CONNECTED":
        in_shape: tuple[int, ...] = (1, spec.in_c)
        w_shape: tuple[int, ...] = (spec.out_c, spec.in_c)
        k = spec.in_c
        n_scales = 1
    else:
        in_shape = (1, spec.in_h, spec.in_w, spec.in_c)
        if spec.kind == "CONV_2D":
            w_shape = (spec.out_c, spec.k_h, spec.k_w, spec.in_c)
            k = spec.k_h * spec.k_w * spec.in_c
        else:
            w_shape = (1, spec.k_h, spec.k_w, spec.out_c)
            k = spec.k_h * spec.k_w
        n_scales = spec.out_c
    w = rng.integers(-127, 128, size=w_shape).astype(np.int8)
    w_scales = (0.002 + 0.01 * rng.random(n_scales)).astype(f32)
    bias = rng.integers(-3000, 3000, size=spec.out_c).astype(np.int32)
    # output scale: the accumulator's typical spread lands on a good part of the int8 range
    out_scale = float(in_scale * float(w_scales.mean()) * 60.0 * np.sqrt(k))
    out_zp = int(rng.integers(-20, 20))
    tensors = [
        Tensor(0, "x", in_shape, "int8", np.array([in_scale], f32), np.array([in_zp], np.int64)),
        Tensor(1, "w", w_shape, "int8", w_scales, np.zeros(n_scales, np.int64),
               0 if spec.kind != "DEPTHWISE_CONV_2D" else 3, w),
        Tensor(2, "b", (spec.out_c,), "int32", (in_scale * w_scales).astype(f32), np.zeros(n_scales, np.int64),
               0, bias),
        Tensor(3, "y", out_shape(spec), "int8", np.array([out_scale], f32), np.array([out_zp], np.int64)),
    ]
    opts: dict[str, object] = {"fused_activation_function": spec.activation}
    if spec.kind != "FULLY_CONNECTED":
        opts.update(padding=spec.padding, stride_h=spec.stride, stride_w=spec.stride,
                    dilation_hfactor=spec.dilation, dilation_wfactor=spec.dilation)
        if spec.kind == "DEPTHWISE_CONV_2D":
            opts["depth_multiplier"] = spec.out_c // spec.in_c
    op = Op(0, spec.kind, [0, 1, 2], [3], opts)
    return Graph(tensors, [op], [0], [3], name="synth")
