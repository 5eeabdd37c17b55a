"""The op types the compiler supports, in one place so the reader, interpreter and renderer agree."""

from __future__ import annotations

SUPPORTED_OPS: frozenset[str] = frozenset({
    "CONV_2D", "DEPTHWISE_CONV_2D", "FULLY_CONNECTED", "AVERAGE_POOL_2D", "MAX_POOL_2D", "MEAN", "ADD", "MUL",
    "SUB", "RESHAPE", "SQUEEZE", "SOFTMAX", "LOGISTIC", "TANH", "RELU", "RELU6", "PAD", "CONCATENATION",
    "QUANTIZE", "DEQUANTIZE", "STRIDED_SLICE", "TRANSPOSE",
})

# Ops that only reinterpret the shape of their first input: same bytes, no copy needed.
ALIAS_OPS: frozenset[str] = frozenset({"RESHAPE", "SQUEEZE"})

# Ops whose activations may be float (the model's float I/O boundary).
BOUNDARY_OPS: frozenset[str] = frozenset({"QUANTIZE", "DEQUANTIZE"})

FUSED_ACTIVATIONS: dict[int, str] = {0: "NONE", 1: "RELU", 2: "RELU_N1_TO_1", 3: "RELU6", 4: "TANH",
                                     5: "SIGN_BIT"}
PADDING: dict[int, str] = {0: "SAME", 1: "VALID"}
