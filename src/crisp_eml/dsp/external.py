"""The ``external`` processing block: features computed by an Edge Impulse DSP block server over HTTP.

Any server speaking Edge Impulse's DSP-block contract (Edge Impulse's own block containers, a custom processing
block, or ``eml dsp serve``) can compute an impulse's features. The block's parameters are::

    {"url": "http://127.0.0.1:4446",             # the server
     "params": {"scale-axes": 1, ...}}           # the server's own parameters (names as in its parameters.json)

and its ``implementation_version`` is the server's ``latestImplementationVersion`` when the block was made
(:func:`external_block`, which reads ``GET /parameters`` for the defaults and the version, and refuses a URL that
does not answer one). ``transform`` posts the windows to ``POST /batch`` (chunks of windows; ``POST /run`` per
window when the server has no ``/batch``), parameter names with dashes replaced by underscores as Edge Impulse's
tools send them. The output shape comes from a probe ``/run`` on an all-zero window (``output_config``:
``flat`` -> ``(width,)``; ``spectrogram`` -> ``(width, height)`` = (frames, bins), Edge Impulse's frame-major
layout), cached per process for the same URL, parameters, version and input geometry. Every failure (server
down, ``success: false``, a wrong feature count) is an :class:`InputError` naming the URL and the reason.

An external block has no C implementation: compiling or deploying an impulse that holds one is refused.
"""

from __future__ import annotations

import json
import math
from collections.abc import Mapping
from typing import Any, ClassVar
from urllib.parse import urlsplit

import numpy as np

from crisp_eml.core.errors import InputError
from crisp_eml.dsp.base import Block, Version, check_windows

TYPE = "external"
#: Seconds to connect / to wait for a reply (a batch of windows may take a while on a slow block).
CONNECT_TIMEOUT_S = 5.0
READ_TIMEOUT_S = 300.0
#: A /batch request carries at most this many windows and about this many values.
BATCH_WINDOWS = 256
BATCH_VALUES = 2_000_000

# (url, params, version, window_len, axes, frequency) -> (output shape, labels), per process
_PROBES: dict[str, tuple[tuple[int, ...], list[str]]] = {}


class _AnyVersion(tuple[Version, ...]):
    """The versions of an external block: whatever number its server gives (``>= 1``)."""

    def __contains__(self, v: object) -> bool:
        return isinstance(v, int) and not isinstance(v, bool) and v >= 1


def check_url(url: Any) -> str:
    """``url`` as ``http(s)://host[:port][/path]`` without a trailing slash, or ``InputError``."""
    if not isinstance(url, str) or not url.strip():
        raise InputError("an external block needs the URL of its server, e.g. http://127.0.0.1:4446", field="url")
    text = url.strip().rstrip("/")
    parts = urlsplit(text)
    if parts.scheme not in ("http", "https") or not parts.hostname or parts.query or parts.fragment:
        raise InputError(f"not an http(s) URL of a DSP block server: {url!r}", field="url")
    try:
        parts.port  # noqa: B018 - raises on a bad port
    except ValueError as exc:
        raise InputError(f"bad port in {url!r}", field="url") from exc
    return text


def _fail(url: str, reason: str) -> InputError:
    return InputError(f"external block {url}: {reason}", field="url")


def _client(url: str) -> Any:
    import httpx

    return httpx.Client(base_url=url, timeout=httpx.Timeout(READ_TIMEOUT_S, connect=CONNECT_TIMEOUT_S),
                        follow_redirects=False, trust_env=False)


def _request(url: str, method: str, path: str, body: Any = None) -> Any:
    """The reply of ``method path`` (an ``httpx.Response``); a server that cannot be reached is an ``InputError``."""
    import httpx

    try:
        with _client(url) as c:
            return c.request(method, path, json=body) if body is not None else c.request(method, path)
    except httpx.TimeoutException as exc:
        raise _fail(url, f"{method} {path} timed out ({type(exc).__name__})") from exc
    except httpx.HTTPError as exc:
        raise _fail(url, f"the server cannot be reached ({type(exc).__name__}: {exc})") from exc


def _json_reply(url: str, resp: Any, what: str) -> Any:
    if resp.status_code != 200:
        raise _fail(url, f"{what} answered HTTP {resp.status_code}: {resp.text[:200].strip()!r}")
    try:
        return json.loads(resp.text)
    except ValueError as exc:
        raise _fail(url, f"{what} did not answer JSON: {resp.text[:200].strip()!r}") from exc


def describe_server(url: str) -> dict[str, Any]:
    """The server's ``parameters.json`` (``GET /parameters``), checked to be an Edge Impulse DSP block's."""
    url = check_url(url)
    doc = _json_reply(url, _request(url, "GET", "/parameters"), "GET /parameters")
    if not isinstance(doc, dict) or not isinstance(doc.get("info"), dict) or not isinstance(doc.get("parameters"),
                                                                                            list):
        raise _fail(url, "not an Edge Impulse DSP block server: GET /parameters is not a parameters.json "
                         "(an object with 'info' and 'parameters')")
    return doc


def server_defaults(doc: dict[str, Any]) -> dict[str, Any]:
    """``param`` -> default ``value`` of every item of a ``parameters.json`` (groups of items, or items)."""
    out: dict[str, Any] = {}
    for entry in doc.get("parameters") or []:
        items = entry.get("items") if isinstance(entry, dict) and "items" in entry else [entry]
        for item in items or []:
            if isinstance(item, dict) and isinstance(item.get("param"), str):
                out[item["param"]] = item.get("value")
    return out


def server_version(doc: dict[str, Any]) -> int:
    v = doc["info"].get("latestImplementationVersion", 1)
    if isinstance(v, bool) or not isinstance(v, int | float) or int(v) != v or v < 1:
        return 1
    return int(v)


def external_block(url: str, *, name: str | None = None, taken: set[str] | None = None) -> dict[str, Any]:
    """A new impulse block (``to_dict`` form) computed by the server at ``url``: its defaults and latest version."""
    url = check_url(url)
    doc = describe_server(url)
    base = name or TYPE
    used = taken or set()
    final, i = base, 2
    while final in used:
        final, i = f"{base}-{i}", i + 1
    return {"name": final, "type": TYPE, "params": {"url": url, "params": server_defaults(doc)},
            "implementation_version": server_version(doc)}


def describe(params: dict[str, Any], version: Any) -> str:
    """One line for ``eml impulse show``: the URL, version and the server's parameters."""
    inner = params.get("params") or {}
    shown = ", ".join(f"{k}={v}" for k, v in inner.items()) if isinstance(inner, dict) else str(inner)
    return f"{params.get('url')} (implementation version {version})" + (f": {shown}" if shown else "")


class ExternalBlock(Block):
    type = TYPE
    versions: ClassVar[tuple[Version, ...]] = _AnyVersion((1,))
    defaults: ClassVar[dict[str, Any]] = {"url": "", "params": {}}

    def __init__(self, params: Mapping[str, Any] | None = None, version: Version | None = None) -> None:
        if version is not None and version not in self.versions:
            raise InputError(f"an external block runs its server's implementation version (a number >= 1), got "
                             f"{version!r}; make one with 'eml impulse create --block-url URL'",
                             field="implementation_version")
        super().__init__(params, version)

    @property
    def url(self) -> str:
        return check_url(self.params["url"])

    def _wire_params(self) -> dict[str, Any]:
        p = self.params["params"]
        if not isinstance(p, dict):
            raise InputError("must be a JSON object of the server's parameters", field="params")
        return {str(k).replace("-", "_"): v for k, v in p.items()}

    def _axes(self, n_axes: int) -> list[str]:
        names = self.axis_names
        return list(names) if names and len(names) == n_axes else [f"axis{i}" for i in range(n_axes)]

    def _body(self, n_axes: int, frequency_hz: float) -> dict[str, Any]:
        return {"axes": self._axes(n_axes), "sampling_freq": frequency_hz,
                "implementation_version": self.implementation_version, "params": self._wire_params()}

    def _checked(self, reply: Any, what: str) -> dict[str, Any]:
        url = self.url
        if not isinstance(reply, dict):
            raise _fail(url, f"{what} did not answer a JSON object")
        if reply.get("success") is False or "features" not in reply:
            raise _fail(url, f"{what} failed: {reply.get('error', 'no features in the reply')}")
        return reply

    def _probe(self, window_len: int, n_axes: int, frequency_hz: float) -> tuple[tuple[int, ...], list[str]]:
        key = json.dumps([self.url, self.params["params"], self.implementation_version, window_len,
                          self._axes(n_axes), frequency_hz], sort_keys=True, default=str)
        hit = _PROBES.get(key)
        if hit is not None:
            return hit
        body = {**self._body(n_axes, frequency_hz), "features": [0.0] * (window_len * n_axes), "draw_graphs": False}
        reply = self._checked(_json_reply(self.url, _request(self.url, "POST", "/run", body), "POST /run"),
                              "POST /run")
        feats = reply["features"]
        if not isinstance(feats, list) or not feats:
            raise _fail(self.url, "POST /run answered no features")
        n = len(np.asarray(feats, dtype=np.float64).reshape(-1))
        shape = _shape_of(reply.get("output_config"), n)
        labels = [str(x) for x in reply.get("labels") or []]
        _PROBES[key] = (shape, labels)
        return shape, labels

    # -- Block -----------------------------------------------------------------------------------------
    def validate(self, window_len: int, n_axes: int, frequency_hz: float) -> None:
        self._wire_params()
        if self.implementation_version not in self.versions:
            raise InputError("an external block takes its server's implementation version number",
                             field="implementation_version")
        self._probe(window_len, n_axes, frequency_hz)

    def output_shape(self, window_len: int, n_axes: int, frequency_hz: float) -> tuple[int, ...]:
        return self._probe(window_len, n_axes, frequency_hz)[0]

    def cost(self, window_len: int, n_axes: int, frequency_hz: float) -> dict[str, int]:
        n = int(np.prod(self.output_shape(window_len, n_axes, frequency_hz)))
        return {"ops": 0, "working_bytes": 4 * (window_len * n_axes + n)}  # computed off-device: unknown ops

    def transform(self, windows: np.ndarray, frequency_hz: float) -> np.ndarray:
        w = check_windows(windows)
        n, length, n_axes = w.shape
        shape = self.output_shape(length, n_axes, frequency_hz)
        width = int(np.prod(shape))
        out = np.zeros((n, width), dtype=np.float32)
        if n == 0:
            return out.reshape(0, *shape)
        flat = w.reshape(n, length * n_axes)
        per = max(1, min(BATCH_WINDOWS, BATCH_VALUES // max(1, length * n_axes)))
        body = self._body(n_axes, frequency_hz)
        batch_ok = True
        for start in range(0, n, per):
            chunk = flat[start:start + per]
            rows = self._batch(body, chunk) if batch_ok else None
            if rows is None:
                batch_ok = False
                rows = [self._run_one(body, row) for row in chunk]
            for i, r in enumerate(rows):
                vals = np.asarray(r, dtype=np.float64).reshape(-1)
                if vals.size != width:
                    raise _fail(self.url, f"window {start + i} gave {vals.size} features, expected {width} "
                                          f"(the shape {list(shape)} of the probe window)")
                out[start + i] = vals.astype(np.float32)
        return out.reshape(n, *shape)

    def _batch(self, body: dict[str, Any], chunk: np.ndarray) -> list[Any] | None:
        resp = _request(self.url, "POST", "/batch", {**body, "features": chunk.tolist()})
        if resp.status_code == 404:  # an older block server: /run per window
            return None
        reply = self._checked(_json_reply(self.url, resp, "POST /batch"), "POST /batch")
        rows = reply["features"]
        if not isinstance(rows, list) or len(rows) != len(chunk):
            got = len(rows) if isinstance(rows, list) else type(rows).__name__
            raise _fail(self.url, f"POST /batch answered {got} feature rows for {len(chunk)} windows")
        return rows

    def _run_one(self, body: dict[str, Any], row: np.ndarray) -> Any:
        resp = _request(self.url, "POST", "/run", {**body, "features": row.tolist(), "draw_graphs": False})
        return self._checked(_json_reply(self.url, resp, "POST /run"), "POST /run")["features"]


def _shape_of(config: Any, n: int) -> tuple[int, ...]:
    """The feature shape an ``output_config`` describes when it accounts for the ``n`` features, else ``(n,)``."""
    shape = config.get("shape") if isinstance(config, dict) else None
    if isinstance(shape, dict) and config.get("type") in ("spectrogram", "image"):
        dims = [shape.get(k) for k in (("width", "height") if config["type"] == "spectrogram"
                                       else ("height", "width", "channels"))]
        ints = tuple(int(d) for d in dims
                     if isinstance(d, int | float) and not isinstance(d, bool) and d >= 1 and float(d).is_integer())
        if len(ints) == len(dims) and math.prod(ints) == n:
            return ints
    return (n,)
