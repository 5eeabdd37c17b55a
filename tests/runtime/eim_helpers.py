"""What the runtime tests share: one real classifier (BasicMotions, trained, registered and compiled once per test
session), its testing windows with the reference outputs, and a raw client for the ``.eim`` socket protocol.

``motion`` is session-scoped and shared by xdist workers through a file lock (as ``studio_helpers.demo_build``,
but never reused by a later session, so the runners are always built from the current sources):
the first worker builds the project, trains a small dense classifier on the spectral features (6 axes, 2 s
windows at 10 Hz = 120 raw values), registers it as ``models:/motion/1``, compiles it with
``eml compile --model`` and builds the x86-64 ``.eim`` and command-line runner; then an anomaly scorer
(``anomaly-kmeans``) on the same features as ``models:/motion_ad/1``; the others wait and reuse them.
Tests import the fixture (``from eim_helpers import motion  # noqa: F401``); pytest puts this folder on
``sys.path`` as for the golden helpers. ``EML_EIM_MOTION=DIR`` reuses the ``proj/`` and ``lib/`` an earlier
session built under ``DIR`` (the runners are still built from the current sources).
"""

from __future__ import annotations

import fcntl
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pytest

REPO = Path(__file__).resolve().parents[2]
SHARED = Path(os.environ.get("EML_SHARED", REPO.parent / "shared"))
BASIC_MOTIONS = SHARED / "datasets" / "basic-motions"
WINDOW_ROWS, STRIDE_ROWS, N_AXES = 20, 5, 6  # the --quick impulse: 2 s windows, 0.5 s increase, 10 Hz
SLICE_ROWS = 5  # WINDOW_ROWS / 4 slices per window (the glue's default)


@dataclass(frozen=True)
class Motion:
    root: Path     # the project
    lib: Path      # the compiled library (eml compile --model models:/motion/1)
    eim: Path      # its x86-64 .eim (runtime.build.build_program)
    run: Path      # its x86-64 command-line runner
    adlib: Path    # an anomaly scorer (anomaly-kmeans, standing + walking normal) from the same project

    @property
    def manifest(self) -> dict[str, Any]:
        return json.loads((self.lib / "MANIFEST.json").read_text())  # type: ignore[no-any-return]

    @property
    def labels(self) -> list[str]:
        return list(self.manifest["labels"])

    @property
    def output_quant(self) -> tuple[float, int]:
        out = self.manifest["outputs"][0]
        return float(out["scale"]), int(out["zero_point"])


def _eml(args: list[str], cwd: Path, env: dict[str, str]) -> str:
    done = subprocess.run([sys.executable, "-c", "from crisp_eml.cli.main import main; main()", *args], cwd=cwd,
                          env=env, capture_output=True, text=True, timeout=600)
    assert done.returncode == 0, f"eml {' '.join(args)} -> {done.returncode}\n{(done.stdout + done.stderr)[-3000:]}"
    return done.stdout


@pytest.fixture(scope="session")
def motion(tmp_path_factory: pytest.TempPathFactory) -> Motion:
    """The BasicMotions classifier, its library and its x86-64 runners, built once per test session."""
    from crisp_eml.runtime.build import build_program

    if not BASIC_MOTIONS.is_dir():
        pytest.fail(f"test data missing: {BASIC_MOTIONS}")
    session = tmp_path_factory.getbasetemp()
    if os.environ.get("PYTEST_XDIST_WORKER"):
        session = session.parent  # pytest-N/popen-gwK: pytest-N is this session's, shared by its workers
    base = session / "eim-motion"
    base.mkdir(exist_ok=True)
    m = Motion(base / "proj", base / "lib", base / "motion.eim", base / "motion-run", base / "adlib")
    if os.environ.get("EML_EIM_MOTION"):  # a developer's earlier build (proj/, lib/, adlib/); runners rebuilt
        old = Path(os.environ["EML_EIM_MOTION"])
        m = Motion(old / "proj", old / "lib", base / "motion.eim", base / "motion-run", old / "adlib")
    with (base.parent / "eim-motion.lock").open("w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        if not (base / "built").exists():
            if not os.environ.get("EML_EIM_MOTION"):
                for p in (m.root, m.lib, m.adlib):
                    shutil.rmtree(p, ignore_errors=True)
                env = {k: v for k, v in os.environ.items() if k not in ("EML_PROJECT", "EML_MEMBER")}
                _eml(["init", str(m.root), "--member", "tester"], base, env)
                _eml(["ingest", str(BASIC_MOTIONS), "--json"], m.root, env)
                _eml(["impulse", "create", "--quick"], m.root, env)
                _eml(["train", "--epochs", "8", "--json"], m.root, env)
                _eml(["models", "register", "motion"], m.root, env)
                _eml(["compile", "--model", "models:/motion/1", "-o", str(m.lib), "--vectors", "0"], m.root, env)
                kmeans = {"type": "anomaly-kmeans", "params": {"normal_labels": ["standing", "walking"]}}
                _eml(["impulse", "set", f"learning={json.dumps(kmeans)}"], m.root, env)
                _eml(["train", "--json"], m.root, env)
                _eml(["models", "register", "motion_ad"], m.root, env)
                _eml(["compile", "--model", "models:/motion_ad/1", "-o", str(m.adlib), "--vectors", "0"], m.root,
                     env)
            build_program(m.lib, "eim", m.eim)
            build_program(m.lib, "linux", m.run)
            (base / "built").touch()
    return m


def split_recordings() -> list[tuple[str, np.ndarray]]:
    """(label, rows [100, 6] float32) of every BasicMotions testing recording, in file order."""
    out = []
    for f in sorted((BASIC_MOTIONS / "testing").glob("*.csv")):
        rows = np.loadtxt(f, delimiter=",", skiprows=1, dtype=np.float32)[:, 1:1 + N_AXES]
        out.append((f.name.split(".")[0], rows))
    return out


def split_windows() -> tuple[np.ndarray, list[str]]:
    """The project's testing windows (2 s every 0.5 s): raw ``[n, 20, 6]`` float32 and each one's label."""
    windows, labels = [], []
    for label, rows in split_recordings():
        for start in range(0, len(rows) - WINDOW_ROWS + 1, STRIDE_ROWS):
            windows.append(rows[start:start + WINDOW_ROWS])
            labels.append(label)
    return np.stack(windows), labels


def tflm_codes(m: Motion, windows: np.ndarray) -> np.ndarray:
    """TFLite Micro's int8 outputs for the windows, features computed by the Python DSP (numpy), standardised
    and quantized as the library does."""
    from crisp_eml.compiler.verify import tflm_outputs
    from crisp_eml.core.impulse import ImpulseSpec
    from crisp_eml.dsp.pipeline import apply_impulse

    man = m.manifest
    feats = apply_impulse(ImpulseSpec.from_dict(man["dsp"]), windows).reshape(len(windows), -1).astype(np.float32)
    norm = man["normalization"]
    z = (feats - np.asarray(norm["mean"], np.float32)) / np.asarray(norm["std"], np.float32)
    scale, zp = np.float32(man["inputs"][0]["scale"]), int(man["inputs"][0]["zero_point"])
    v = (z / scale).astype(np.float32)
    q = np.clip(np.floor(np.abs(v) + np.float32(0.5)) * np.sign(v) + zp, -128, 127).astype(np.int8)
    return tflm_outputs((m.lib / "tests" / "model.tflite").read_bytes(), q)


def dequantize(codes: np.ndarray, scale: float, zero_point: int) -> np.ndarray:
    """The library's dequantization: float(double(scale) * (code - zero_point))."""
    return (float(np.float32(scale)) * (codes.astype(np.float64) - zero_point)).astype(np.float32)


def codes_of(scores: np.ndarray, scale: float, zero_point: int) -> np.ndarray:
    """int8 codes of dequantized scores (exact: every score is on the grid, checked by the caller)."""
    return np.rint(scores.astype(np.float64) / float(np.float32(scale)) + zero_point).astype(np.int8)


def scores_matrix(replies: list[dict[str, Any]], labels: list[str]) -> np.ndarray:
    return np.array([[r["result"]["classification"][lb] for lb in labels] for r in replies], dtype=np.float32)


@contextmanager
def serving(eim: Path | list[str], sock: Path) -> Iterator[subprocess.Popen[bytes]]:
    """The runner started on ``sock`` (a command list runs it through a wrapper such as qemu); on exit it gets
    SIGINT, must exit 0 and must remove its socket."""
    cmd = [str(eim), str(sock)] if isinstance(eim, Path) else [*eim, str(sock)]
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    try:
        deadline = time.monotonic() + 60
        while not sock.exists():
            assert proc.poll() is None, f"runner exited with {proc.returncode}: {proc.stderr.read()!r}"  # type: ignore[union-attr]
            assert time.monotonic() < deadline, "runner did not create its socket"
            time.sleep(0.02)
        yield proc
    finally:
        if proc.poll() is None:
            proc.send_signal(signal.SIGINT)
        try:
            rc = proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
            raise
    assert rc == 0, f"runner exit status {rc}: {proc.stderr.read()!r}"  # type: ignore[union-attr]
    assert not sock.exists(), "the runner left its socket behind"


class RawClient:
    """A bare Unix-socket client: send any bytes, read replies framed as the protocol says (JSON, "\\n", NUL)."""

    def __init__(self, sock: Path, timeout: float = 60.0) -> None:
        self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        self.sock.settimeout(timeout)
        self.sock.connect(str(sock))
        self.pending = b""

    def send(self, data: bytes) -> None:
        self.sock.sendall(data)

    def reply_bytes(self) -> bytes:
        """One reply exactly as sent, including its "\\n\\0" end."""
        while b"\0" not in self.pending:
            chunk = self.sock.recv(65536)
            assert chunk, "connection closed while waiting for a reply"
            self.pending += chunk
        raw, _, self.pending = self.pending.partition(b"\0")
        return raw + b"\0"

    def reply(self) -> dict[str, Any]:
        raw = self.reply_bytes()
        assert raw.endswith(b"\n\0") and raw.count(b"\n") == 1, raw[-40:]
        return json.loads(raw[:-2])  # type: ignore[no-any-return]

    def call(self, msg: dict[str, Any] | bytes, newline: bool = False) -> dict[str, Any]:
        data = msg if isinstance(msg, bytes) else json.dumps(msg).encode()
        self.send(data + (b"\n" if newline else b""))
        return self.reply()

    def close(self) -> None:
        self.sock.close()
