"""Benchmark: ingest 10,000 one-second 3-axis CSV files (100 Hz) into a fresh project.

Target (issue 2): <= 60 s on 2 cores. The anchor, measured in the same run on the same files, is the
bare cost of reading and parsing them with ``numpy.loadtxt``; the script prints both times and the
ratio. Usage: ``python benchmarks/ingest.py [--n 10000] [--keep DIR]``.
"""

from __future__ import annotations

import argparse
import os
import shutil
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

from crisp_eml.core.sample import Sensor
from crisp_eml.data.formats.csv_series import write_csv
from crisp_eml.store.project import Project
from crisp_eml.workspace.ingest import ingest_paths

LABELS = ("idle", "wave", "circle", "updown")
AXES = (Sensor("accX", "m/s2"), Sensor("accY", "m/s2"), Sensor("accZ", "m/s2"))
HZ = 100.0


def make_files(folder: Path, n: int) -> list[Path]:
    rng = np.random.default_rng(0)
    paths = []
    for i in range(n):
        p = folder / LABELS[i % len(LABELS)] / f"{LABELS[i % len(LABELS)]}.{i:05d}.csv"
        p.parent.mkdir(parents=True, exist_ok=True)
        p.write_bytes(write_csv(rng.normal(0, 3, (int(HZ), 3)).astype(np.float32), AXES, HZ))
        paths.append(p)
    return paths


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--n", type=int, default=10_000)
    ap.add_argument("--keep", type=Path, default=None, help="work in this folder and keep it")
    args = ap.parse_args()
    work = args.keep or Path(tempfile.mkdtemp(prefix="eml-bench-ingest-"))
    try:
        data = work / "data"
        load0 = os.getloadavg()[0]
        t0 = time.perf_counter()
        files = make_files(data, args.n)
        print(f"generated {len(files)} files in {time.perf_counter() - t0:.1f} s")

        t0 = time.perf_counter()
        for p in files:
            np.loadtxt(p, delimiter=",", skiprows=1, dtype=np.float64)
        anchor = time.perf_counter() - t0

        project = Project.init(work / "project", "bench", member="bench")
        t0, c0 = time.perf_counter(), time.process_time()
        report = ingest_paths(project, [data])
        elapsed, cpu = time.perf_counter() - t0, time.process_time() - c0
        if report.failures or len(report.samples) != args.n:
            print(f"FAILED: {len(report.samples)} ingested, {len(report.failures)} failures: {report.failures[:3]}")
            return 1
        print(f"anchor  (read + numpy.loadtxt, {args.n} files): {anchor:7.2f} s")
        print(f"ingest  (eml ingest_paths, {args.n} files):      {elapsed:7.2f} s  "
              f"({1000 * elapsed / args.n:.2f} ms/file, {args.n / elapsed:.0f} files/s)")
        print(f"ratio   ingest / anchor: {elapsed / anchor:.2f}x   (ingest CPU time {cpu:.2f} s; load average "
              f"before/after {load0:.2f}/{os.getloadavg()[0]:.2f} on {os.cpu_count()} cores)")
        if args.n == 10_000:
            print(f"target  <= 60 s for 10,000 files: {'met' if elapsed <= 60 else 'NOT met'}")
        return 0
    finally:
        if args.keep is None:
            shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())
