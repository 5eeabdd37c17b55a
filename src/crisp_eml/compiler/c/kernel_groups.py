"""The order in which each C kernel reads its inputs and writes its output (the in-place write-order contract).

The memory planner may place an op's output over a dying input only as far as this order allows
(``compiler.inplace`` turns it into a byte lag, ``compiler.arena_check`` simulates it). Every kernel writes its
output in increasing flat NHWC order, in *groups* of consecutive output elements, and has read everything a
group needs before it writes any byte of that group; reading earlier is always allowed. So while group ``g``
is written only the input bytes read by STRICTLY LATER groups must still be intact. The groupings:

- ``element``: each output element is a group; its reads are the input elements it depends on (an element of
  a depthwise convolution or a pooling reads only its own channel of the window; a fully-connected output, a
  softmax output or a MEAN output reads its whole row / reduced region again, so the next element of the same
  row still needs it).
- ``pixel``: one NHWC position (all output channels) is a group: CONV_2D reads the whole window of a tile of
  consecutive pixels (into its im2col scratch) before writing any byte of them. Every output channel reads
  every input channel, so a 1x1 stride-1 convolution with as many outputs as inputs needs no lag at all.
- ``row-ring``: the depthwise 3x3 path with a ring of input rows (``eml_dw3x3_s8``, chosen by
  ``lower.dw3x3_fast``): before output row ``oy`` is written, every input row its window needs has been copied
  into the ring (row ``r`` on the first output row whose window holds it, never read from the input again), so
  a group is one output row and it reads only the rows no earlier row needed.

A kernel may write the groups of a span in any order once it has read everything the span reads: writing group
``g`` then clobbers only input no group after ``g`` reads (what the planner guarantees) and the span's other groups
read theirs already. The Cortex-M DSP depthwise 3x3 ring (``eml_dwp_s8``, every 3x3 geometry given scratch) does
so with one or two output rows at a time, written channel by channel after every input row they need is copied
(under both ``row-ring`` and ``element``).

Ops registered in ``compiler.opdefs`` give their own ``group`` (consecutive elements written together) and
``read_min``; an op with no entry here and no registered model is never placed over its input.
"""

from __future__ import annotations

from crisp_eml.core.graph import Graph, Op

ELEMENT = "element"
PIXEL = "pixel"
ROW_RING = "row-ring"

KERNEL_GROUPS: dict[str, str] = {
    "CONV_2D": PIXEL,
    "DEPTHWISE_CONV_2D": ELEMENT,  # ROW_RING on the 3x3 ring path (kernel_grouping)
    "FULLY_CONNECTED": ELEMENT,
    "AVERAGE_POOL_2D": ELEMENT,
    "MAX_POOL_2D": ELEMENT,
    "SOFTMAX": ELEMENT,
    "RELU": ELEMENT,
    "RELU6": ELEMENT,
    "QUANTIZE": ELEMENT,
    "RESHAPE": ELEMENT,
    "LOGISTIC": ELEMENT,
    "TANH": ELEMENT,
    "MEAN": ELEMENT,
    "ADD": ELEMENT,
    "SUB": ELEMENT,
    "MUL": ELEMENT,
    "PAD": ELEMENT,
    "STRIDED_SLICE": ELEMENT,
    "TRANSPOSE": ELEMENT,
    "CONCATENATION": ELEMENT,
    "SQUEEZE": ELEMENT,
}

# ops whose output may overlap any of their dying activation inputs (each input gets its own read order)
MULTI_INPUT_INPLACE = frozenset({"ADD", "SUB", "MUL", "CONCATENATION"})


def uses_dw_ring(g: Graph, op: Op) -> bool:
    """Whether the renderer lowers this depthwise convolution to the 3x3 row-ring kernel."""
    from crisp_eml.compiler.c.lower import dw3x3_fast
    from crisp_eml.compiler.params import op_params

    x, y = g.tensor(op.inputs[0]), g.tensor(op.outputs[0])
    if op.type != "DEPTHWISE_CONV_2D" or len(x.shape) != 4 or x.shape[0] != 1:
        return False
    p = op_params(g, op)
    _, ih, iw, ic = x.shape
    _, oh, ow, oc = y.shape
    f: dict[str, int | list[int]] = dict(
        in_h=ih, in_w=iw, in_c=ic, out_h=oh, out_w=ow, out_c=oc, k_h=int(p["filter_h"]), k_w=int(p["filter_w"]),
        stride_h=int(p["stride_h"]), stride_w=int(p["stride_w"]), dil_h=int(p["dilation_h"]),
        dil_w=int(p["dilation_w"]), pad_h=int(p["pad_h"]), pad_w=int(p["pad_w"]),
        depth_mul=int(p["depth_multiplier"]))
    return bool(dw3x3_fast(f))


def kernel_grouping(g: Graph, op: Op) -> str | None:
    """The grouping of a first-round op's kernel (module docstring); None: never written over its input."""
    kind = KERNEL_GROUPS.get(op.type)
    if kind is not None and op.type == "DEPTHWISE_CONV_2D" and uses_dw_ring(g, op):
        return ROW_RING
    return kind
