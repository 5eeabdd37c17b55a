"""Anomaly blocks on real data through the CLI: basic-motions with two activities as normal, two as anomalies.

The threshold comes from out-of-fold scores of the normal training windows (see ``crisp_eml.learn.anomaly``);
the test checks that the decisions at that threshold are good, not only the threshold-free ROC-AUC, and that
per-sample results carry the sample names.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from cli_helpers import basic_motions_project, cli_ok

from conftest import BASIC_MOTIONS

NORMAL = ["standing", "walking"]


def test_anomaly_threshold_gives_good_decisions_on_basic_motions(run_cli, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    root = basic_motions_project(run_cli, tmp_path, BASIC_MOTIONS)
    for kind in ("anomaly-gmm", "anomaly-kmeans"):
        learning = json.dumps({"type": kind, "params": {"normal_labels": NORMAL}})
        cli_ok(run_cli, ["impulse", "set", f"learning={learning}"], root)
        run = json.loads(cli_ok(run_cli, ["train", "--json"], root))
        m = run["metrics"]["test"]["model"]
        cal = run["metrics"]["calibration"]
        assert cal["method"] == "out-of-fold" and cal["folds"] == 5 and cal["percentile"] == 95.0
        # held-out normal scores sit above in-sample ones: the threshold is not fitted to memorized windows
        assert cal["held_out_score_percentile"] > cal["in_sample_score_percentile"]
        assert m["roc_auc"] >= 0.98, (kind, m["roc_auc"])
        assert m["accuracy"] >= 0.90, (kind, m["accuracy"], m["confusion_matrix"])
        assert m["false_positive_rate"] <= 0.15 and m["recall"] >= 0.9, (kind, m)
        assert sum(map(sum, m["confusion_matrix"])) == m["windows"] == 17 * 40
        res = json.loads(cli_ok(run_cli, ["test", "--json"], root))
        assert res["accuracy"] == pytest.approx(m["accuracy"]) and res["roc_auc"] == pytest.approx(m["roc_auc"])
        names = {s["name"] for s in res["per_sample"]}
        assert len(res["per_sample"]) == 40 and "running.01" in names and "walking.10" in names
        for s in res["per_sample"]:
            assert s["name"].split(".")[0] == s["label"] and s["sample_id"] != s["name"]
            assert s["expected_anomaly"] == (s["label"] not in NORMAL)
    code, out, err = run_cli(["test", "--per-sample"], cwd=root)
    assert code == 0 and "walking.03" in out and "accuracy" in out and "ROC-AUC" in out
