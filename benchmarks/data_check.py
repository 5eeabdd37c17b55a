"""Benchmark: ``check_dataset`` (every quality check, near-duplicate search included) on N samples.

Each sample is one second of 3-axis motion at 62.5 Hz. The anchor, measured in the same run on the same
project, is the bare cost of reading and decoding every sample's blob (``load_arrays``), which the check
must do anyway; the script prints both times and the ratio (check / anchor). Also timed: ``eml data
clean --repair --resample 50`` equivalent. Usage: ``python benchmarks/data_check.py [--n 2000]``.
"""

from __future__ import annotations

import argparse
import shutil
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

from crisp_eml.core.sample import Sensor
from crisp_eml.data.samples import add_sample, list_samples, load_arrays
from crisp_eml.store.project import Project
from crisp_eml.workspace.check import check_dataset
from crisp_eml.workspace.clean import clean

LABELS = ("idle", "wave", "circle", "updown")
AXES = [Sensor("accX"), Sensor("accY"), Sensor("accZ")]
HZ = 62.5


def build(root: Path, n: int) -> Project:
    p = Project.init(root, "bench", member="bench")
    rng = np.random.default_rng(0)
    t = np.arange(int(HZ)) / HZ
    with p.session() as s:
        for i in range(n):
            f = 1 + (i % 7) + rng.random()
            arr = np.stack([np.sin(2 * np.pi * f * t + k) for k in range(3)], axis=1)
            arr += rng.normal(0, 0.3, arr.shape)
            add_sample(p, s, arr.astype(np.float32), name=f"s{i:05d}", label=LABELS[i % 4],
                       category="testing" if i % 5 == 0 else "training", kind="timeseries", sensors=AXES,
                       frequency_hz=HZ, source="bench")
    return p


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--n", type=int, default=2000)
    args = ap.parse_args()
    work = Path(tempfile.mkdtemp(prefix="eml-bench-check-"))
    try:
        t0 = time.perf_counter()
        p = build(work / "p", args.n)
        print(f"built {args.n} samples in {time.perf_counter() - t0:.1f} s")
        t0 = time.perf_counter()
        arrays = load_arrays(p, list_samples(p))
        anchor = time.perf_counter() - t0
        assert len(arrays) == args.n
        t0 = time.perf_counter()
        report = check_dataset(p, window_ms=900, audit=False)
        checked = time.perf_counter() - t0
        t0 = time.perf_counter()
        cleaned = clean(p, repair=True, resample_hz=50)
        cleaned_s = time.perf_counter() - t0
        print(f"anchor (load+decode all blobs): {anchor:.2f} s")
        print(f"check_dataset: {checked:.2f} s  ({args.n / checked:.0f} samples/s), score {report.score:.1f}, "
              f"issues {report.issue_counts}")
        print(f"ratio check/anchor: {checked / anchor:.1f}x")
        print(f"clean --repair --resample 50: {cleaned_s:.2f} s for {cleaned.kept} samples "
              f"(ratio {cleaned_s / anchor:.1f}x anchor)")
    finally:
        shutil.rmtree(work, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
