"""External processing blocks end to end: an impulse whose features come from an Edge Impulse DSP block server.

The block server is written here (``http.server`` in a thread on 127.0.0.1) and speaks Edge Impulse's contract:
``GET /parameters`` (a parameters.json), ``POST /run`` and ``POST /batch``. Its features: per axis, the mean and
(when ``with-max``) the maximum of the window times ``scale-axes``. The test builds a project, makes the impulse
with ``eml impulse create --block-url``, checks the features against what the server computes (numpy here),
the cache, a model trained on them, and that compile and deploy refuse the impulse naming the server.
"""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from cli_helpers import add_sine_samples, cli_ok

VERSION = 2  # the test server's latestImplementationVersion


def _stats(window: list[float], axes: int, params: dict[str, Any]) -> list[float]:
    x = np.asarray(window, dtype=np.float64).reshape(-1, axes) * float(params["scale_axes"])
    out: list[float] = []
    for a in range(axes):
        out.append(float(x[:, a].mean()))
        if str(params["with_max"]).lower() == "true":
            out.append(float(x[:, a].max()))
    return out


class _Handler(BaseHTTPRequestHandler):
    server: Any

    def log_message(self, *args: Any) -> None:  # quiet
        return

    def _send(self, code: int, body: Any, ctype: str = "application/json") -> None:
        data = body.encode() if isinstance(body, str) else json.dumps(body).encode()
        self.send_response(code)
        self.send_header("Content-Type", ctype)
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def do_GET(self) -> None:  # noqa: N802 - http.server's name
        if self.server.mode == "not-ei":
            self._send(404, f"Invalid path {self.path}\n", "text/plain")
        elif self.path == "/":
            self._send(200, "Edge Impulse DSP block: Axis stats by crisp-eml tests", "text/plain")
        elif self.path == "/parameters":
            self._send(200, {"version": 1, "type": "dsp",
                             "info": {"title": "Axis stats", "author": "crisp-eml tests", "name": "Axis stats",
                                      "latestImplementationVersion": VERSION},
                             "parameters": [{"group": "Stats", "items": [
                                 {"name": "Scale axes", "value": 1, "type": "float", "param": "scale-axes"},
                                 {"name": "Maximum", "value": True, "type": "boolean", "param": "with-max"}]}]})
        else:
            self._send(404, f"Invalid path {self.path}\n", "text/plain")

    def do_POST(self) -> None:  # noqa: N802
        body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
        self.server.log.append((self.path, body))
        if self.path == "/batch" and self.server.mode == "no-batch":
            self._send(404, f"Invalid path {self.path}\n", "text/plain")
            return
        if self.path not in ("/run", "/batch"):
            self._send(404, f"Invalid path {self.path}\n", "text/plain")
            return
        try:
            p, axes = body["params"], len(body["axes"])
            if body["implementation_version"] != VERSION:
                raise ValueError(f"no implementation version {body['implementation_version']}")
            float(p["scale_axes"])
            if self.path == "/run":
                f = _stats(body["features"], axes, p)
                self._send(200, {"features": f, "graphs": [], "labels": ["Mean", "Max"], "fft_used": [],
                                 "output_config": {"type": "flat", "shape": {"width": len(f)}}})
            else:
                rows = [_stats(w, axes, p) for w in body["features"]]
                self._send(200, {"success": True, "features": rows, "labels": ["Mean", "Max"],
                                 "output_config": {"type": "flat", "shape": {"width": len(rows[0])}}})
        except Exception as exc:  # as Edge Impulse's servers: HTTP 200, success false
            self._send(200, {"success": False, "error": str(exc)})


@contextmanager
def _block_server(mode: str = "ok") -> Iterator[tuple[str, list[tuple[str, Any]]]]:
    srv = ThreadingHTTPServer(("127.0.0.1", 0), _Handler)
    srv.mode = mode  # type: ignore[attr-defined]
    srv.log = []  # type: ignore[attr-defined]
    t = threading.Thread(target=srv.serve_forever, daemon=True)
    t.start()
    try:
        yield f"http://127.0.0.1:{srv.server_address[1]}", srv.log  # type: ignore[attr-defined]
    finally:
        srv.shutdown()
        srv.server_close()
        t.join(timeout=10)


def _add_signals(project: Any) -> None:
    add_sine_samples(project, slow_offset=2.0)


def _expected(project: Any, scale: float) -> np.ndarray:
    """What the server computes for every window of every sample, computed here with numpy."""
    from crisp_eml.core.impulse import windows_for
    from crisp_eml.data.samples import list_samples, load_array
    from crisp_eml.workspace.impulse import current_impulse

    spec = current_impulse(project)
    rows = []
    for s in list_samples(project):
        w = windows_for(spec, load_array(project, s), s.frequency_hz, s.axes).astype(np.float64) * scale
        rows.append(np.stack([w[:, :, 0].mean(1), w[:, :, 0].max(1), w[:, :, 1].mean(1), w[:, :, 1].max(1)], 1))
    return np.concatenate(rows).astype(np.float32)


def test_external_block_features_training_and_refused_compile(project, run_cli, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    from crisp_eml.workspace.features import generate_features

    root = project.root
    _add_signals(project)
    with _block_server() as (url, log):
        info = json.loads(cli_ok(run_cli, ["impulse", "create", "--block-url", url, "--window-size-ms", "2000",
                                           "--window-increase-ms", "1000", "--json"], root))
        [blk] = info["spec"]["blocks"]
        assert blk["type"] == "external" and blk["implementation_version"] == VERSION
        assert blk["params"] == {"url": url, "params": {"scale-axes": 1, "with-max": True}}
        assert info["n_features"] == 4 and info["output_shapes"] == [[4]]
        shown = cli_ok(run_cli, ["impulse", "show"], root)
        assert url in shown and f"implementation version {VERSION}" in shown and "scale-axes=1" in shown

        gen = json.loads(cli_ok(run_cli, ["features", "generate", "--json", "--workers", "1"], root))
        assert gen["computed"] == 8 and gen["windows"] == 8 * 5  # (120 - 40) / 20 + 1 windows per sample
        # the wire format: underscored parameter names, the impulse's axis names, the stored version
        _, body = next(e for e in log if e[0] == "/batch")
        assert body["params"] == {"scale_axes": 1, "with_max": True} and body["axes"] == ["ax", "ay"]
        assert body["implementation_version"] == VERSION and body["sampling_freq"] == 20.0
        fs = generate_features(project)
        np.testing.assert_allclose(fs.X, _expected(project, 1.0), rtol=1e-6, atol=1e-6)
        assert json.loads(cli_ok(run_cli, ["features", "generate", "--json"], root))["cache_hits"] == 8

        # the server's parameters are the block's: a change is a new cache key, and new features
        cli_ok(run_cli, ["impulse", "set", "blocks.0.params.params.scale-axes=2"], root)
        gen = json.loads(cli_ok(run_cli, ["features", "generate", "--json", "--workers", "1"], root))
        assert gen["computed"] == 8 and gen["cache_hits"] == 0
        np.testing.assert_allclose(generate_features(project).X, _expected(project, 2.0), rtol=1e-6, atol=1e-6)

        # the server refusing a parameter: the error names the block's URL and says the server's reason
        code, _, err = run_cli(["impulse", "set", "blocks.0.params.params.scale-axes=\"lots\""], cwd=root)
        message = " ".join(err.split())
        assert code == 2 and url in message and "could not convert string to float" in message, err

        run = json.loads(cli_ok(run_cli, ["train", "--epochs", "3", "--json", "--seed", "1"], root))
        assert run["impulse_hash"] != info["hash"]  # trained on the current impulse (scale-axes 2)
        assert run["metrics"]["test"]["int8"]["accuracy"] is not None
        cli_ok(run_cli, ["models", "register", "stats", "--run", run["id"]], root)

    # the server is gone: uncached features fail naming it (nothing cached for a new parameter value)
    from crisp_eml.dsp.external import ExternalBlock

    blk_obj = ExternalBlock({"url": url, "params": {"scale-axes": 3, "with-max": True}}, VERSION)
    with pytest.raises(Exception) as exc:
        blk_obj.transform(np.zeros((1, 40, 2), np.float32), 20.0)
    assert url in str(exc.value) and "cannot be reached" in str(exc.value)

    # compile and deploy refuse the impulse: no C implementation, naming the server
    for argv in (["compile", "--model", "models:/stats/1", "-o", str(tmp_path / "lib")],
                 ["deploy", "models:/stats/1", "--target", "cortex-m4", "-o", str(tmp_path / "b.zip")]):
        code, out, err = run_cli(argv, cwd=root)
        message = " ".join(err.split())
        assert code == 2 and "block 'external'" in message and url in message, (argv, code, err)
        assert "has no C implementation" in message and "Traceback" not in err
    assert not (tmp_path / "lib").exists() and not (tmp_path / "b.zip").exists()


def test_render_refuses_external_and_batch_falls_back_to_run(tmp_path: Path) -> None:
    from crisp_eml.compiler.dsp_c import render_dsp_c
    from crisp_eml.core.errors import InputError
    from crisp_eml.dsp.external import ExternalBlock

    spec = {"input": {"type": "time-series", "window_size_ms": 1000, "window_increase_ms": 500, "frequency_hz": 20,
                      "axes": ["ax", "ay"]},
            "blocks": [{"name": "r", "type": "raw", "params": {}},
                       {"name": "ext", "type": "external", "implementation_version": VERSION,
                        "params": {"url": "http://127.0.0.1:9/", "params": {}}}]}
    with pytest.raises(InputError) as exc:  # refused before anything asks the (absent) server
        render_dsp_c(spec)
    assert exc.value.field == "blocks.1.type" and "http://127.0.0.1:9" in str(exc.value)
    assert "has no C implementation" in str(exc.value)

    from crisp_eml.dsp.registry import make_block

    with pytest.raises(InputError, match="--block-url") as exc:  # no crisp-eml variant of an external block
        make_block("external", {"url": "http://127.0.0.1:9"})
    assert exc.value.field == "implementation_version"
    with pytest.raises(InputError, match="not an http"):
        make_block("external", {"url": "file:///etc/passwd"}, 1).validate(20, 2, 20.0)

    w = np.random.default_rng(1).normal(size=(7, 20, 2)).astype(np.float32)
    want = np.stack([w[:, :, 0].mean(1), w[:, :, 1].mean(1)], 1).astype(np.float64)
    for mode in ("ok", "no-batch"):
        with _block_server(mode) as (url, log):
            blk = ExternalBlock({"url": url, "params": {"scale-axes": 1, "with-max": False}}, VERSION)
            blk.axis_names = ["ax", "ay"]
            got = blk.transform(w, 20.0)
            assert got.shape == (7, 2) and got.dtype == np.float32
            np.testing.assert_allclose(got, want, rtol=1e-6, atol=1e-6)
            paths = [p for p, _ in log]
            if mode == "ok":
                assert "/batch" in paths and paths.count("/run") == 1  # the one probe of the output shape
            else:
                assert paths.count("/run") == 1 + 7  # the probe, then one /run per window
            with pytest.raises(InputError) as exc:  # a version the server does not know: success false
                ExternalBlock({"url": url, "params": {"scale-axes": 1, "with-max": False}}, 7).transform(w, 20.0)
            assert url in str(exc.value) and "no implementation version 7" in str(exc.value)


def test_a_url_that_is_not_a_block_server_is_refused(project, run_cli) -> None:  # type: ignore[no-untyped-def]
    _add_signals(project)
    with _block_server("not-ei") as (url, _):
        code, _, err = run_cli(["impulse", "create", "--block-url", url], cwd=project.root)
    message = " ".join(err.split())
    assert code == 2 and url in message and "GET /parameters answered HTTP 404" in message, err
    code, _, err = run_cli(["impulse", "create", "--block", "external"], cwd=project.root)
    assert code == 2 and "--block-url" in err
    code, _, err = run_cli(["impulse", "show"], cwd=project.root)
    assert code == 3  # nothing was stored


def test_block_url_after_built_in_blocks(project, run_cli) -> None:  # type: ignore[no-untyped-def]
    _add_signals(project)
    with _block_server() as (url, _):
        info = json.loads(cli_ok(run_cli, ["impulse", "create", "--block", "flatten", "--block-url", url,
                                           "--block-url", url, "--window-size-ms", "2000", "--json"], project.root))
    assert [(b["name"], b["type"]) for b in info["spec"]["blocks"]] == [
        ("flatten", "flatten"), ("external", "external"), ("external-2", "external")]
    assert info["output_shapes"] == [[14], [4], [4]] and info["n_features"] == 22
    assert info["choice"]["method"] == "quick" and info["spec"]["learning"] is not None
