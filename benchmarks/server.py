"""Benchmark the team server against the CLI, in one run on the same machine (issue 11).

1. Ingestion: 5,000 one-second 3-axis CSV samples. Anchor: ``eml ingest`` of the folder (a fresh project).
   Server: ``eml serve`` on another fresh project, 4 concurrent clients posting 100 files per request to the
   Edge Impulse compatible ``/api/training/files`` with an ingestion key. Prints both throughputs and the ratio
   server / CLI (target >= 0.8).
2. Listing: the anchor project grows to 10,000 samples; 20 concurrent clients fetch pages of 100 from
   ``GET /api/v1/samples`` (random offsets). Prints p50/p99 (target p99 < 50 ms on 2 cores), then the same
   while a training job runs in the server's job runner, and the ratio loaded / idle p99 (target < 2x). The
   clients are Python threads on the same 2 cores as the server; where Apache Bench (``ab``) is installed, its
   figures for one page requested over and over are printed too (a C client takes far less of the CPU).

Usage: ``python benchmarks/server.py [--n 5000] [--requests 40] [--keep DIR] [--json]``.
"""

from __future__ import annotations

import argparse
import json
import os
import queue
import random
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import requests

sys.path.insert(0, str(Path(__file__).parent))
from ingest import make_files  # noqa: E402  (benchmarks/ingest.py: the same generated files)

EML = str(Path(sys.executable).with_name("eml"))


def eml(cwd: Path, *args: str) -> Any:
    out = subprocess.run([EML, *args, "--json"], cwd=cwd, check=True, capture_output=True, text=True).stdout
    return json.loads(out) if out.strip() else None


def free_port() -> int:
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@contextmanager
def served(root: Path, workers: int = 1) -> Iterator[str]:
    port = free_port()
    proc = subprocess.Popen([EML, "serve", "--port", str(port), "--log-level", "warning", "--workers", str(workers)],
                            cwd=root,
                            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, start_new_session=True)
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                if requests.get(f"{url}/health", timeout=1).ok:
                    break
            except requests.ConnectionError:
                pass
            if proc.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError(f"server did not start: {proc.stderr.read().decode() if proc.stderr else ''}")
            time.sleep(0.1)
        yield url
    finally:
        proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(timeout=60)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)


def http_ingest(url: str, key: str, files: list[Path], clients: int, per_request: int) -> tuple[float, int]:
    batches: queue.Queue[list[Path]] = queue.Queue()
    for i in range(0, len(files), per_request):
        batches.put(files[i:i + per_request])
    ok = [0] * clients
    errors: list[str] = []

    def client(idx: int) -> None:
        with requests.Session() as s:
            while True:
                try:
                    batch = batches.get_nowait()
                except queue.Empty:
                    return
                parts = [("data", (p.name, p.read_bytes(), "text/csv")) for p in batch]
                r = s.post(f"{url}/api/training/files", files=parts, headers={"x-api-key": key}, timeout=600)
                if r.status_code != 200:
                    errors.append(f"{r.status_code}: {r.text[:200]}")
                    continue
                ok[idx] += sum(1 for f in r.json()["files"] if f.get("success"))

    threads = [threading.Thread(target=client, args=(i,)) for i in range(clients)]
    t0 = time.perf_counter()
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    elapsed = time.perf_counter() - t0
    if errors:
        raise RuntimeError(f"{len(errors)} requests failed, first: {errors[0]}")
    return elapsed, sum(ok)


def list_latencies(url: str, token: str, clients: int, per_client: int, total: int) -> list[float]:
    lat: list[float] = []
    lock = threading.Lock()

    def client(seed: int) -> None:
        rng = random.Random(seed)
        mine = []
        with requests.Session() as s:
            s.headers["Authorization"] = f"Bearer {token}"
            s.get(f"{url}/api/v1/samples", params={"limit": 1}, timeout=60).raise_for_status()  # connect first
            for _ in range(per_client):
                t0 = time.perf_counter()
                r = s.get(f"{url}/api/v1/samples", params={"limit": 100, "offset": rng.randrange(0, total - 100)},
                          timeout=60)
                mine.append(time.perf_counter() - t0)
                r.raise_for_status()
                assert len(r.json()["items"]) == 100
        with lock:
            lat.extend(mine)

    threads = [threading.Thread(target=client, args=(i,)) for i in range(clients)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    return lat


def ab_latencies(url: str, token: str, clients: int, requests_n: int) -> dict[str, float] | None:
    """Apache Bench (a C load generator: next to no client CPU) on one page of 100; None without ``ab``.
    Returns its percentiles in ms and the requests per second."""
    if shutil.which("ab") is None:
        return None
    out = subprocess.run(["ab", "-q", "-n", str(requests_n), "-c", str(clients), "-H", f"Authorization: Bearer {token}",
                          f"{url}/api/v1/samples?limit=100&offset=5000"], capture_output=True, text=True,
                         check=True).stdout
    figures: dict[str, float] = {}
    for line in out.splitlines():
        parts = line.split()
        if len(parts) == 2 and parts[0].endswith("%") and parts[1].isdigit():
            figures[f"p{parts[0][:-1]}_ms"] = float(parts[1])
        elif line.startswith("Requests per second:"):
            figures["per_s"] = float(parts[3])
        elif line.startswith(("Failed requests:", "Non-2xx responses:")) and int(parts[-1]) > 0:
            raise RuntimeError(f"ab: {line}")
    return figures


def pct(values: list[float], q: float) -> float:
    return statistics.quantiles(values, n=1000)[int(q * 1000) - 1] if len(values) > 1 else values[0]


def wait_running(url: str, token: str, job_id: str, timeout: float = 300) -> str:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        job = requests.get(f"{url}/api/v1/jobs/{job_id}", headers={"Authorization": f"Bearer {token}"},
                           timeout=30).json()
        if job["status"] != "queued":
            return str(job["status"])
        time.sleep(0.2)
    return "queued"


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--n", type=int, default=5000, help="samples ingested each way (the listing uses 2n)")
    ap.add_argument("--requests", type=int, default=40, help="listing requests per client")
    ap.add_argument("--workers", type=int, default=os.cpu_count() or 1,
                    help="server processes for the listing part (default: one per core)")
    ap.add_argument("--keep", type=Path, default=None)
    ap.add_argument("--json", action="store_true")
    args = ap.parse_args()
    work = args.keep or Path(tempfile.mkdtemp(prefix="eml-bench-server-"))
    out: dict[str, Any] = {"n": args.n, "cores": os.cpu_count()}
    try:
        files = make_files(work / "data", 2 * args.n)
        first, second = work / "first", work / "second"
        for i, p in enumerate(files):
            dest = (first if i < args.n else second) / p.parent.name / p.name
            dest.parent.mkdir(parents=True, exist_ok=True)
            p.rename(dest)
        first_files = sorted(first.rglob("*.csv"))

        cli, srv = work / "cli", work / "srv"
        for root in (cli, srv):
            subprocess.run([EML, "init", str(root), "--member", "bench"], check=True, capture_output=True)
        t0 = time.perf_counter()
        report = eml(cli, "ingest", str(first), "--category", "training")
        cli_s = time.perf_counter() - t0
        assert report["ingested"] == args.n, report
        key = eml(srv, "ingest-key", "create")["key"]
        with served(srv) as url:
            http_s, stored = http_ingest(url, key, first_files, clients=4, per_request=100)
        assert stored == args.n, stored
        out["ingest"] = {"cli_s": cli_s, "http_s": http_s, "cli_per_s": args.n / cli_s,
                         "http_per_s": args.n / http_s, "ratio": (args.n / http_s) / (args.n / cli_s)}
        i = out["ingest"]
        print(f"anchor  eml ingest, {args.n} files:               {cli_s:7.2f} s ({i['cli_per_s']:.0f} files/s)")
        print(f"server  HTTP ingest, 4 clients x 100 files/req: {http_s:7.2f} s ({i['http_per_s']:.0f} files/s)")
        print(f"ratio   server / CLI throughput: {i['ratio']:.2f}x   (target >= 0.8: "
              f"{'met' if i['ratio'] >= 0.8 else 'NOT met'})")

        eml(cli, "ingest", str(second), "--category", "training")
        total = 2 * args.n
        eml(cli, "impulse", "create", "--quick", "--window-size-ms", "1000", "--block", "spectral-analysis")
        token = eml(cli, "members", "token", "create", "bench")["token"]
        with served(cli, args.workers) as url:
            ab = ab_latencies(url, token, 20, 20 * args.requests)
            idle = list_latencies(url, token, 20, args.requests, total)
            r = requests.post(f"{url}/api/v1/train", json={"epochs": 30}, timeout=60,
                              headers={"Authorization": f"Bearer {token}"})
            r.raise_for_status()
            job = r.json()["id"]
            state = wait_running(url, token, job)
            time.sleep(3)  # past the worker's start-up, into feature generation and training
            ab_train = ab_latencies(url, token, 20, 20 * args.requests)
            loaded = list_latencies(url, token, 20, args.requests, total)
            after = requests.get(f"{url}/api/v1/jobs/{job}", headers={"Authorization": f"Bearer {token}"},
                                 timeout=30).json()
            requests.post(f"{url}/api/v1/jobs/{job}/cancel", headers={"Authorization": f"Bearer {token}"},
                          timeout=30)
        out["list"] = {"samples": total, "clients": 20, "requests": len(idle), "server_workers": args.workers,
                       "idle_p50_ms": 1000 * pct(idle, 0.5), "idle_p99_ms": 1000 * pct(idle, 0.99),
                       "train_p50_ms": 1000 * pct(loaded, 0.5), "train_p99_ms": 1000 * pct(loaded, 0.99),
                       "job_status_during": state, "job_status_after": after["status"]}
        lst = out["list"]
        lst["ratio"] = lst["train_p99_ms"] / lst["idle_p99_ms"]
        print(f"list    GET /api/v1/samples (100 of {total}), {args.workers} server processes, 20 clients x "
              f"{args.requests} back to back: p50 "
              f"{lst['idle_p50_ms']:.1f} ms, p99 {lst['idle_p99_ms']:.1f} ms (target < 50 ms: "
              f"{'met' if lst['idle_p99_ms'] < 50 else 'NOT met'})")
        print(f"        while a training job runs ({state} -> {after['status']}): p50 {lst['train_p50_ms']:.1f} ms, "
              f"p99 {lst['train_p99_ms']:.1f} ms; p99 ratio {lst['ratio']:.2f}x (target < 2: "
              f"{'met' if lst['ratio'] < 2 else 'NOT met'})")
        if ab is not None and ab_train is not None:
            lst["ab_same_page"] = {"idle": ab, "training": ab_train, "ratio": ab_train["p99_ms"] / ab["p99_ms"]}
            print(f"ab      -c 20, the same page each time (cached while nothing changes): {ab['per_s']:.0f}/s, "
                  f"p50 {ab['p50_ms']:.0f} ms, p99 {ab['p99_ms']:.0f} ms (target < 50 ms: "
                  f"{'met' if ab['p99_ms'] < 50 else 'NOT met'})")
            print(f"        while the training job runs: {ab_train['per_s']:.0f}/s, p50 {ab_train['p50_ms']:.0f} ms, "
                  f"p99 {ab_train['p99_ms']:.0f} ms; p99 ratio {lst['ab_same_page']['ratio']:.2f}x (target < 2: "
                  f"{'met' if lst['ab_same_page']['ratio'] < 2 else 'NOT met'})")
        else:
            print("ab      (Apache Bench not installed: apt-get install apache2-utils for the C-client figures)")
        print(f"load average now {os.getloadavg()[0]:.2f} on {os.cpu_count()} cores")
        if args.json:
            print(json.dumps(out, indent=2))
        return 0
    finally:
        if args.keep is None:
            shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())
