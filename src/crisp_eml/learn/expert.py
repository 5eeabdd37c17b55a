"""Expert mode: a user's Python file defining ``build_model(input_shape, num_classes)`` -> Keras model.

The file is imported from its path; any failure (syntax error, missing import, no ``build_model``, an
exception while building) becomes an :class:`InputError` naming the file, never a traceback.
"""

from __future__ import annotations

import importlib.util
import traceback
from collections.abc import Callable
from pathlib import Path
from typing import Any

from crisp_eml.core.errors import InputError


def load_build_fn(path: str | Path) -> Callable[[tuple[int, ...], int], Any]:
    p = Path(path)
    if not p.is_file():
        raise InputError("expert model file not found", source=str(p))
    try:
        spec = importlib.util.spec_from_file_location(f"eml_expert_{abs(hash(str(p.resolve())))}", p)
        if spec is None or spec.loader is None:
            raise ImportError("not a Python module")
        module = importlib.util.module_from_spec(spec)
        spec.loader.exec_module(module)
    except Exception as exc:  # noqa: BLE001 - user code may raise anything
        last = traceback.extract_tb(exc.__traceback__)[-1] if exc.__traceback__ else None
        line = f" (line {last.lineno})" if last is not None and last.filename == str(p) else ""
        raise InputError(f"cannot import expert model file{line}: {type(exc).__name__}: {exc}", source=str(p)) from exc
    fn = getattr(module, "build_model", None)
    if not callable(fn):
        raise InputError("expert model file must define build_model(input_shape, num_classes)", source=str(p))

    def build(input_shape: tuple[int, ...], num_classes: int) -> Any:
        try:
            model = fn(tuple(input_shape), int(num_classes))
        except Exception as exc:  # noqa: BLE001 - user code
            raise InputError(f"build_model failed: {type(exc).__name__}: {exc}", source=str(p)) from exc
        if not hasattr(model, "fit") or not hasattr(model, "predict"):
            raise InputError(f"build_model returned {type(model).__name__}, not a Keras model", source=str(p))
        return model

    return build
