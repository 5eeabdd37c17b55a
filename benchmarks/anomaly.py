"""Benchmark: anomaly blocks on basic-motions, every pair of activities as "normal", the other two as anomalies.

For K-means and GMM it prints ROC-AUC and the accuracy **at the chosen threshold**, for the current default
(threshold = 95th percentile of out-of-fold scores of the normal training windows; GMM with diagonal
covariances) next to the previous behaviour (99th percentile of in-sample scores; GMM with full
covariances), plus the fit time of one block against an anchor measured in the same run on the same
features (scikit-learn ``LogisticRegression`` fit).

    .venv/bin/python benchmarks/anomaly.py
"""

from __future__ import annotations

import itertools
import os
import tempfile
import time
from pathlib import Path

import numpy as np

SHARED = Path(os.environ.get("EML_SHARED", Path(__file__).resolve().parents[2] / "shared"))


def main() -> None:
    from crisp_eml.learn.anomaly import fit_anomaly
    from crisp_eml.learn.metrics import anomaly_metrics
    from crisp_eml.store.project import Project
    from crisp_eml.workspace.features import generate_features
    from crisp_eml.workspace.impulse import create_impulse
    from crisp_eml.workspace.ingest import ingest_paths

    with tempfile.TemporaryDirectory() as tmp:
        project = Project.init(Path(tmp) / "proj", "bench", member="bench")
        ingest_paths(project, [SHARED / "datasets" / "basic-motions"])
        create_impulse(project)
        fs = generate_features(project)
    X = fs.X.reshape(len(fs.X), -1).astype(np.float64)
    lab = np.asarray([str(v) for v in fs.labels])
    sids = np.asarray([str(v) for v in fs.sample_ids])
    tr, te = fs.categories == "training", fs.categories == "testing"

    from sklearn.linear_model import LogisticRegression

    Z = (X[tr] - X[tr].mean(0)) / np.where(X[tr].std(0) > 0, X[tr].std(0), 1)
    t0 = time.perf_counter()
    LogisticRegression(max_iter=2000).fit(Z, lab[tr])
    anchor = time.perf_counter() - t0

    configs = {"kmeans": ("kmeans", {}), "gmm": ("gmm", {})}
    lines = ["| normal | kind | ROC-AUC | accuracy now (out-of-fold p95) | FPR / recall now | "
             "accuracy before (in-sample p99, GMM full) |", "|---|---|---|---|---|---|"]
    acc_now: dict[str, list[float]] = {k: [] for k in configs}
    acc_old: dict[str, list[float]] = {k: [] for k in configs}
    fit_times: list[float] = []
    for normal in itertools.combinations(sorted(set(lab.tolist())), 2):
        sel = tr & np.isin(lab, normal)
        is_anom = ~np.isin(lab[te], normal)
        for name, (kind, params) in configs.items():
            t0 = time.perf_counter()
            model = fit_anomaly(X[sel], kind, params, 0, groups=sids[sel])
            fit_times.append(time.perf_counter() - t0)
            m = anomaly_metrics(is_anom, model.score(X[te]), model.threshold, sids[te], lab[te])
            old = fit_anomaly(X[sel], kind, {"threshold_percentile": 99.0, "covariance": "full"}, 0, groups=sids[sel])
            raw = old.calibration["in_sample_score_percentile"]
            old_scores = old.score(X[te]) * (old.scale if kind == "kmeans" else 1.0)  # back to raw units
            before = float(((old_scores > raw) == is_anom).mean())
            acc_now[name].append(m["accuracy"])
            acc_old[name].append(before)
            lines.append(f"| {' + '.join(normal)} | {name} | {m['roc_auc']:.3f} | {m['accuracy']:.3f} | "
                         f"{m['false_positive_rate']:.3f} / {m['recall']:.3f} | {before:.3f} |")
    for name in configs:
        lines.append(f"| mean of 6 | {name} | | {np.mean(acc_now[name]):.3f} | | {np.mean(acc_old[name]):.3f} |")
    fit = float(np.mean(fit_times))
    print("\n".join(lines))
    print(f"\nanchor LogisticRegression fit {anchor:.3f} s; mean anomaly fit (5 folds + final) {fit:.3f} s "
          f"= {fit / anchor:.1f}x anchor")


if __name__ == "__main__":
    main()
