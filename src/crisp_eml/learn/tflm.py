"""Run ``.tflite`` models through the TensorFlow Lite Micro interpreter (the code that runs on the MCU).

Every accuracy figure of a float32 or int8 model and the "smallest working arena" come from here, so the
numbers users see are TFLite Micro's, not the desktop TFLite/XNNPACK interpreter's.

The ``tflite_micro`` Python wrapper *crashes the process* (segfault) when the arena is too small or the
flatbuffer is corrupt, so anything that may fail runs in a short-lived child process first
(:func:`tflm_runs`); only a model known to run is loaded in-process by :func:`tflm_predict`.
"""

from __future__ import annotations

import contextlib
import functools
import os
import subprocess
import sys
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import numpy as np

from crisp_eml.core.errors import InputError, ToolMissingError

# One child script, two modes. ``probe SIZE`` prints "ok" when the model runs with that arena. ``bisect LO HI``
# searches inside one child: a size that works prints "ok N" and the search goes on in the same process; a size
# that fails usually kills the process (the parent then knows "try N" failed).
_CHILD = r"""
import sys
import numpy as np
from tflite_micro import runtime

def invoke(data, size):
    it = runtime.Interpreter.from_bytes(data, arena_size=size)
    i = 0
    while True:
        try:
            d = it.get_input_details(i)
        except Exception:
            break
        it.set_input(np.zeros([int(s) for s in d["shape"]], dtype=d["dtype"]), i)
        i += 1
    it.invoke()

data = open(sys.argv[1], "rb").read()
if sys.argv[2] == "probe":
    invoke(data, int(sys.argv[3]))
    print("ok")
    sys.exit(0)
lo, hi = int(sys.argv[3]), int(sys.argv[4])
while hi - lo > 1:
    mid = (lo + hi) // 2
    print("try", mid, flush=True)
    try:
        invoke(data, mid)
    except Exception:
        print("fail", mid, flush=True)
        lo = mid
        continue
    print("ok", mid, flush=True)
    hi = mid
print("done", lo, hi, flush=True)
"""

_MAX_ARENA = 64 * 1024 * 1024


@dataclass(frozen=True)
class TensorInfo:
    """Shape, dtype and (per-tensor) quantization of one model input or output."""

    shape: tuple[int, ...]
    dtype: str
    scale: float
    zero_point: int

    def to_dict(self) -> dict[str, Any]:
        return {"shape": list(self.shape), "dtype": self.dtype, "scale": self.scale, "zero_point": self.zero_point}


def _runtime() -> Any:
    try:
        from tflite_micro import runtime
    except ImportError as exc:  # pragma: no cover - the ml extra is part of the install
        raise ToolMissingError("the 'tflite-micro' package is not installed (pip install 'crisp-eml[ml]')") from exc
    return runtime


def _default_arena(model_bytes: bytes) -> int:
    return max(len(model_bytes) * 10, 256 * 1024)


@contextlib.contextmanager
def _model_file(model_bytes: bytes) -> Iterator[str]:
    """The model written to a temporary ``.tflite`` file for a child process; removed afterwards."""
    with tempfile.NamedTemporaryFile(suffix=".tflite", delete=False) as fh:
        fh.write(model_bytes)
        path = fh.name
    try:
        yield path
    finally:
        os.unlink(path)


def _child(path: str, args: list[str], timeout: int) -> subprocess.CompletedProcess[str]:
    """Run :data:`_CHILD` on the model file in a fresh interpreter (a TFLite Micro crash kills only the child)."""
    env = {**os.environ, "TF_CPP_MIN_LOG_LEVEL": "3"}
    return subprocess.run([sys.executable, "-c", _CHILD, path, *args], capture_output=True, text=True,
                          timeout=timeout, env=env, check=False)


def tflm_runs(model_bytes: bytes, arena_size: int) -> bool:
    """True when TFLite Micro can allocate ``arena_size`` bytes for the model and invoke it once."""
    _runtime()
    with _model_file(model_bytes) as path:
        try:
            proc = _child(path, ["probe", str(int(arena_size))], timeout=120)
        except subprocess.TimeoutExpired:
            return False
    return proc.returncode == 0 and proc.stdout.strip().endswith("ok")


@functools.lru_cache(maxsize=32)
def _checked(model_bytes: bytes) -> int:
    """The arena size known to work for this model (cached by content)."""
    arena = _default_arena(model_bytes)
    while not tflm_runs(model_bytes, arena):
        if arena >= _MAX_ARENA:
            raise InputError("not a valid TFLite model, or one TFLite Micro cannot run (corrupt .tflite?)",
                             field="model")
        arena = min(arena * 4, _MAX_ARENA)
    return arena


def check_model(model_bytes: bytes) -> int:
    """Raise :class:`InputError` unless TFLite Micro can run the model; return an arena size that works."""
    if len(model_bytes) < 16 or model_bytes[4:8] != b"TFL3":
        raise InputError("not a TFLite flatbuffer (missing 'TFL3' identifier)", field="model")
    return _checked(model_bytes)


def tflm_min_arena(model_bytes: bytes) -> int:
    """TFLite Micro's smallest working ``arena_size`` in bytes, found by bisection (each probe in a child)."""
    hi = check_model(model_bytes)
    lo = 0  # largest size known to fail (0 always fails)
    with _model_file(model_bytes) as path:
        while hi - lo > 1:
            proc = _child(path, ["bisect", str(lo), str(hi)], timeout=300)
            tried = None
            for line in proc.stdout.splitlines():
                word, _, num = line.partition(" ")
                if word == "try":
                    tried = int(num)
                elif word == "ok":
                    hi, tried = int(num), None
                elif word == "fail":
                    lo, tried = int(num), None
            if tried is not None:  # the child died trying this size
                lo = tried
            elif proc.returncode != 0:
                raise InputError("TFLite Micro failed while measuring the arena", field="model")
    return hi


def _info(details: dict[str, Any]) -> TensorInfo:
    q = details.get("quantization_parameters", {})
    scales = np.asarray(q.get("scales", []), dtype=np.float64)
    zps = np.asarray(q.get("zero_points", []), dtype=np.int64)
    return TensorInfo(
        shape=tuple(int(s) for s in details["shape"]), dtype=np.dtype(details["dtype"]).name,
        scale=float(scales[0]) if scales.size else 0.0, zero_point=int(zps[0]) if zps.size else 0,
    )


def io_details(model_bytes: bytes) -> tuple[TensorInfo, TensorInfo]:
    """(input, output) description of a single-input, single-output model."""
    arena = check_model(model_bytes)
    it = _runtime().Interpreter.from_bytes(model_bytes, arena_size=arena)
    return _info(it.get_input_details(0)), _info(it.get_output_details(0))


def quantize(x: np.ndarray, info: TensorInfo) -> np.ndarray:
    """Float features to the model's integer input type (identity for float inputs)."""
    if info.dtype not in ("int8", "uint8", "int16") or info.scale == 0.0:
        return np.asarray(x, dtype=info.dtype)
    lim = np.iinfo(info.dtype)
    # float32 division and rounding half away from zero, as TFLite Micro's QUANTIZE and the C library's
    # <name>_quantize_input do (float64 or round-half-even would differ by one code on rare values)
    with np.errstate(over="ignore", invalid="ignore"):
        v = np.asarray(x, dtype=np.float32) / np.float32(info.scale)
    v = np.where(np.isnan(v), np.float32(65536.0), np.clip(v, -65536.0, 65536.0))  # NaN -> the top code, as in C
    q = np.trunc(v)
    frac = v - q
    q = q + (frac >= 0.5) - (frac <= -0.5) + info.zero_point
    return np.clip(q, lim.min, lim.max).astype(info.dtype)


def dequantize(y: np.ndarray, info: TensorInfo) -> np.ndarray:
    """Model outputs back to float32 (identity for float outputs)."""
    if info.dtype not in ("int8", "uint8", "int16") or info.scale == 0.0:
        return np.asarray(y, dtype=np.float32)
    return ((np.asarray(y, dtype=np.float64) - info.zero_point) * info.scale).astype(np.float32)


def tflm_predict(model_bytes: bytes, X: np.ndarray, arena_size: int | None = None) -> np.ndarray:
    """Raw outputs of the model for each row of ``X`` (already in the model's input dtype).

    ``X`` has shape ``[n, *input_shape[1:]]`` (or any shape with the same number of values per row);
    the result has shape ``[n, *output_shape[1:]]`` in the model's output dtype.
    """
    arena = check_model(model_bytes) if arena_size is None else arena_size
    it = _runtime().Interpreter.from_bytes(model_bytes, arena_size=arena)
    in_info, out_info = _info(it.get_input_details(0)), _info(it.get_output_details(0))
    X = np.asarray(X)
    per_row = int(np.prod(in_info.shape[1:])) if len(in_info.shape) > 1 else 1
    if X.ndim == 0 or X.shape[0] == 0:
        return np.zeros((0, *out_info.shape[1:]), dtype=out_info.dtype)
    if int(np.prod(X.shape[1:])) != per_row:
        raise InputError(f"features have {int(np.prod(X.shape[1:]))} values per window but the model expects "
                         f"{per_row} (input shape {list(in_info.shape)})", field="features")
    if X.dtype != np.dtype(in_info.dtype):
        raise InputError(f"features are {X.dtype} but the model input is {in_info.dtype}", field="features")
    out = np.empty((X.shape[0], *out_info.shape[1:]), dtype=out_info.dtype)
    for i in range(X.shape[0]):
        it.set_input(X[i].reshape((1, *in_info.shape[1:])), 0)
        it.invoke()
        out[i] = np.asarray(it.get_output(0)).reshape(out_info.shape[1:])
    return out


def tflm_predict_float(model_bytes: bytes, X: np.ndarray) -> np.ndarray:
    """Float outputs for float features, quantizing the input and dequantizing the output as the model says."""
    in_info, out_info = io_details(model_bytes)
    return dequantize(tflm_predict(model_bytes, quantize(X, in_info)), out_info)
