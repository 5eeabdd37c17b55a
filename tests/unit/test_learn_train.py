"""Training, int8 quantization and TFLite Micro testing on small synthetic feature sets."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from learn_helpers import blobs

from crisp_eml.core.errors import InputError
from crisp_eml.learn.blocks import parse_block
from crisp_eml.learn.trainer import fit_block

pytestmark = pytest.mark.slow

# one held-out split, as before small data switched to k-fold (tested in test_learn_kfold.py)
FAST = {"epochs": 20, "batch_size": 16, "early_stopping_patience": 0, "validation": "split"}


def _fit(fs, params=None, seed=0, btype="nn-classifier"):  # type: ignore[no-untyped-def]
    return fit_block(fs, parse_block({"type": btype, "params": {**FAST, **(params or {})}}), seed=seed,
                     measure_arena=False)


def test_same_inputs_same_metrics_and_int8_close_to_float() -> None:
    fs = blobs()
    a, b = _fit(fs, seed=7), _fit(fs, seed=7)
    assert a.metrics["history"] == b.metrics["history"]
    assert a.metrics["test"] == b.metrics["test"]
    t = a.metrics["test"]
    assert t["float32"]["accuracy"] >= 0.95
    assert abs(t["float32"]["accuracy"] - t["int8"]["accuracy"]) <= 0.01
    assert t["keras_accuracy"] == pytest.approx(t["float32"]["accuracy"], abs=0.02)
    assert a.metrics["model"]["int8"]["input"]["dtype"] == "int8"
    # windows of one sample never straddle training and validation
    assert a.metrics["windows"]["validation"] % 4 == 0


def test_class_weights_and_augmentation_and_raw_motion_conv() -> None:
    fs = blobs(n_features=24, shape=(8, 3), seed=1)
    keep = ~((fs.labels == "class0") & (np.arange(len(fs.labels)) % 3 != 0) & (fs.categories == "training"))
    out = _fit(fs.subset(keep), {"augment": True, "epochs": 4})
    cw = out.metrics["class_weights"]
    assert cw["class0"] > cw["class1"]  # the rarer class weighs more
    assert out.metrics["input_kind"] == "raw-motion"
    assert any(layer["type"] == "conv1d" for layer in out.params["layers"])


def test_regressor_reports_mae() -> None:
    rng = np.random.default_rng(0)
    fs = blobs(classes=1, n_per_class=120)
    target = fs.X[:, 0] * 2.0 + 1.0
    fs.labels = np.array([f"{v:.4f}" for v in target], dtype=object)
    out = _fit(fs, {"epochs": 30, "learning_rate": 0.01}, btype="nn-regressor")
    spread = float(np.std(target))
    assert out.metrics["test"]["int8"]["mae"] < 0.5 * spread
    assert out.metrics["test"]["float32"]["rmse"] >= out.metrics["test"]["float32"]["mae"]
    del rng


@pytest.mark.parametrize("kind", ["anomaly-kmeans", "anomaly-gmm"])
def test_anomaly_blocks_report_roc_auc(kind: str) -> None:
    fs = blobs(classes=2, sep=4.0)
    out = fit_block(fs, parse_block({"type": kind, "params": {"normal_labels": ["class0"], "clusters": 3}}), seed=0)
    m = out.metrics["test"]["model"]
    assert m["roc_auc"] > 0.95
    assert "anomaly.json" in out.artifacts


def test_bad_inputs_are_clear_errors(tmp_path: Path) -> None:
    fs = blobs()
    one = fs.subset(fs.labels == "class0")
    with pytest.raises(InputError, match="only one class"):
        _fit(one)
    missing = blobs()
    missing.labels = missing.labels.copy()
    missing.labels[3] = ""
    with pytest.raises(InputError, match="no label"):
        _fit(missing)
    with pytest.raises(InputError, match="no testing samples"):
        _fit(fs.category("training"))
    wrong = blobs()
    wrong.feature_shape = (9,)
    with pytest.raises(InputError, match="shape"):
        _fit(wrong)
    bad = tmp_path / "expert_bad.py"
    bad.write_text("import keras\ndef build_model(input_shape, num_classes)\n    return None\n")
    with pytest.raises(InputError) as ei:
        _fit(fs, {"expert_file": str(bad)}, btype="expert")
    assert str(bad) in str(ei.value) and "SyntaxError" in str(ei.value)
    nofn = tmp_path / "expert_nofn.py"
    nofn.write_text("x = 1\n")
    with pytest.raises(InputError, match="build_model"):
        _fit(fs, {"expert_file": str(nofn)}, btype="expert")


def test_expert_mode_trains_the_users_model(tmp_path: Path) -> None:
    f = tmp_path / "my_model.py"
    f.write_text(
        "import keras\n"
        "def build_model(input_shape, num_classes):\n"
        "    return keras.Sequential([keras.Input(input_shape), keras.layers.Dense(6, activation='relu'),\n"
        "                             keras.layers.Dense(num_classes, activation='softmax')])\n")
    out = _fit(blobs(), {"expert_file": str(f), "epochs": 20}, btype="expert")
    assert out.metrics["test"]["int8"]["accuracy"] >= 0.9
    assert out.params["layers"] is None  # the user's network, not a layer list


def test_early_stopping_metrics_come_from_the_restored_epoch() -> None:
    from crisp_eml.learn.metrics import restored_epoch

    fs = blobs(sep=1.2, seed=3)
    out = _fit(fs, {"epochs": 40, "early_stopping_patience": 3, "learning_rate": 0.05})
    m, hist = out.metrics, out.metrics["history"]
    kept = m["restored_epoch"]
    assert m["epochs_run"] < 40 and kept < m["epochs_run"]  # stopped early and went back
    assert kept == restored_epoch(hist, 3)  # Keras' best epoch agrees with the pure helper used for old runs
    assert m["train"]["accuracy"] == hist["accuracy"][kept - 1]
    assert m["validation"]["loss"] == min(hist["val_loss"])
