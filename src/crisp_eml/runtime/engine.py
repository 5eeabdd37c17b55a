"""Run a compiled library from Python through ctypes: one window, or a whole stream with post-processing.

``eml run`` and ``eml calibrate`` need the model over hours of signal. Python DSP (MFCC per window) and one
interpreter call per window are far too slow for that; the library built as a shared object with the stream
driver (``eml_stream.c``) takes a whole chunk of rows per call and returns every window's int8 outputs,
moving averages and detections. The results are the C library's, so they are the deployed device's.
"""

from __future__ import annotations

import ctypes
import shutil
import tempfile
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from crisp_eml.core.errors import InputError, VerificationError
from crisp_eml.core.postprocess import PostprocessConfig
from crisp_eml.runtime.build import build_shared
from crisp_eml.runtime.glue import ModelShape, default_postprocess, model_shape


class _PPConfig(ctypes.Structure):
    _fields_ = [("n_labels", ctypes.c_int32), ("average_windows", ctypes.c_int32),
                ("suppression_steps", ctypes.c_int32), ("thresholds", ctypes.POINTER(ctypes.c_float)),
                ("scale", ctypes.c_float), ("zero_point", ctypes.c_int32)]


def _result_type(scores: int) -> type[ctypes.Structure]:
    class Result(ctypes.Structure):
        _fields_ = [("end_row", ctypes.c_uint64), ("status", ctypes.c_int32), ("detection", ctypes.c_int32),
                    ("anomaly", ctypes.c_float), ("codes", ctypes.c_int8 * scores),
                    ("scores", ctypes.c_float * scores), ("averages", ctypes.c_float * scores)]

    return Result


def _output_type(scores: int) -> type[ctypes.Structure]:
    class Output(ctypes.Structure):
        _fields_ = [("scores", ctypes.c_float * scores), ("codes", ctypes.c_int8 * scores),
                    ("anomaly", ctypes.c_float), ("label_index", ctypes.c_int32)]

    return Output


@dataclass
class WindowOutput:
    codes: np.ndarray
    scores: np.ndarray
    anomaly: float
    label_index: int


@dataclass
class StreamResult:
    """One row per window: when it ended (rows seen), its outputs, the moving averages, the detection."""

    end_rows: np.ndarray   # uint64 [steps]
    codes: np.ndarray      # int8 [steps, scores]
    scores: np.ndarray     # float32 [steps, scores]
    averages: np.ndarray   # float32 [steps, scores]
    detections: np.ndarray  # int32 [steps], -1 = none
    anomaly: np.ndarray    # float32 [steps]

    @staticmethod
    def concat(parts: list[StreamResult], scores: int) -> StreamResult:
        if not parts:
            return StreamResult(np.zeros(0, np.uint64), np.zeros((0, scores), np.int8),
                                np.zeros((0, scores), np.float32), np.zeros((0, scores), np.float32),
                                np.zeros(0, np.int32), np.zeros(0, np.float32))
        return StreamResult(*(np.concatenate([getattr(p, f) for p in parts]) for f in
                              ("end_rows", "codes", "scores", "averages", "detections", "anomaly")))


class Stream:
    """A stream's state inside the C library: push rows as they come, get the windows that completed."""

    def __init__(self, engine: Engine, cfg: PostprocessConfig) -> None:
        self.engine = engine
        self._thresholds = (ctypes.c_float * len(cfg.thresholds))(*cfg.thresholds)
        c = _PPConfig(engine.shape.scores, cfg.average_windows, cfg.suppression_steps, self._thresholds,
                      engine.shape.output_scale, engine.shape.output_zero_point)
        self._state = ctypes.create_string_buffer(engine.lib.eml_stream_state_size())
        if engine.lib.eml_stream_init(self._state, ctypes.byref(c)) != 0:
            raise InputError("the post-processing setting was refused by the C library", field="postprocess")

    def push(self, rows: np.ndarray) -> StreamResult:
        shape = self.engine.shape
        data = np.ascontiguousarray(rows, dtype=np.float32).reshape(-1, shape.n_axes)
        n = data.shape[0]
        cap = n // shape.slice_rows + 2
        results = (self.engine.result_type * cap)()
        used = ctypes.c_size_t(0)
        got = self.engine.lib.eml_stream_push(self._state, data.ctypes.data_as(ctypes.c_void_p), n, results, cap,
                                              ctypes.byref(used))
        if used.value != n:  # pragma: no cover - cap always covers every window of the chunk
            raise VerificationError(f"the stream driver used {used.value} of {n} rows")
        arr = np.frombuffer(memoryview(results).cast("B"), dtype=self.engine.result_dtype, count=got)
        bad = arr["status"] != 0
        if bad.any():
            st = int(arr["status"][bad][0])
            raise VerificationError(f"the model failed on a window: {self.engine.status_str(st)}")
        return StreamResult(arr["end_row"].copy(), arr["codes"].copy(), arr["scores"].copy(),
                            arr["averages"].copy(), arr["detection"].copy(), arr["anomaly"].copy())


class Engine:
    """The library in ``lib_dir`` built as a shared object and loaded; ``close()`` removes the build."""

    def __init__(self, lib_dir: Path, *, slices_per_window: int | None = None) -> None:
        self.shape: ModelShape = model_shape(lib_dir, slices_per_window)
        self._tmp = Path(tempfile.mkdtemp(prefix="eml-engine-"))
        try:
            so = build_shared(lib_dir, self._tmp, slices_per_window=slices_per_window)
            self.lib = ctypes.CDLL(str(so))
        except BaseException:
            shutil.rmtree(self._tmp, ignore_errors=True)
            raise
        lib, k = self.lib, self.shape.scores
        lib.eml_stream_state_size.restype = ctypes.c_size_t
        lib.eml_stream_result_size.restype = ctypes.c_size_t
        lib.eml_stream_push.restype = ctypes.c_size_t
        lib.eml_stream_push.argtypes = [ctypes.c_void_p, ctypes.c_void_p, ctypes.c_size_t, ctypes.c_void_p,
                                        ctypes.c_size_t, ctypes.POINTER(ctypes.c_size_t)]
        lib.eml_model_classify.argtypes = [ctypes.c_void_p, ctypes.c_size_t, ctypes.c_void_p]
        lib.eml_model_status_str.restype = ctypes.c_char_p
        self.result_type = _result_type(k)
        self.output_type = _output_type(k)
        self.result_dtype = np.dtype([("end_row", np.uint64), ("status", np.int32), ("detection", np.int32),
                                      ("anomaly", np.float32), ("codes", np.int8, (k,)),
                                      ("scores", np.float32, (k,)), ("averages", np.float32, (k,))],
                                     align=True)
        if ctypes.sizeof(self.result_type) != lib.eml_stream_result_size() \
                or self.result_dtype.itemsize != lib.eml_stream_result_size():
            raise VerificationError("the stream result layout of the C library is not the one Python expects")
        if lib.eml_model_init() != 0:
            raise VerificationError("the model library failed to initialise")

    def status_str(self, status: int) -> str:
        return bytes(self.lib.eml_model_status_str(status) or b"?").decode()

    def classify(self, raw: np.ndarray) -> WindowOutput:
        data = np.ascontiguousarray(raw, dtype=np.float32).ravel()
        out = self.output_type()
        st = self.lib.eml_model_classify(data.ctypes.data_as(ctypes.c_void_p), data.size, ctypes.byref(out))
        if st != 0:
            raise InputError(f"the model refused the window: {self.status_str(st)}", field="input")
        return WindowOutput(np.array(out.codes, np.int8), np.array(out.scores, np.float32), float(out.anomaly),
                            int(out.label_index))

    def open_stream(self, cfg: PostprocessConfig | None = None) -> Stream:
        return Stream(self, cfg or default_postprocess(self.shape))

    def stream(self, rows: np.ndarray, cfg: PostprocessConfig | None = None, *, chunk_rows: int = 1 << 20,
               on_chunk: Callable[[int, int], None] | None = None) -> StreamResult:
        """Every window of ``rows`` (pushed ``chunk_rows`` at a time; ``on_chunk(rows done, rows)`` after each)."""
        s = self.open_stream(cfg)
        data = np.asarray(rows, dtype=np.float32).reshape(-1, self.shape.n_axes)
        n = data.shape[0]
        parts = []
        for i in range(0, n, chunk_rows):
            parts.append(s.push(data[i:i + chunk_rows]))
            if on_chunk is not None:
                on_chunk(min(n, i + chunk_rows), n)
        return StreamResult.concat(parts, self.shape.scores)

    def close(self) -> None:
        shutil.rmtree(self._tmp, ignore_errors=True)

    def __enter__(self) -> Engine:
        return self

    def __exit__(self, *exc: Any) -> None:
        self.close()
