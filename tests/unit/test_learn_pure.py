"""Learning-block parsing, layer lists, splits, augmentation, metrics and anomaly scoring (no TensorFlow)."""

from __future__ import annotations

import numpy as np
import pytest

from crisp_eml.core.errors import InputError
from crisp_eml.learn import augment as aug
from crisp_eml.learn.anomaly import AnomalyModel, fit_anomaly
from crisp_eml.learn.blocks import default_layers, infer_input_kind, kind_from_blocks, parse_block
from crisp_eml.learn.layers import validate_layers
from crisp_eml.learn.metrics import anomaly_metrics, classification_metrics, overfit_warning, regression_metrics
from crisp_eml.learn.split import validation_mask


def test_parse_block_defaults_and_overrides() -> None:
    b = parse_block(None)
    assert b.type == "nn-classifier" and b.params["epochs"] > 0 and b.params["class_weights"] == "auto"
    b = parse_block({"type": "anomaly-gmm", "params": {"components": 2}})
    assert b.is_anomaly and b.params["components"] == 2 and "epochs" not in b.params


@pytest.mark.parametrize(("raw", "field"), [
    ({"type": "svm"}, "learning.type"),
    ({"params": {"epochs": 0}}, "learning.params.epochs"),
    ({"params": {"epochs": 2.5}}, "learning.params.epochs"),
    ({"params": {"learning_rate": "fast"}}, "learning.params.learning_rate"),
    ({"params": {"bogus": 1}}, "learning.params"),
    ({"type": "expert"}, "learning.params.expert_file"),
])
def test_parse_block_rejects_bad_input(raw: dict, field: str) -> None:  # type: ignore[type-arg]
    with pytest.raises(InputError) as ei:
        parse_block(raw)
    assert ei.value.field == field


def test_default_network_per_input_kind() -> None:
    assert infer_input_kind((33,)) == "spectral"
    assert infer_input_kind((62, 3)) == "raw-motion"
    assert infer_input_kind((49, 13, 1)) == "spectrogram"
    assert infer_input_kind((32, 32, 3)) == "image"
    assert infer_input_kind((33,), "image") == "image"
    kinds = {k: [layer["type"] for layer in default_layers(k)]
             for k in ("spectral", "raw-motion", "spectrogram", "image")}
    assert set(kinds["spectral"]) == {"dense"}
    assert "conv1d" in kinds["raw-motion"]
    assert "ds-conv2d" in kinds["spectrogram"]
    assert "conv2d" in kinds["image"] and "ds-conv2d" not in kinds["image"]
    for k in kinds:
        validate_layers(default_layers(k))


@pytest.mark.parametrize(("layers", "needle"), [
    ([{"type": "lstm"}], "unknown layer type"),
    ([{"type": "dense"}], "needs ['units']"),
    ([{"type": "dense", "units": 3, "size": 2}], "does not take"),
    ([{"type": "dropout", "rate": 1.5}], "rate"),
    ([{"type": "dense", "units": 3, "activation": "gelu2"}], "activation"),
    ("dense", "list"),
])
def test_validate_layers_names_the_entry(layers: object, needle: str) -> None:
    with pytest.raises(InputError) as ei:
        validate_layers(layers)
    assert needle in str(ei.value)
    assert (ei.value.field or "").startswith("learning.params.layers")


def test_validation_split_keeps_groups_together() -> None:
    groups = np.repeat([f"g{i}" for i in range(10)], 7)
    mask = validation_mask(groups, 0.2, seed=3)
    assert 0 < mask.sum() < len(mask)
    for g in np.unique(groups):
        assert len(set(mask[groups == g])) == 1  # a group is entirely in or entirely out
    assert np.array_equal(mask, validation_mask(groups, 0.2, seed=3))
    assert not validation_mask(np.array(["one"] * 5), 0.5, seed=0).any()  # one group: nothing to hold out


def test_augmentation_is_reproducible_and_shape_preserving() -> None:
    rng = np.random.default_rng(0)
    X = rng.standard_normal((4, 20, 3)).astype(np.float32)
    opts = aug.options(True)
    assert opts is not None
    std = np.ones(3, np.float32)
    a = aug.augment(X, "raw-motion", opts, np.random.default_rng(1), std)
    b = aug.augment(X, "raw-motion", opts, np.random.default_rng(1), std)
    assert a.shape == X.shape and np.array_equal(a, b) and not np.allclose(a, X)
    S = np.ones((3, 10, 8, 1), np.float32)
    m = aug.augment(S, "spectrogram", {**opts, "mask_width": 0.3}, np.random.default_rng(2), std)
    assert m.shape == S.shape and (m == 0).any() and (m == 1).any()
    assert aug.options(False) is None


def test_classification_metrics_match_hand_counts() -> None:
    labels = ["a", "b", "c"]
    y = np.array([0, 0, 1, 1, 2, 2])
    probs = np.array([[.9, .05, .05], [.2, .7, .1], [.1, .8, .1], [.1, .85, .05], [.3, .3, .4], [.1, .1, .8]])
    sids = np.array(["s1", "s1", "s2", "s2", "s3", "s3"])
    m = classification_metrics(y, probs, labels, sids, uncertain_below=0.6)
    assert m["confusion_matrix"] == [[1, 1, 0], [0, 2, 0], [0, 0, 2]]
    assert m["accuracy"] == pytest.approx(5 / 6)
    assert m["balanced_accuracy"] == pytest.approx((0.5 + 1 + 1) / 3)
    assert m["per_class"]["b"]["precision"] == pytest.approx(2 / 3)
    assert m["uncertain"]["windows"] == 1  # the 0.4 window
    s1 = next(s for s in m["per_sample"] if s["sample_id"] == "s1")
    assert s1["predicted"] == "a" and s1["window_accuracy"] == 0.5


def test_regression_and_overfit() -> None:
    r = regression_metrics(np.array([1.0, 2.0, 3.0]), np.array([1.5, 2.0, 2.0]), np.array(["a", "b", "c"]))
    assert r["mae"] == pytest.approx(0.5) and r["rmse"] == pytest.approx(np.sqrt(1.25 / 3))
    assert overfit_warning({"accuracy": [0.99], "val_accuracy": [0.7]}) is not None
    assert overfit_warning({"accuracy": [0.95], "val_accuracy": [0.93]}) is None


@pytest.mark.parametrize("kind", ["kmeans", "gmm"])
def test_anomaly_models_score_outliers_higher(kind: str) -> None:
    rng = np.random.default_rng(0)
    normal = rng.standard_normal((300, 4))
    model = fit_anomaly(normal, kind, {"clusters": 4, "components": 2, "threshold_percentile": 99.0}, seed=0)
    test_norm, test_anom = rng.standard_normal((50, 4)), rng.standard_normal((50, 4)) * 0.5 + 6.0
    scores = model.score(np.vstack([test_norm, test_anom]))
    is_anom = np.r_[np.zeros(50, bool), np.ones(50, bool)]
    m = anomaly_metrics(is_anom, scores, model.threshold, np.arange(100).astype(str), np.r_[["n"] * 50, ["x"] * 50])
    assert m["roc_auc"] > 0.99 and m["accuracy"] > 0.9
    assert (model.score(normal) > model.threshold).mean() <= 0.02  # threshold from the training data
    again = AnomalyModel.from_dict(model.to_dict())
    assert np.allclose(again.score(test_anom), model.score(test_anom))
    with pytest.raises(InputError):
        model.score(np.zeros((2, 5)))


def test_input_kind_from_dsp_blocks_and_shape_adapters() -> None:
    assert kind_from_blocks(["mfcc"]) == "spectrogram"
    assert kind_from_blocks(["raw"]) == "raw-motion"
    assert kind_from_blocks(["spectral-analysis"]) == "spectral"
    assert kind_from_blocks(["raw", "spectral-analysis"]) == "spectral"  # several blocks are concatenated flat
    assert kind_from_blocks(["my-custom"]) is None
    mfcc = default_layers("spectrogram", (50, 13))
    assert mfcc[0] == {"type": "reshape", "shape": [50, 13, 1]} and mfcc[1]["type"] == "conv2d"
    assert default_layers("raw-motion", (62,))[0] == {"type": "reshape", "shape": [62, 1]}
    assert default_layers("spectral", (4, 3))[0] == {"type": "flatten"}


def test_resolve_block_applies_command_line_choices() -> None:
    from crisp_eml.workspace.train import resolve_block

    spec_learning = {"type": "nn-classifier", "params": {"epochs": 5, "layers": [{"type": "dense", "units": 4}]}}
    b = resolve_block(spec_learning, overrides={"learning_rate": 0.01, "batch_size": None})
    assert b.params["epochs"] == 5 and b.params["learning_rate"] == 0.01 and b.params["layers"][0]["units"] == 4
    a = resolve_block(spec_learning, learning="anomaly-kmeans")
    assert a.type == "anomaly-kmeans" and "epochs" not in a.params
    r = resolve_block(spec_learning, learning="nn-regressor", overrides={"epochs": 3})
    assert r.type == "nn-regressor" and r.params["epochs"] == 3 and r.params["layers"] is None
    with pytest.raises(InputError):
        resolve_block(None, learning="anomaly-gmm", overrides={"epochs": 3})
