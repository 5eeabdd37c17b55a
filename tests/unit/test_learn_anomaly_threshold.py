"""Anomaly thresholds from held-out scores, anomaly decision metrics, sample names, overfit at the kept epoch."""

from __future__ import annotations

import numpy as np
import pytest

from crisp_eml.core.errors import InputError
from crisp_eml.learn.anomaly import AnomalyModel, fit_anomaly, fold_of
from crisp_eml.learn.blocks import parse_block
from crisp_eml.learn.metrics import anomaly_metrics, classification_metrics, overfit_warning, restored_epoch


def _recordings(rng: np.random.Generator, n_rec: int, per: int, dim: int) -> tuple[np.ndarray, np.ndarray]:
    """Windows of ``n_rec`` recordings: each recording has its own offset (windows of one are correlated)."""
    X = np.concatenate([rng.standard_normal(dim) * 0.7 + rng.standard_normal((per, dim)) for _ in range(n_rec)])
    return X, np.repeat([f"r{i}" for i in range(n_rec)], per)


def test_folds_keep_groups_together_and_are_seeded() -> None:
    g = np.repeat([f"s{i}" for i in range(12)], 5)
    f = fold_of(g, 5, seed=1)
    assert set(f.tolist()) == set(range(5))
    for s in np.unique(g):
        assert len(set(f[g == s].tolist())) == 1
    assert np.array_equal(f, fold_of(g, 5, seed=1))


@pytest.mark.parametrize(("kind", "params"), [("gmm", {"covariance": "full", "components": 3}),
                                              ("kmeans", {"clusters": 8})])
def test_held_out_threshold_controls_false_positives_on_unseen_normal_data(kind: str, params: dict) -> None:  # type: ignore[type-arg]
    rng = np.random.default_rng(0)
    X, groups = _recordings(rng, 16, 12, 20)  # 192 windows in 20 dims: easy to memorize
    fresh, _ = _recordings(rng, 16, 12, 20)
    model = fit_anomaly(X, kind, {**params, "threshold_percentile": 95.0}, seed=0, groups=groups)
    cal = model.calibration
    assert cal["method"] == "out-of-fold" and cal["folds"] == 5 and cal["windows"] == len(X)
    assert cal["held_out_score_percentile"] > cal["in_sample_score_percentile"]
    fpr = float((model.score(fresh) > model.threshold).mean())
    # the in-sample percentile flags far more unseen normal windows than the nominal 5 %
    in_sample_threshold = cal["in_sample_score_percentile"] / (model.scale if kind == "kmeans" else 1.0)
    fpr_in_sample = float((model.score(fresh) > in_sample_threshold).mean())
    assert fpr <= 0.15 < fpr_in_sample, (fpr, fpr_in_sample)
    if kind == "kmeans":
        assert model.threshold == 1.0 and model.scale == pytest.approx(cal["held_out_score_percentile"])
    again = AnomalyModel.from_dict(model.to_dict())
    assert again.calibration == cal and np.allclose(again.score(fresh), model.score(fresh))


def test_gmm_covariance_option_is_validated() -> None:
    assert parse_block({"type": "anomaly-gmm"}).params["covariance"] == "diag"
    with pytest.raises(InputError) as ei:
        parse_block({"type": "anomaly-gmm", "params": {"covariance": "tied"}})
    assert ei.value.field == "learning.params.covariance"
    X = np.random.default_rng(1).standard_normal((40, 3))
    diag = fit_anomaly(X, "gmm", {"components": 2}, seed=0)
    assert diag.covariance_type == "diag" and diag.covariances.shape == (2, 3, 3)
    assert np.allclose(diag.covariances[0], np.diag(np.diag(diag.covariances[0])))


def test_anomaly_metrics_report_decisions_and_names() -> None:
    scores = np.array([0.1, 0.2, 0.9, 2.0, 3.0, 0.5])
    is_anom = np.array([False, False, False, True, True, True])
    sids = np.array(["a", "a", "b", "c", "c", "d"])
    m = anomaly_metrics(is_anom, scores, 1.0, sids, np.array(["n", "n", "n", "x", "x", "x"]),
                        sample_names={"a": "walk.01", "c": "run.02"})
    assert m["confusion_matrix"] == [[3, 0], [1, 2]]
    assert m["accuracy"] == pytest.approx(5 / 6) and m["recall"] == pytest.approx(2 / 3)
    assert m["false_positive_rate"] == 0.0 and m["precision"] == 1.0
    assert m["balanced_accuracy"] == pytest.approx((1 + 2 / 3) / 2) and m["roc_auc"] == pytest.approx(8 / 9)
    names = {s["sample_id"]: s["name"] for s in m["per_sample"]}
    assert names == {"a": "walk.01", "b": "b", "c": "run.02", "d": "d"}  # unknown ids fall back to the id
    c = classification_metrics(np.array([0, 1]), np.array([[0.9, 0.1], [0.2, 0.8]]), ["p", "q"],
                               np.array(["a", "b"]), sample_names={"b": "q.07"})
    assert [s["name"] for s in c["per_sample"]] == ["a", "q.07"]


def test_overfit_warning_uses_the_restored_epoch() -> None:
    # validation loss is best at epoch 2; later epochs overfit but early stopping restores epoch 2's weights
    hist = {"loss": [1.0, 0.5, 0.3, 0.1, 0.05], "val_loss": [1.0, 0.6, 0.7, 0.9, 1.2],
            "accuracy": [0.5, 0.8, 0.9, 0.99, 1.0], "val_accuracy": [0.5, 0.78, 0.8, 0.8, 0.75]}
    assert restored_epoch(hist, patience=3) == 2
    assert restored_epoch(hist, patience=0) == 5  # no early stopping: the last weights stay
    assert restored_epoch({"loss": [0.9, 0.4, 0.6]}, patience=2) == 2  # no validation: monitors loss
    assert overfit_warning(hist, restored_epoch(hist, 3)) is None
    last = overfit_warning(hist)
    assert last is not None and "epoch 5" in last
    bad = {**hist, "accuracy": [0.5, 0.95, 0.9, 0.99, 1.0]}
    w = overfit_warning(bad, 2)
    assert w is not None and "epoch 2" in w and "0.950" in w
