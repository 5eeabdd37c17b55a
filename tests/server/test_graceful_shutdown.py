"""Graceful shutdown of a real ``eml serve``: SIGTERM while an upload is still arriving.

The issue asks that SIGTERM finish in-flight requests and leave no half-written records. The client here sends
a multipart upload of many files as a chunked body, and pauses it half way: the server has begun the request
(its receive folder holds the first files) when it gets SIGTERM. From then on it must refuse new connections,
yet finish the paused upload once the client sends the rest (200, every file stored), then exit with code 0;
afterwards every sample has its blob and the audit trail verifies, signed to its last entry.
"""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import threading
import time
import urllib.request
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import IO

import numpy as np
import requests
from server_helpers import OWNER, free_port, make_project

from crisp_eml.core.sample import Sensor
from crisp_eml.data.formats.csv_series import write_csv
from crisp_eml.data.samples import list_samples
from crisp_eml.store.project import Project
from crisp_eml.workspace.check import read_signal

S3 = (Sensor("x"), Sensor("y"), Sensor("z"))
N_FILES = 60
BOUNDARY = "eml-graceful-shutdown-boundary"
WAIT_S = 60.0  # bound on every wait below (a hang fails the test instead of blocking it)


def _part(i: int) -> bytes:
    data = write_csv(np.random.default_rng(i).normal(size=(100, 3)).astype(np.float32), S3, 100.0)
    head = (f"--{BOUNDARY}\r\nContent-Disposition: form-data; name=\"files\"; filename=\"wave.{i}.csv\"\r\n"
            "Content-Type: text/csv\r\n\r\n").encode()
    return head + data + b"\r\n"


def _wait_for(what: str, check: Callable[[], bool]) -> None:
    deadline = time.monotonic() + WAIT_S
    while not check():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        time.sleep(0.02)


def _refused(port: int) -> bool:
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=2):
            return False
    except ConnectionRefusedError:
        return True


def _start(root: Path, tmp: Path, log: IO[str]) -> tuple[subprocess.Popen[str], str, int]:
    port = free_port()
    eml = Path(sys.executable).with_name("eml")
    env = {**os.environ, "TMPDIR": str(tmp)}  # the server's receive folders land here, where the test sees them
    # stderr to a file, not a pipe nobody reads: a full pipe would block the server's logging, and so the server
    proc = subprocess.Popen([str(eml), "serve", "--port", str(port), "--json", "--log-level", "warning"], cwd=root,
                            env=env, stdout=subprocess.PIPE, stderr=log, text=True)
    url = json.loads(proc.stdout.readline())["url"] if proc.stdout else ""

    def up() -> bool:
        if proc.poll() is not None:
            raise AssertionError(f"eml serve exited with {proc.returncode}: {Path(log.name).read_text()}")
        try:
            with urllib.request.urlopen(f"{url}/health", timeout=2) as r:
                return bool(r.status == 200)
        except OSError:
            return False

    _wait_for("the server to answer /health", up)
    return proc, url, port


def test_sigterm_finishes_the_upload_in_flight_then_exits_cleanly(tmp_path: Path) -> None:
    root = tmp_path / "proj"
    _p, tokens, _key = make_project(root)
    receive_tmp = tmp_path / "tmp"
    receive_tmp.mkdir()
    parts = [_part(i) for i in range(N_FILES)]
    half = N_FILES // 2
    paused, resume = threading.Event(), threading.Event()

    def body() -> Iterator[bytes]:
        yield from parts[:half]
        paused.set()
        resume.wait(WAIT_S)
        yield from parts[half:]
        yield f"--{BOUNDARY}--\r\n".encode()

    log = (tmp_path / "serve.log").open("w")
    proc, url, port = _start(root, receive_tmp, log)
    result: dict[str, object] = {}

    def upload() -> None:
        try:
            r = requests.post(f"{url}/api/v1/samples", data=body(), timeout=WAIT_S * 2,
                              headers={"Authorization": f"Bearer {tokens[OWNER]}",
                                       "Content-Type": f"multipart/form-data; boundary={BOUNDARY}"})
            result["status"], result["body"] = r.status_code, r.json()
        except Exception as exc:  # noqa: BLE001 - reported by the assertions below
            result["error"] = repr(exc)

    client = threading.Thread(target=upload)
    try:
        client.start()
        _wait_for("the client to send half the body", paused.is_set)
        # The server is inside the request: its receive folder holds the files of the first half.
        _wait_for("the server to receive the first files",
                  lambda: any(len(list(d.iterdir())) >= half for d in receive_tmp.glob("eml-receive-*")))
        proc.send_signal(signal.SIGTERM)
        _wait_for("the server to stop listening", lambda: _refused(port))
        assert proc.poll() is None, "the server exited with a request still in flight"
        assert list_samples(Project.open(root)) == []  # nothing of the paused upload is stored yet
        resume.set()
        client.join(WAIT_S * 2)
        assert not client.is_alive()
        try:
            code = proc.wait(timeout=WAIT_S)
        except subprocess.TimeoutExpired as exc:
            raise AssertionError("the server did not exit after finishing its last request") from exc
    finally:
        resume.set()
        if proc.poll() is None:
            proc.kill()
            proc.wait()
        log.close()
        err = (tmp_path / "serve.log").read_text()
        if proc.stdout is not None:
            proc.stdout.close()
    assert "error" not in result, result
    assert result["status"] == 200, result
    answer = result["body"]
    assert isinstance(answer, dict) and answer["ingested"] == N_FILES and answer["failed"] == 0, answer
    assert code == 0, f"eml serve exited with {code}: {err}"
    assert _refused(port)
    assert list(receive_tmp.glob("eml-receive-*")) == []  # the receive folder was cleaned up

    project = Project.open(root)
    samples = list_samples(project)
    assert sorted(s.id for s in samples) == sorted(s["id"] for s in answer["samples"])
    assert len(samples) == N_FILES
    for s in samples:
        arr, problem = read_signal(project, s)
        assert problem is None and arr is not None, (s.name, problem)
    eml = Path(sys.executable).with_name("eml")
    audit = subprocess.run([str(eml), "audit", "verify"], cwd=root, capture_output=True, text=True, timeout=120,
                           env={**os.environ, "EML_MEMBER": OWNER})
    assert audit.returncode == 0, audit.stdout + audit.stderr  # whole chain, signed up to its last entry
