"""How many output elements each C kernel writes at once (the in-place write-order contract).

Every kernel in ``eml_kernels.c`` writes its output in increasing NHWC flat index order and reads all the
inputs an output element (or a group of ``G`` elements written together) needs before writing it. The
memory planner reads this table when it computes how far an output may overlap its dying input.
"""

from __future__ import annotations

# Our kernels read every input an element needs before writing any element at or after it (convolutions copy
# one or two output pixels' windows into scratch first; depthwise computes 4 channels then writes them; the
# depthwise 3x3 fast path copies input row r into its zero-point padded row ring before output row r - pad_h,
# i.e. earlier than needed, then computes a whole pixel's channels before writing them), so a group of 1 is
# exact for all of them.
KERNEL_GROUPS: dict[str, int] = {
    "CONV_2D": 1,
    "DEPTHWISE_CONV_2D": 1,
    "FULLY_CONNECTED": 1,
    "AVERAGE_POOL_2D": 1,
    "MAX_POOL_2D": 1,
    "SOFTMAX": 1,
    "RELU": 1,
    "RELU6": 1,
    "QUANTIZE": 1,
    "RESHAPE": 1,
    "LOGISTIC": 1,
    "TANH": 1,
    "MEAN": 1,
    "ADD": 1,
    "SUB": 1,
    "MUL": 1,
    "PAD": 1,
    "STRIDED_SLICE": 1,
    "TRANSPOSE": 1,
    "CONCATENATION": 1,
    "SQUEEZE": 1,
}
