"""Benchmark: train the default motion impulse (spectral analysis + dense NN) on about 1,000 windows.

Times the whole ``train`` use case (training, float32 + int8 conversion, TFLite Micro tests of both and the
arena bisection) and the Keras fit alone, against an anchor measured in the same run on the same features:
scikit-learn ``LogisticRegression`` fit. Target: the whole use case <= 120 s on 2 cores.

    .venv/bin/python benchmarks/train.py [--windows 1000] [--out docs/benchmarks/learn.md]
"""

from __future__ import annotations

import argparse
import os
import tempfile
import time
from pathlib import Path

import numpy as np

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--windows", type=int, default=1000, help="approximate number of training+testing windows")
    ap.add_argument("--out", type=Path, default=None, help="write a Markdown summary here")
    args = ap.parse_args()

    from crisp_eml.store.project import Project
    from crisp_eml.workspace.features import generate_features
    from crisp_eml.workspace.impulse import create_impulse
    from crisp_eml.workspace.ingest import ingest_paths
    from crisp_eml.workspace.synth import synthesize
    from crisp_eml.workspace.train import train

    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        # synthetic motion: 4 labels x 5 subjects x N recordings of 2-4 s at 62.5 Hz; ~2.5 windows each
        per_subject = max(1, round(args.windows / (4 * 5 * 2.5)))
        synthesize(root / "data", kind="motion", seed=0, size=per_subject)
        project = Project.init(root / "proj", "bench", member="bench")
        ingest_paths(project, [root / "data"])
        create_impulse(project)
        fs = generate_features(project)
        train_fs = fs.category("training")
        n_windows, n_train = len(fs.X), len(train_fs.X)

        from sklearn.linear_model import LogisticRegression

        X = train_fs.X.reshape(n_train, -1)
        X = (X - X.mean(0)) / np.where(X.std(0) > 0, X.std(0), 1)
        t0 = time.perf_counter()
        LogisticRegression(max_iter=2000).fit(X, train_fs.labels.astype(str))
        anchor = time.perf_counter() - t0

        fit_times: list[float] = []
        t_epoch = [time.perf_counter()]

        def on_epoch(epoch: int, total: int, logs: dict[str, float]) -> None:
            now = time.perf_counter()
            fit_times.append(now - t_epoch[0])
            t_epoch[0] = now

        t0 = time.perf_counter()
        run = train(project, seed=0, on_epoch=on_epoch, on_stage=lambda s: t_epoch.__setitem__(0, time.perf_counter())
                    if s == "training" else None)
        total = time.perf_counter() - t0
        fit = float(sum(fit_times))
        m = run["metrics"]
        lines = [
            "| what | value |", "|---|---|",
            f"| windows (training+validation / testing) | {n_train} / {n_windows - n_train} |",
            f"| epochs run (early stopping) | {m['epochs_run']} |",
            f"| anchor: LogisticRegression fit | {anchor:.3f} s |",
            f"| Keras fit (all epochs) | {fit:.2f} s ({fit / anchor:.0f}x anchor) |",
            f"| whole train use case | {total:.2f} s ({total / anchor:.0f}x anchor; target <= 120 s) |",
            f"| test accuracy float32 / int8 (TFLite Micro) | {m['test']['float32']['accuracy']:.4f} / "
            f"{m['test']['int8']['accuracy']:.4f} |",
            f"| int8 model bytes / TFLM arena bytes | {m['model']['int8']['bytes']} / "
            f"{m['model']['int8']['arena_bytes']} |",
        ]
    text = "\n".join(lines)
    print(text)
    print(f"\nratio whole-train / anchor: {total / anchor:.1f}; within target: {total <= 120.0}")
    if args.out:
        args.out.parent.mkdir(parents=True, exist_ok=True)
        old = args.out.read_text() if args.out.is_file() else ""
        keep = old[old.index("\n# ", 1):] if "\n# " in old[1:] else ""  # other sections (e.g. anomaly) stay
        args.out.write_text("# Training benchmark\n\nCommand: `.venv/bin/python benchmarks/train.py --out "
                            f"{args.out}` (2-core shared CPU)\n\n{text}\n{keep}")


if __name__ == "__main__":
    main()
