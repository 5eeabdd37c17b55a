"""The compiler's internal graph: an int8 model as ops over quantized tensors.

Pure data, filled by ``compiler.reader`` from a ``.tflite`` file and consumed by the reference
interpreter, the memory planner and the C renderer. Shapes are TFLite's (NHWC).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np


@dataclass
class Tensor:
    index: int
    name: str
    shape: tuple[int, ...]
    dtype: str  # "int8", "int16", "int32", "uint8", "float32", "int64", "bool"
    scale: np.ndarray = field(default_factory=lambda: np.zeros(0, np.float32))  # per-tensor: 1 value
    zero_point: np.ndarray = field(default_factory=lambda: np.zeros(0, np.int64))
    quantized_dimension: int = 0
    data: np.ndarray | None = None  # constant buffer (weights, biases, shapes); None for activations

    @property
    def is_constant(self) -> bool:
        return self.data is not None

    @property
    def nbytes(self) -> int:
        itemsize = np.dtype(self.dtype).itemsize
        return int(np.prod(self.shape, dtype=np.int64)) * itemsize if self.shape else itemsize


@dataclass
class Op:
    index: int
    type: str  # TFLite builtin name, e.g. "CONV_2D"
    inputs: list[int]  # tensor indices; -1 = optional input absent
    outputs: list[int]
    options: dict[str, Any] = field(default_factory=dict)  # snake_case builtin options


@dataclass
class Graph:
    tensors: list[Tensor]
    ops: list[Op]
    inputs: list[int]
    outputs: list[int]
    name: str = "model"
    description: str = ""

    def tensor(self, i: int) -> Tensor:
        return self.tensors[i]
