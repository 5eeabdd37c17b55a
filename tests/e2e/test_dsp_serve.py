"""``eml dsp serve BLOCK``: a built-in block served over Edge Impulse's DSP-block HTTP contract, as a real process.

Each test starts ``eml dsp serve`` on a free loopback port, talks to it over HTTP (``GET /``, ``GET /parameters``,
``POST /run``, ``POST /batch``, errors, unknown paths) comparing the features with the block's own ``transform``,
and stops it (SIGTERM or SIGINT: exit status 0). Tests for Edge Impulse's latest spectral / audio versions run once
those block classes exist (``importorskip``).
"""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import httpx
import numpy as np
import pytest

import crisp_eml
from crisp_eml.dsp.registry import make_block

WAIT_S = 60.0


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@contextmanager
def _served(block: str, tmp_path: Path, stop: int = signal.SIGTERM) -> Iterator[str]:
    """``eml dsp serve BLOCK`` on a free port; its URL while it runs; stopped (and its exit checked) after."""
    port = _free_port()
    src = str(Path(crisp_eml.__file__).resolve().parents[1])
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([src, os.environ.get("PYTHONPATH", "")])}
    log = (tmp_path / f"{block}.log").open("w")
    proc = subprocess.Popen([sys.executable, "-m", "crisp_eml.cli.main", "dsp", "serve", block, "--port", str(port),
                             "--json"], stdout=subprocess.PIPE, stderr=log, text=True, env=env)
    try:
        line = proc.stdout.readline() if proc.stdout else ""
        assert line, f"eml dsp serve {block} printed nothing: {(tmp_path / f'{block}.log').read_text()}"
        ready = json.loads(line)
        assert ready["url"] == f"http://127.0.0.1:{port}" and ready["block"] == block
        deadline = time.monotonic() + WAIT_S
        while True:
            assert proc.poll() is None, f"exited {proc.returncode}: {(tmp_path / f'{block}.log').read_text()}"
            try:
                if httpx.get(ready["url"] + "/", timeout=2).status_code == 200:
                    break
            except httpx.HTTPError:
                pass
            assert time.monotonic() < deadline, "the block server did not come up"
            time.sleep(0.1)
        yield ready["url"]
    finally:
        if proc.poll() is None:
            proc.send_signal(stop)
        try:
            code = proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(timeout=30)
            raise AssertionError(f"eml dsp serve {block} did not stop on signal {stop}") from None
        finally:
            if proc.stdout:
                proc.stdout.close()
            log.close()
    assert code == 0, f"eml dsp serve {block} exited {code}: {(tmp_path / f'{block}.log').read_text()}"


def _post(url: str, path: str, body: Any) -> dict[str, Any]:
    r = httpx.post(url + path, json=body, timeout=60)
    assert r.status_code == 200 and r.headers["content-type"].startswith("application/json"), r.text
    return dict(r.json())


def _items(doc: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {i["param"]: i for g in doc["parameters"] for i in g["items"]}


def _motion(n: int = 125, axes: int = 3, seed: int = 0) -> np.ndarray:
    t = np.arange(n) / 62.5
    rng = np.random.default_rng(seed)
    x = np.stack([np.sin(2 * np.pi * (1.5 + a) * t) * (a + 1) for a in range(axes)], axis=1)
    return (x + 0.2 * rng.standard_normal(x.shape)).astype(np.float32)


def test_raw_block_contract(tmp_path: Path) -> None:
    x = _motion(50, 2)
    with _served("raw", tmp_path) as url:
        r = httpx.get(url + "/", timeout=10)
        assert r.status_code == 200 and r.text == "Edge Impulse DSP block: Raw Data by crisp-eml"
        doc = httpx.get(url + "/parameters", timeout=10).json()
        assert doc["version"] == 1 and doc["info"]["latestImplementationVersion"] == 1
        assert doc["info"]["cppType"] == "raw_custom" and doc["info"]["title"] == "Raw Data"
        assert _items(doc) == {"scale-axes": {"name": "Scale axes", "value": 1.0, "type": "float",
                                              "help": _items(doc)["scale-axes"]["help"], "param": "scale-axes"}}

        body = {"features": x.reshape(-1).tolist(), "axes": ["accX", "accY"], "sampling_freq": 62.5,
                "draw_graphs": False, "implementation_version": 1, "params": {"scale_axes": "0.5"}}
        got = _post(url, "/run", body)
        want = make_block("raw", {"scale-axes": 0.5}, 1).transform(x[None], 62.5)[0].reshape(-1)
        assert got["success"] is True and np.array_equal(np.asarray(got["features"], np.float32), want)
        assert got["output_config"] == {"type": "flat", "shape": {"width": 100}}
        assert got["graphs"] == [] and got["fft_used"] == [] and got["labels"] == []
        # dashed names too, and no version: the block's latest
        dashed = _post(url, "/run", {**body, "params": {"scale-axes": 0.5}, "implementation_version": None})
        assert dashed["features"] == got["features"]

        windows = [x.reshape(-1).tolist(), (x * 3).reshape(-1).tolist()]
        batch = _post(url, "/batch", {**body, "features": windows})
        assert batch["success"] is True and batch["output_config"] == got["output_config"]
        assert batch["features"][0] == got["features"]
        assert np.array_equal(np.asarray(batch["features"][1], np.float32), (x * np.float32(3) * np.float32(0.5))
                              .reshape(-1))

        # errors: HTTP 200, success false, the message naming what is wrong
        for bad, named in (({**body, "params": {"scale-axes": "lots"}}, "scale-axes"),
                           ({**body, "params": {"gain": 2}}, "gain"),
                           ({**body, "implementation_version": 3}, "implementation_version"),
                           ({**body, "features": []}, "features"),
                           ({**body, "features": [1.0, 2.0, 3.0]}, "features"),
                           ({k: v for k, v in body.items() if k != "sampling_freq"}, "sampling_freq")):
            err = _post(url, "/run", bad)
            assert err["success"] is False and named in err["error"], (bad, err)
        r = httpx.post(url + "/run", content=b"{not json", timeout=10)
        assert r.status_code == 200 and r.json()["success"] is False
        for method, path in (("GET", "/nope"), ("POST", "/nope"), ("GET", "/run")):
            r = httpx.request(method, url + path, timeout=10)
            assert r.status_code == 404 and r.text == f"Invalid path {path}\n", (method, path, r.text)


def test_flatten_block_contract_and_ctrl_c(tmp_path: Path) -> None:
    from crisp_eml.dsp.external import ExternalBlock

    x = _motion(80, 3, seed=1)
    params = {"scale-axes": 2.0, "stdev": False, "kurtosis": "false"}
    with _served("flatten", tmp_path, stop=signal.SIGINT) as url:
        doc = httpx.get(url + "/parameters", timeout=10).json()
        items = _items(doc)
        assert list(items) == ["scale-axes", "average", "minimum", "maximum", "rms", "stdev", "skewness", "kurtosis"]
        assert all(items[k]["type"] == "boolean" and items[k]["value"] is True for k in list(items)[1:])
        body = {"features": x.reshape(-1).tolist(), "axes": ["x", "y", "z"], "sampling_freq": 100,
                "draw_graphs": True, "implementation_version": 1, "params": params}
        got = _post(url, "/run", body)
        blk = make_block("flatten", params, 1)
        want = blk.transform(x[None], 100.0)[0]
        assert np.array_equal(np.asarray(got["features"], np.float32), want)
        assert got["labels"] == ["Average", "Minimum", "Maximum", "RMS", "Skewness"]
        assert got["output_config"] == {"type": "flat", "shape": {"width": 15}}
        xs = np.stack([x, _motion(80, 3, seed=2)])
        batch = _post(url, "/batch", {**body, "features": [w.reshape(-1).tolist() for w in xs]})
        assert np.array_equal(np.asarray(batch["features"], np.float32), blk.transform(xs, 100.0))
        assert batch["labels"] == got["labels"]

        # the served block as an external block of an impulse: the same features as the built-in block
        ext = ExternalBlock({"url": url, "params": {k: str(v) for k, v in params.items()}}, 1)
        assert ext.output_shape(80, 3, 100.0) == (15,)
        assert np.array_equal(ext.transform(xs, 100.0), blk.transform(xs, 100.0))


def test_spectral_block_crisp_variant(tmp_path: Path) -> None:
    x = _motion()
    params = {"filter-type": "low", "filter-cutoff": "8", "fft-length": 32, "do-log": "true"}
    with _served("spectral-analysis", tmp_path) as url:
        doc = httpx.get(url + "/parameters", timeout=10).json()
        assert doc["info"]["cppType"] == "spectral_analysis" and doc["info"]["author"] == "crisp-eml"
        items = _items(doc)
        assert items["filter-type"]["type"] == "select" and items["filter-type"]["valid"] == ["low", "high", "none"]
        assert items["fft-length"]["showIf"] == {"parameter": "analysis-type", "operator": "eq", "value": "FFT"}
        body = {"features": x.reshape(-1).tolist(), "axes": ["accX", "accY", "accZ"], "sampling_freq": 62.5,
                "draw_graphs": False, "implementation_version": "crisp", "params": params}
        got = _post(url, "/run", body)
        blk = make_block("spectral-analysis", params, "crisp")
        want = blk.transform(x[None], 62.5)[0].reshape(-1)
        assert got["success"] is True and np.array_equal(np.asarray(got["features"], np.float32), want)
        assert got["fft_used"] == [32] and got["output_config"] == {"type": "flat", "shape": {"width": want.size}}
        assert len(got["labels"]) * 3 == want.size  # one axis' worth of names
        err = _post(url, "/run", {**body, "params": {**params, "fft-length": 30}})
        assert err["success"] is False and "fft-length" in err["error"] and "power of two" in err["error"]


def test_spectral_block_latest_edge_impulse_version(tmp_path: Path) -> None:
    pytest.importorskip("crisp_eml.dsp.ei_spectral")
    x = _motion()
    with _served("spectral-analysis", tmp_path) as url:
        doc = httpx.get(url + "/parameters", timeout=10).json()
        assert doc["info"]["latestImplementationVersion"] == 4
        items = _items(doc)
        assert items["analysis-type"]["value"] == "FFT" and items["fft-length"]["value"] == 16
        assert items["extra-low-freq"]["showForImplementationVersion"] == [4]
        # as Edge Impulse's tools send it: every parameter, underscored, select values as strings
        params = {k.replace("-", "_"): v for k, v in ((k, i["value"]) for k, i in items.items())}
        body = {"features": x.reshape(-1).tolist(), "axes": ["accX", "accY", "accZ"], "sampling_freq": 62.5,
                "draw_graphs": False, "implementation_version": 4, "params": params}
        got = _post(url, "/run", body)
        want = make_block("spectral-analysis", params, 4).transform(x[None], 62.5)[0].reshape(-1)
        assert got["success"] is True and np.allclose(got["features"], want, rtol=0, atol=0)
        assert got["labels"][:3] == ["RMS", "Skewness", "Kurtosis"]


def test_mfcc_block_latest_edge_impulse_version(tmp_path: Path) -> None:
    pytest.importorskip("crisp_eml.dsp.ei_audio")
    rng = np.random.default_rng(3)
    t = np.arange(8000) / 8000.0
    x = (8000 * np.sin(2 * np.pi * 440 * t) + 500 * rng.standard_normal(t.size)).astype(np.float32)[:, None]
    with _served("mfcc", tmp_path) as url:
        doc = httpx.get(url + "/parameters", timeout=10).json()
        assert doc["info"]["latestImplementationVersion"] == 4 and doc["info"]["cppType"] == "mfcc_custom"
        body = {"features": x.reshape(-1).tolist(), "axes": ["audio"], "sampling_freq": 8000, "draw_graphs": False,
                "implementation_version": 4, "params": {"num_cepstral": 13, "frame_stride": 0.02}}
        got = _post(url, "/run", body)
        blk = make_block("mfcc", body["params"], 4)
        want = blk.transform(x[None], 8000.0)[0]
        assert got["success"] is True and np.array_equal(np.asarray(got["features"], np.float32), want.reshape(-1))
        assert got["output_config"]["type"] == "spectrogram"
        assert got["output_config"]["shape"] == {"width": want.shape[0], "height": want.shape[1]}
        assert got["fft_used"] == [int(blk.params["num_filters"]), int(blk.params["fft_length"])]
