"""The ``.eim`` runner under bad input: every malformed request gets one error reply (with the request's id when
one can be read) and the runner keeps serving the same connection; oversized messages are skipped by
structure; clients that vanish mid-request do not disturb the next one; signals remove the socket.

The same sequence runs against the static release build and against a host build of the same sources with
AddressSanitizer and UndefinedBehaviorSanitizer (abort on the first report), so an out-of-bounds read in the
framer or the JSON reader fails the test instead of passing silently.
"""

from __future__ import annotations

import json
import signal
import socket
import subprocess
import time
from pathlib import Path

import pytest
from eim_helpers import Motion, RawClient, motion, serving, split_windows  # noqa: F401  (motion is a fixture)

SANITIZE = ["-fsanitize=address,undefined", "-fno-sanitize-recover=all", "-fno-omit-frame-pointer", "-g", "-O1"]


def _sanitized_eim(m: Motion, out: Path) -> Path:
    from crisp_eml.runtime.build import CFLAGS, PROGRAMS, stage_sources

    srcs = stage_sources(m.lib, out.parent / "asan-src", runtime_files=PROGRAMS["eim"])
    flags = [f for f in CFLAGS if f != "-O2"]
    done = subprocess.run(["gcc", *flags, *SANITIZE, "-I", str(out.parent / "asan-src"), *map(str, srcs), "-o",
                           str(out), "-lm"], capture_output=True, text=True)
    assert done.returncode == 0, done.stderr[-3000:]
    return out


@pytest.fixture(params=["static", "asan-ubsan"])
def eim(request: pytest.FixtureRequest, motion: Motion, tmp_path: Path) -> Path:  # noqa: F811
    if request.param == "static":
        return motion.eim
    return _sanitized_eim(motion, tmp_path / "motion-asan.eim")


def _error(c: RawClient, data: bytes, id_: object, why: str) -> None:
    rep = c.call(data)
    assert rep["success"] is False and rep["id"] == id_ and why in rep["error"], (data[:80], rep)


def test_malformed_requests_get_errors_and_the_runner_keeps_serving(eim: Path, tmp_path: Path) -> None:
    window = split_windows()[0][0].ravel().tolist()
    sock = tmp_path / "s.sock"
    with serving(eim, sock):
        c = RawClient(sock)
        good = c.call({"id": 1, "classify": window})
        assert good["success"] is True
        nums = ", ".join(["0.5"] * 120)
        cases: list[tuple[bytes, object, str]] = [
            (b'{"id": 2, "classify": [1, 2,]}', 2, "element 2 is not a number at byte 28"),
            (b'{"classify": [1, 2], "id": 3}', 3, "classify takes 120 features, got 2"),
            (json.dumps({"classify": ["a"] * 120, "id": 4}).encode(), 4, "element 0 is not a number"),
            (b'{"classify": [1e999' + b", 0" * 119 + b'], "id": 5}', 5, "out of float32 range"),
            (b'{"classify": [NaN' + b", 0" * 119 + b'], "id": 6}', 6, "not a number"),
            (b'{"classify": [' + nums.encode() + b', 0.5], "id": 7}', 7, "classify takes 120 features, got 121"),
            (b'{"id": 8, "a": ' + b"[" * 40 + b"]" * 40 + b"}", 8, "nested too deeply"),
            (b'{"id": 9, "classify": {"x": 1}}', 9, "expected an array"),
            (json.dumps({"id": 10, "hello": 1, "classify": window}).encode(), 10, "one request per message"),
            (b'{"id": 11, "frobnicate": 1}', 11, "unknown request"),
            (b'{"id": 12 "hello": 1}', 12, "expected ','"),
            (b'{"id": 013, "hello": 1}', 0, "leading zero"),
            (b'{"id": [14], "hello": 1}', 0, '"id" must be a number or a string'),
            (b'{"hello": 1, "id": 15} trailing', 15, ""),  # the object is fine; the garbage after it is separate
            (b'{"id": 16, "set_threshold": {"id": 0}}', 16, "min_score"),
            (b'{"id": 17, "set_threshold": {"id": 0.5, "min_score": 0.1}}', 17, "must be an integer"),
            (b'{"id": 18, "x": "\\ud800"}', 18, "surrogate"),
            (b'{"id": 19, "x": "tab\there"}', 19, "control character"),
            (b'{"id": 20, "hello": tru}', 20, "unexpected character"),
        ]
        for data, id_, why in cases:
            if id_ == 15:
                ok = c.call(data)
                assert ok["success"] is True and ok["id"] == 15
                assert c.reply() == {"id": 0, "success": False, "error": "not a JSON object"}
                continue
            _error(c, data, id_, why)
        # garbage between objects: one error per run (whitespace ends a run), id 0
        c.send(b"hello\n")
        assert c.reply() == {"id": 0, "success": False, "error": "not a JSON object"}
        c.send(b"]]}}")
        assert c.reply()["error"] == "not a JSON object"
        # braces and quotes inside strings do not confuse the framing; unknown keys are ignored
        tricky = b'{"note": "a } b { \\" ] [", "extra": {"nested": [1, "}"]}, "debug": true, "id": 21, ' \
                 b'"classify": ' + json.dumps(window).encode() + b"}"
        rep = c.call(tricky)
        assert rep["success"] is True and rep["result"] == good["result"]
        # a request arriving one byte at a time
        for b in json.dumps({"id": 22, "classify": window}).encode():
            c.send(bytes([b]))
        assert c.reply()["result"] == good["result"]
        # an oversized message (5 MB > 4 MB) is skipped by structure, then the runner serves on
        c.send(b'{"id": 23, "classify": [' + b"0.0, " * (1 << 20) + b"0.0]}")
        rep = c.call({"id": 24, "classify": window})
        # the error reply for the oversized message comes first
        assert rep == {"id": 0, "success": False, "error": "message larger than 4194304 bytes"}
        rep = c.reply()
        assert rep["id"] == 24 and rep["result"] == good["result"]
        c.close()
        # a client that disconnects in the middle of a request does not disturb the next one
        gone = RawClient(sock)
        gone.send(b'{"id": 1, "classify": [1, 2, ')
        gone.close()
        c = RawClient(sock)
        rep = c.call({"id": 30, "classify": window})
        assert rep["success"] is True and rep["result"] == good["result"]
        c.close()


def test_replies_end_with_newline_and_nul(motion: Motion, tmp_path: Path) -> None:  # noqa: F811
    sock = tmp_path / "s.sock"
    with serving(motion.eim, sock):
        s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        s.settimeout(30)
        s.connect(str(sock))
        s.sendall(b'{"hello": 1, "id": 7}{"id": 8, "nope": 1}')
        data = b""
        while data.count(b"\0") < 2:
            chunk = s.recv(65536)
            assert chunk
            data += chunk
        first, second, rest = data.split(b"\0")
        assert rest == b"" and first.endswith(b"}\n") and second.endswith(b"}\n")
        assert first.count(b"\n") == 1 and second.count(b"\n") == 1
        assert json.loads(first)["id"] == 7 and json.loads(second) == {
            "id": 8, "success": False,
            "error": "unknown request: expected hello, classify, classify_continuous or set_threshold"}
        s.close()


def test_stale_socket_is_replaced_and_sigterm_cleans_up(motion: Motion, tmp_path: Path) -> None:  # noqa: F811
    sock = tmp_path / "s.sock"
    stale = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    stale.bind(str(sock))
    stale.close()  # leaves the socket file with nobody listening
    proc = subprocess.Popen([str(motion.eim), str(sock)], stderr=subprocess.PIPE)
    try:
        deadline = time.monotonic() + 30
        while True:
            try:
                c = RawClient(sock)
                break
            except (ConnectionRefusedError, FileNotFoundError):
                assert proc.poll() is None and time.monotonic() < deadline
                time.sleep(0.02)
        assert c.call({"hello": 1, "id": 1})["success"] is True
        proc.send_signal(signal.SIGTERM)  # while a client is connected
        assert proc.wait(timeout=30) == 0
        assert not sock.exists()
        c.close()
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()


def test_bad_usage(motion: Motion, tmp_path: Path) -> None:  # noqa: F811
    r = subprocess.run([str(motion.eim)], capture_output=True, text=True)
    assert r.returncode == 2 and "usage" in r.stderr
    long_path = tmp_path / ("x" * 120)
    r = subprocess.run([str(motion.eim), str(long_path)], capture_output=True, text=True)
    assert r.returncode == 2 and "socket path longer than" in r.stderr


LABELS = ['say "yes"', "back\\slash", "Grüße", "tab\there", "noise", *[f"k{i}" for i in range(7)]]


def test_awkward_labels_and_large_valid_messages(tmp_path: Path) -> None:
    """Labels with quotes, backslashes, control characters and UTF-8 are escaped in every reply (the official
    client parses them back); a 16,000-sample window (about 200 kB of JSON) is classified like any other."""
    import numpy as np
    from edge_impulse_linux.runner import ImpulseRunner
    from kws_libraries import KWS, mfcc_library

    from crisp_eml.runtime.build import build_program
    from crisp_eml.runtime.engine import Engine
    from crisp_eml.workspace.compile import compile_model

    compile_model(str(KWS), tmp_path / "kws", vectors=0, labels=LABELS, use_project=False)
    rng = np.random.default_rng(9)
    for lib, n in ((tmp_path / "kws", 490), (mfcc_library(tmp_path / "kws_mfcc"), 16000)):
        eim = build_program(lib, "eim", tmp_path / f"{lib.name}.eim")
        # the client's default (as users run it): with allow_shm=False it sets a socket timeout, and then its
        # socket.send() may write only part of a 330 kB request (it does not use sendall)
        r = ImpulseRunner(str(eim))
        info = r.init()
        try:
            labels = info["model_parameters"]["labels"]
            assert info["model_parameters"]["input_features_count"] == n
            with Engine(lib) as eng:
                for _ in range(3):
                    x = rng.uniform(-1, 1, n).astype(np.float32)
                    got = r.classify(x.tolist())["result"]["classification"]
                    assert list(got) == labels
                    np.testing.assert_array_equal(np.array(list(got.values()), np.float32), eng.classify(x).scores)
        finally:
            proc = r._runner
            r.stop()
            assert proc is not None and proc.wait(timeout=30) == 0
        if n == 490:
            assert labels == LABELS
