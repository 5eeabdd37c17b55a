"""The processing-block contract shared by every DSP block.

A block is built from a parameter mapping (Edge Impulse names and defaults); ``__init__`` only merges
defaults and rejects unknown names. ``validate`` checks the parameters against the input (window length,
axes, frequency) and raises :class:`InputError` naming the parameter; ``output_shape`` is known from the
parameters alone; ``transform`` maps float32 ``[n, window_len, axes]`` to ``[n, *output_shape]``;
``cost`` estimates operations and working memory per window for target estimates.

Implementation versions: a block class computes one or more ``versions`` (``Block.versions``). Integers are
Edge Impulse's ``implementation_version`` numbers (at version ``v`` the block produces the features Edge
Impulse's own block produces at ``v``); :data:`CRISP` is crisp-eml's own variant (the behaviour every impulse
made before versions existed keeps). Parameter names are taken dashed or underscored (Edge Impulse's
``parameters.json`` uses dashes, its Python arguments underscores) and stored under the class's name for them;
values sent as strings by Edge Impulse's tools (``"true"``, ``"3"``) are coerced to the default's type.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, ClassVar, Final

import numpy as np

from crisp_eml.core.errors import InputError

#: crisp-eml's own variant of a block (``implementation_version: "crisp"``); impulses stored without a version
#: are this variant.
CRISP: Final = "crisp"

Version = int | str


def _coerce(value: Any, default: Any) -> Any:
    """A string Edge Impulse's tools send (``"true"``, ``"3"``, ``"0.5"``) as the default's type; else as is."""
    if not isinstance(value, str) or isinstance(default, str) or default is None:
        return value
    text = value.strip()
    if isinstance(default, bool):
        return {"true": True, "false": False}.get(text.lower(), value)
    if isinstance(default, int | float):
        try:
            f = float(text)
        except ValueError:
            return value
        return int(f) if isinstance(default, int) and f.is_integer() else f
    return value


class Block:
    type: ClassVar[str] = ""
    #: The implementation versions this class computes, oldest first (see the module docstring).
    versions: ClassVar[tuple[Version, ...]] = (CRISP,)
    defaults: ClassVar[dict[str, Any]] = {}
    #: The names of the input axes the block reads, set by the impulse pipeline (a block may send them along).
    axis_names: list[str] | None = None

    def __init__(self, params: Mapping[str, Any] | None = None, version: Version | None = None) -> None:
        v: Version = self.versions[-1] if version is None else version
        if v not in self.versions:
            raise InputError(f"block '{self.type}' has no implementation version {v!r} "
                             f"(versions: {list(self.versions)})", field="implementation_version")
        self.implementation_version: Version = v
        given: dict[str, Any] = {}
        unknown: list[str] = []
        for name, value in dict(params or {}).items():
            key = self.param_key(name)
            if key is None:
                unknown.append(name)
            else:
                given[key] = _coerce(value, self.defaults[key])
        if unknown:
            raise InputError(f"unknown parameter for block '{self.type}' at implementation version {v!r} "
                             f"(known: {sorted(self.defaults)})", field=sorted(unknown)[0])
        self.params: dict[str, Any] = {**self.defaults, **given}

    @classmethod
    def param_key(cls, name: str) -> str | None:
        """The class's name for parameter ``name`` (dashes and underscores are interchangeable), or None."""
        for key in (name, name.replace("-", "_"), name.replace("_", "-")):
            if key in cls.defaults:
                return key
        return None

    @property
    def version(self) -> str:
        """The implementation version as text (``"4"``, ``"crisp"``): for reports and cache keys."""
        return str(self.implementation_version)

    def get_params(self) -> dict[str, Any]:
        return dict(self.params)

    # -- to override ---------------------------------------------------------------------------------
    def validate(self, window_len: int, n_axes: int, frequency_hz: float) -> None:
        """Raise :class:`InputError` (field = parameter name) when the parameters do not fit the input."""

    def output_shape(self, window_len: int, n_axes: int, frequency_hz: float) -> tuple[int, ...]:
        raise NotImplementedError

    def transform(self, windows: np.ndarray, frequency_hz: float) -> np.ndarray:
        raise NotImplementedError

    def cost(self, window_len: int, n_axes: int, frequency_hz: float) -> dict[str, int]:
        n = int(np.prod(self.output_shape(window_len, n_axes, frequency_hz)))
        return {"ops": window_len * n_axes + n, "working_bytes": 4 * (window_len * n_axes + n)}

    # -- helpers -------------------------------------------------------------------------------------
    def _bool(self, name: str) -> bool:
        v = self.params[name]
        if not isinstance(v, bool):
            raise InputError(f"must be true or false, got {v!r}", field=name)
        return v

    def _number(self, name: str, *, lo: float | None = None, hi: float | None = None,
                lo_open: bool = False) -> float:
        v = self.params[name]
        if isinstance(v, bool) or not isinstance(v, int | float) or not np.isfinite(v):
            raise InputError(f"must be a number, got {v!r}", field=name)
        if lo is not None and (v < lo or (lo_open and v == lo)):
            raise InputError(f"must be {'>' if lo_open else '>='} {lo}, got {v}", field=name)
        if hi is not None and v > hi:
            raise InputError(f"must be <= {hi}, got {v}", field=name)
        return float(v)

    def _int(self, name: str, *, lo: int | None = None, hi: int | None = None) -> int:
        v = self.params[name]
        if isinstance(v, bool) or not isinstance(v, int | float) or int(v) != v:
            raise InputError(f"must be an integer, got {v!r}", field=name)
        if lo is not None and v < lo:
            raise InputError(f"must be >= {lo}, got {v}", field=name)
        if hi is not None and v > hi:
            raise InputError(f"must be <= {hi}, got {v}", field=name)
        return int(v)

    def _choice(self, name: str, choices: tuple[str, ...]) -> str:
        v = self.params[name]
        if v not in choices:
            raise InputError(f"must be one of {list(choices)}, got {v!r}", field=name)
        return str(v)

    def _pow2(self, name: str, *, lo: int = 2, hi: int = 8192) -> int:
        v = self._int(name, lo=lo, hi=hi)
        if v & (v - 1):
            raise InputError(f"must be a power of two, got {v}", field=name)
        return v


def check_windows(windows: np.ndarray) -> np.ndarray:
    w = np.asarray(windows, dtype=np.float32)
    if w.ndim != 3:
        raise InputError(f"windows are [n, window_len, axes], got shape {w.shape}", field="windows")
    return w


def moments(x: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Mean, population std, skewness and excess kurtosis along the last axis (float64).

    skew = m3 / m2**1.5 and kurt = m4 / m2**2 - 3 with central moments mk = mean((x - mean)**k)
    (scipy.stats defaults: biased, Fisher); both are 0 when m2 <= 1e-12 (a constant signal).
    """
    x = x.astype(np.float64)
    mu = x.mean(axis=-1)
    d = x - mu[..., None]
    m2 = (d * d).mean(axis=-1)
    m3 = (d ** 3).mean(axis=-1)
    m4 = (d ** 4).mean(axis=-1)
    flat = m2 <= 1e-12
    safe = np.where(flat, 1.0, m2)
    skew = np.where(flat, 0.0, m3 / safe ** 1.5)
    kurt = np.where(flat, 0.0, m4 / safe ** 2 - 3.0)
    return mu, np.sqrt(m2), skew, kurt


def scale_axes(block: Block, windows: np.ndarray) -> np.ndarray:
    s = block._number("scale-axes")
    return windows if s == 1.0 else windows * np.float32(s)
