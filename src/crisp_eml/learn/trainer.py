"""Fit a learning block on a feature set and produce everything a run stores: artifacts (bytes) and metrics.

NN blocks: Keras model -> float32 and int8 TFLite, both evaluated on the testing windows **through TFLite
Micro**, plus model size and TFLM's smallest working arena. Anomaly blocks: fitted model as JSON, ROC-AUC and
the decisions at the chosen threshold (accuracy, balanced accuracy, false-positive rate).
No storage here; ``crisp_eml.workspace.train`` persists the outcome.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from typing import Any

import numpy as np

from crisp_eml.core import normalization
from crisp_eml.core.errors import InputError
from crisp_eml.core.features import FeatureSet
from crisp_eml.learn import report as html_report
from crisp_eml.learn.anomaly import AnomalyModel, fit_anomaly
from crisp_eml.learn.blocks import LearningBlock
from crisp_eml.learn.metrics import anomaly_metrics, classification_metrics, overfit_warning, regression_metrics
from crisp_eml.learn.model_metadata import model_normalization, with_normalization
from crisp_eml.learn.nn import (
    EpochCallback,
    check_features,
    classification_targets,
    keras_to_bytes,
    predict_keras,
    regression_targets,
    train_nn,
)
from crisp_eml.learn.quantize import representative, to_float32, to_int8
from crisp_eml.learn.tflm import io_details, tflm_min_arena, tflm_predict_float

StageCallback = Callable[[str], None]
#: float32 -> int8 test-accuracy loss above which training warns (``[train] int8_drop_warn`` overrides it).
INT8_DROP_WARN = 0.02


@dataclass
class TrainOutcome:
    artifacts: dict[str, bytes]
    metrics: dict[str, Any]
    params: dict[str, Any]
    X_test: np.ndarray | None = None
    y_test: np.ndarray | None = None
    extra: dict[str, Any] = field(default_factory=dict)


def _stage(cb: StageCallback | None, text: str) -> None:
    if cb is not None:
        cb(text)


def _strip(m: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in m.items() if k != "predictions"}


def evaluate_tflite(model_bytes: bytes, fs: FeatureSet, params: dict[str, Any], *,
                    uncertain_below: float = 0.6, sample_names: dict[str, str] | None = None) -> dict[str, Any]:
    """Test metrics of a ``.tflite`` model on the windows of ``fs``, run in TFLite Micro."""
    check_features(fs, what="testing")
    task = params.get("task", "classification")
    in_info, _ = io_details(model_bytes)
    if int(np.prod(in_info.shape[1:])) != int(np.prod(fs.feature_shape)):
        raise InputError(f"features have shape {list(fs.feature_shape)} but the model input is "
                         f"{list(in_info.shape[1:])}", field="features")
    norm = model_normalization(model_bytes)
    out = tflm_predict_float(model_bytes, norm.apply(fs.X) if norm is not None else fs.X)
    if task == "regression":
        return regression_metrics(regression_targets(fs), out, fs.sample_ids, sample_names=sample_names)
    y, names = classification_targets(fs, list(params["labels"]))
    return classification_metrics(y, out.reshape(len(out), -1), names, fs.sample_ids, uncertain_below=uncertain_below,
                                  sample_names=sample_names)


def _feature_normalization(train_fs: FeatureSet, block: LearningBlock) -> normalization.Normalization | None:
    """Statistics of the training windows when the block normalises (``normalize``, on by default)."""
    if not block.params.get("normalize", True) or block.type == "expert":
        return None
    return normalization.fit(train_fs.X)


def fit_block(fs: FeatureSet, block: LearningBlock, *, seed: int, on_epoch: EpochCallback | None = None,
              on_stage: StageCallback | None = None, measure_arena: bool = True,
              uncertain_below: float = 0.6, sample_names: dict[str, str] | None = None,
              int8_drop_warn: float = INT8_DROP_WARN) -> TrainOutcome:
    """Train/fit ``block`` on the training windows of ``fs`` and test it on the testing windows.

    ``sample_names`` (sample id -> name) labels the per-sample results; ids are shown when it is omitted.
    An int8 model more than ``int8_drop_warn`` less accurate than float32 gets ``metrics["int8_warning"]``.
    """
    train_fs, test_fs = fs.category("training"), fs.category("testing")
    if len(train_fs.X) == 0:
        raise InputError("no training windows: add samples in the 'training' category", field="category")
    if len(test_fs.X) == 0:
        raise InputError("no testing samples: move some samples to the 'testing' category (e.g. 'eml data "
                         "rebalance') so the model can be tested", field="category")
    if block.is_anomaly:
        return _fit_anomaly(train_fs, test_fs, block, seed, sample_names)
    if block.type == "byom":
        raise InputError("a 'byom' block is not trained: register the model with 'eml models import'",
                         field="learning.type")
    check_features(test_fs, what="testing")
    check_features(train_fs)
    norm = _feature_normalization(train_fs, block)
    if norm is not None:  # the network learns on standardised features; the .tflite files carry the statistics
        train_fs = replace(train_fs, X=norm.apply(train_fs.X))
    _stage(on_stage, "training")
    res = train_nn(train_fs, block, seed=seed, on_epoch=on_epoch)
    _stage(on_stage, "quantizing")
    float_b = to_float32(res.model)
    int8_b = to_int8(res.model, representative(train_fs.X[~res.val_mask], seed=seed))
    if norm is not None:
        float_b, int8_b = with_normalization(float_b, norm), with_normalization(int8_b, norm)
    params = {**block.to_dict()["params"], "type": block.type, "task": res.task, "labels": res.label_names,
              "feature_shape": list(fs.feature_shape), "input_kind": res.input_kind, "layers": res.layers,
              "normalization": norm.to_dict() if norm is not None else None}
    params.update(res.plan)  # the data-derived settings used
    _stage(on_stage, "testing in TFLite Micro")
    test_f = evaluate_tflite(float_b, test_fs, params, uncertain_below=uncertain_below, sample_names=sample_names)
    test_q = evaluate_tflite(int8_b, test_fs, params, uncertain_below=uncertain_below, sample_names=sample_names)
    hist = res.history
    kept = res.restored_epoch or res.epochs_run  # the epoch whose weights the model ended with
    metrics: dict[str, Any] = {
        "task": res.task, "labels": res.label_names, "epochs_run": res.epochs_run, "restored_epoch": kept,
        "history": hist,
        "input_kind": res.input_kind, "class_weights": res.class_weights,
        "windows": {"training": int((~res.val_mask).sum()), "validation": int(res.val_mask.sum()),
                    "testing": int(len(test_fs.X))},
        "train": {k: v[min(kept, len(v)) - 1] for k, v in hist.items() if not k.startswith("val_") and v},
        "validation": {k[4:]: v[min(kept, len(v)) - 1] for k, v in hist.items() if k.startswith("val_") and v},
        "overfit_warning": overfit_warning(hist, kept),
        "model_selection": res.selection,
        "test": {"float32": _strip(test_f), "int8": _strip(test_q)},
    }
    if res.task == "classification":
        drop = float(test_f["accuracy"] - test_q["accuracy"])
        metrics["int8_accuracy_drop"] = drop
        if drop > int8_drop_warn:
            metrics["int8_warning"] = (
                f"the int8 model is {100 * drop:.1f} points less accurate than float32 on the testing set "
                f"({100 * test_q['accuracy']:.1f} % vs {100 * test_f['accuracy']:.1f} %), more than the "
                f"{100 * int8_drop_warn:.1f} allowed by [train] int8_drop_warn; check the feature ranges "
                "('eml features explore') or gate on max_int8_accuracy_drop")
        # Keras (desktop TF) accuracy, to show TFLM float32 agrees with the training framework.
        probs = predict_keras(res.model, norm.apply(test_fs.X) if norm is not None else test_fs.X)
        y_test, _ = classification_targets(test_fs, res.label_names)
        metrics["test"]["keras_accuracy"] = float((probs.argmax(1) == y_test).mean())
    else:
        y_test = None
    _stage(on_stage, "measuring TFLite Micro arena")
    sizes: dict[str, Any] = {}
    for name, b in (("float32", float_b), ("int8", int8_b)):
        i_info, o_info = io_details(b)
        sizes[name] = {"bytes": len(b), "arena_bytes": tflm_min_arena(b) if measure_arena else None,
                       "input": i_info.to_dict(), "output": o_info.to_dict()}
    metrics["model"] = sizes
    artifacts = {"model.keras": keras_to_bytes(res.model), "model_float32.tflite": float_b,
                 "model_int8.tflite": int8_b}
    out = TrainOutcome(artifacts=artifacts, metrics=metrics, params=params, X_test=test_fs.X, y_test=y_test)
    out.extra["test_int8_full"] = test_q
    return out


def _fit_anomaly(train_fs: FeatureSet, test_fs: FeatureSet, block: LearningBlock, seed: int,
                 sample_names: dict[str, str] | None = None) -> TrainOutcome:
    check_features(train_fs)
    check_features(test_fs, what="testing")
    p = block.params
    labels = np.asarray([str(v) for v in train_fs.labels])
    normal = list(p.get("normal_labels") or sorted(set(labels.tolist())))
    train_sel = np.isin(labels, normal)
    if not train_sel.any():
        raise InputError(f"no training windows with a normal label {normal}", field="learning.params.normal_labels")
    kind = "kmeans" if block.type == "anomaly-kmeans" else "gmm"
    model = fit_anomaly(train_fs.X[train_sel], kind, p, seed, groups=np.asarray(train_fs.sample_ids)[train_sel])
    scores = model.score(test_fs.X)
    is_anom = ~np.isin(np.asarray([str(v) for v in test_fs.labels]), normal)
    m = anomaly_metrics(is_anom, scores, model.threshold, test_fs.sample_ids, test_fs.labels,
                        sample_names=sample_names)
    params = {**p, "type": block.type, "task": "anomaly", "normal_labels": normal,
              "feature_shape": list(train_fs.feature_shape)}
    metrics = {"task": "anomaly", "labels": ["normal", "anomaly"], "normal_labels": normal,
               "windows": {"training": int(train_sel.sum()), "testing": int(len(scores))},
               "train_score_max": float(model.score(train_fs.X[train_sel]).max()),
               "calibration": model.calibration,
               "test": {"model": m}, "history": {}, "epochs_run": None, "overfit_warning": None}
    return TrainOutcome(artifacts={"anomaly.json": json.dumps(model.to_dict()).encode()}, metrics=metrics,
                        params=params)


def anomaly_from_bytes(data: bytes) -> AnomalyModel:
    try:
        return AnomalyModel.from_dict(json.loads(data))
    except (ValueError, KeyError, TypeError) as exc:
        raise InputError(f"not an anomaly model: {exc}", field="model") from exc


def render_report(run: dict[str, Any], outcome: TrainOutcome) -> bytes:
    metrics = dict(outcome.metrics)
    test = dict(metrics.get("test", {}))
    if "test_int8_full" in outcome.extra:
        test["int8"] = outcome.extra["test_int8_full"]
    metrics["test"] = test
    return html_report.render(run, metrics, X_test=outcome.X_test, y_test=outcome.y_test)
