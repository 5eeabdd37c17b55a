"""Small-data training with TensorFlow: k-fold cross-validation chooses the epochs, the final model trains on every
training window, class weights apply in every fold, and the run records what was done."""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest
from learn_helpers import blobs

from crisp_eml.learn import nn
from crisp_eml.learn.blocks import parse_block
from crisp_eml.learn.trainer import fit_block

pytestmark = pytest.mark.slow

# 18 training recordings of 4 windows, overlapping classes, a fast learning rate: a 20 % split (4 recordings) with
# patience 3 stops at epoch 2 (test accuracy 0.39) where training on reaches 0.64.
NOISY: dict[str, Any] = {"sep": 1.0, "seed": 1, "n_per_class": 24, "test_fraction": 0.5}
PARAMS = {"epochs": 30, "batch_size": 8, "early_stopping_patience": 3, "learning_rate": 0.01}


def _fit(mode: str, **extra: Any):  # type: ignore[no-untyped-def]
    block = parse_block({"params": {**PARAMS, "validation": mode, **extra}})
    return fit_block(blobs(**NOISY), block, seed=0, measure_arena=False)


def test_kfold_trains_longer_than_early_stopping_on_a_tiny_split_and_tests_better() -> None:
    split, kfold = _fit("split"), _fit("kfold")
    s, k = split.metrics, kfold.metrics
    assert k["restored_epoch"] > s["restored_epoch"]
    assert k["test"]["float32"]["accuracy"] > s["test"]["float32"]["accuracy"] + 0.1
    # the final model trained on every training window for the chosen number of epochs
    n_train = int((blobs(**NOISY).categories == "training").sum())
    assert k["windows"] == {"training": n_train, "validation": 0, "testing": k["windows"]["testing"]}
    assert k["epochs_run"] == k["restored_epoch"] == len(k["history"]["loss"])
    # the validation curves are the mean over the folds, for the whole budget
    assert len(k["history"]["val_accuracy"]) == PARAMS["epochs"]
    assert k["validation"]["accuracy"] == pytest.approx(k["history"]["val_accuracy"][k["restored_epoch"] - 1])


def test_kfold_is_reproducible_and_weights_classes_in_every_fold(monkeypatch: pytest.MonkeyPatch) -> None:
    fs = blobs(**NOISY)
    keep = ~((fs.labels == "class0") & (np.arange(len(fs.labels)) % 2 == 0) & (fs.categories == "training"))
    fs = fs.subset(keep).category("training")  # class0 has half the windows of the others
    seen: list[dict[str, float] | None] = []
    real = nn._Setup.weights

    def spy(self: Any, y_tr: np.ndarray) -> tuple[np.ndarray, dict[str, float] | None]:
        w, cw = real(self, y_tr)
        seen.append(cw)
        return w, cw

    monkeypatch.setattr(nn._Setup, "weights", spy)
    block = parse_block({"params": {**PARAMS, "epochs": 6, "validation": "kfold", "folds": 3}})
    a = nn.train_nn(fs, block, seed=5)
    fold_and_final = seen[:4]
    assert len(fold_and_final) == 4 and all(cw is not None and cw["class0"] > cw["class1"] for cw in fold_and_final)
    b = nn.train_nn(fs, block, seed=5)
    assert a.selection["mode"] == "kfold" and a.selection["folds"] == 3
    assert a.selection == b.selection
    assert a.history == b.history
    c = nn.train_nn(fs, block, seed=6)
    assert c.history != a.history  # another seed: other folds and weights
    for key in ("chosen_epochs", "cv_accuracy_mean", "cv_accuracy_std", "epoch_budget"):
        assert key in a.selection
    assert a.plan == {"validation": "kfold", "folds": 3, "early_stopping_patience": 3, "augment": False}


def test_auto_validation_picks_kfold_for_small_data_and_reports_why() -> None:
    fs = blobs(**NOISY).category("training")
    res = nn.train_nn(fs, parse_block({"params": {"epochs": 3, "batch_size": 8}}), seed=0)
    assert res.plan["validation"] == "kfold" and res.plan["folds"] == 3  # 3 recordings per class
    assert res.plan["early_stopping_patience"] >= 5 and res.plan["augment"] is False  # flat features: no augment
    assert any(r.startswith("validation: k-fold") for r in res.selection["reasons"])
