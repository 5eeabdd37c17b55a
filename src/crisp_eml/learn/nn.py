"""Training neural-network learning blocks (classifier, regressor, expert) with Keras 3 on CPU.

Reproducible: seeded weights, seeded validation split, seeded batch order and augmentation, deterministic
TensorFlow ops and at most 2 threads, so the same features and parameters give the same metrics.
"""

from __future__ import annotations

import contextlib
import math
import os
import tempfile
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from crisp_eml.core.errors import InputError
from crisp_eml.core.features import FeatureSet
from crisp_eml.learn import augment as aug
from crisp_eml.learn.blocks import LearningBlock, default_layers, infer_input_kind
from crisp_eml.learn.epoch_choice import choose_epochs
from crisp_eml.learn.expert import load_build_fn
from crisp_eml.learn.layers import build_model, validate_layers
from crisp_eml.learn.split import fold_ids, groups_for, validation_mask
from crisp_eml.learn.tf_setup import seed_everything, tf_modules
from crisp_eml.learn.training_plan import plan_for

EpochCallback = Callable[[int, int, dict[str, float]], None]


@dataclass
class NNResult:
    model: Any
    task: str  # classification | regression
    label_names: list[str]
    input_kind: str
    layers: list[dict[str, Any]] | None
    history: dict[str, list[float]]
    val_mask: np.ndarray
    epochs_run: int
    class_weights: dict[str, float] | None = None
    restored_epoch: int | None = None  # 1-based epoch whose weights the model kept (early stopping)
    notes: list[str] = field(default_factory=list)
    plan: dict[str, Any] = field(default_factory=dict)  # settings used: validation, folds, patience, augment
    selection: dict[str, Any] = field(default_factory=dict)  # how the epochs were chosen (mode, folds, cv_*...)


def check_features(fs: FeatureSet, *, what: str = "training") -> None:
    """Shape and value checks shared by training and testing."""
    if fs.X.shape[0] == 0:
        raise InputError(f"no {what} windows: add {what} samples (or check the impulse's window size)",
                         field="features")
    if tuple(fs.X.shape[1:]) != tuple(fs.feature_shape):
        raise InputError(f"features have shape {list(fs.X.shape[1:])} per window but the impulse declares "
                         f"{list(fs.feature_shape)}", field="features")
    if not np.all(np.isfinite(fs.X)):
        bad = sorted({str(s) for s in np.asarray(fs.sample_ids)[~np.isfinite(fs.X.reshape(len(fs.X), -1)).all(1)]})
        raise InputError(f"features contain NaN/Inf for sample(s) {bad[:5]}", field="features")


def _missing_labels(fs: FeatureSet) -> np.ndarray:
    return np.array([lab is None or str(lab) == "" for lab in fs.labels], dtype=bool)


def classification_targets(fs: FeatureSet, label_names: list[str] | None = None) -> tuple[np.ndarray, list[str]]:
    missing = _missing_labels(fs)
    if missing.any():
        ids = sorted({str(s) for s in np.asarray(fs.sample_ids)[missing]})
        raise InputError(f"{len(ids)} sample(s) have no label, e.g. {ids[:5]}; label them or disable them",
                         field="label")
    names = label_names or sorted({str(v) for v in fs.labels})
    index = {n: i for i, n in enumerate(names)}
    unknown = sorted({str(v) for v in fs.labels} - set(index))
    if unknown:
        raise InputError(f"label(s) {unknown} were not seen in training; known: {names}", field="label")
    return np.array([index[str(v)] for v in fs.labels], dtype=np.int64), names


def regression_targets(fs: FeatureSet) -> np.ndarray:
    out = np.empty(len(fs.labels), dtype=np.float32)
    for i, (lab, sid) in enumerate(zip(fs.labels, fs.sample_ids, strict=True)):
        try:
            out[i] = float(lab)
        except (TypeError, ValueError) as exc:
            raise InputError(f"regression needs numeric labels; sample {sid} has {lab!r}", field="label") from exc
    return out


def balanced_weights(y: np.ndarray, k: int) -> np.ndarray:
    """Loss weight of each of the ``k`` classes, ``n / (k * count)``: every class weighs the same in total."""
    counts = np.bincount(y, minlength=k).astype(np.float64)
    return np.asarray(len(y) / (k * np.maximum(counts, 1.0)))


def _batches(keras: Any, X: np.ndarray, y: np.ndarray, w: np.ndarray, batch: int, kind: str,
             opts: dict[str, Any] | None, seed: int) -> Any:
    std = X.reshape(-1, X.shape[-1]).std(axis=0).astype(np.float32) if X.ndim > 1 else np.ones(1, np.float32)

    class Batches(keras.utils.PyDataset):  # type: ignore[misc,name-defined]
        def __init__(self) -> None:
            super().__init__(workers=1, use_multiprocessing=False)
            self.epoch = 0
            self.order = np.random.default_rng([seed, 0]).permutation(len(X))

        def __len__(self) -> int:
            return max(1, math.ceil(len(X) / batch))

        def __getitem__(self, idx: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
            sel = self.order[idx * batch:(idx + 1) * batch]
            xb = X[sel]
            if opts:
                xb = aug.augment(xb, kind, opts, np.random.default_rng([seed, self.epoch, idx, 7]), std)
            return xb, y[sel], w[sel]

        def on_epoch_end(self) -> None:
            self.epoch += 1
            self.order = np.random.default_rng([seed, self.epoch]).permutation(len(X))

    return Batches()


def _targets(fs: FeatureSet, block: LearningBlock) -> tuple[str, np.ndarray, list[str]]:
    task = "regression" if block.type == "nn-regressor" else "classification"
    if task == "classification":
        y_all, names = classification_targets(fs)
        if len(names) < 2:
            raise InputError(f"only one class ({names[0]!r}) in the training data; a classifier needs at least two "
                             "(use an anomaly block for one-class data)", field="label")
        return task, y_all, names
    if _missing_labels(fs).any():
        classification_targets(fs)  # raises the missing-label error
    return task, regression_targets(fs), []


@dataclass
class _Setup:
    """What every model of one training shares (the k-fold models and the final one)."""

    fs: FeatureSet
    block_type: str
    params: dict[str, Any]
    task: str
    names: list[str]
    kind: str
    keras: Any
    on_epoch: EpochCallback | None

    def build(self, X_tr: np.ndarray, seed: int) -> tuple[Any, list[dict[str, Any]] | None]:
        p, shape = self.params, tuple(self.fs.feature_shape)
        seed_everything(seed)
        layers: list[dict[str, Any]] | None = None
        with contextlib.redirect_stdout(None):
            if self.block_type == "expert":
                model = load_build_fn(str(p["expert_file"]))(shape, len(self.names))
            else:
                layers = (validate_layers(p["layers"]) if p.get("layers") is not None
                          else default_layers(self.kind, shape))
                model = build_model(shape, layers, outputs=len(self.names), task=self.task)
        if self.block_type != "expert" or not getattr(model, "compiled", False):
            opt = self.keras.optimizers.Adam(learning_rate=float(p["learning_rate"]))
            if self.task == "classification":
                model.compile(optimizer=opt, loss="sparse_categorical_crossentropy", metrics=["accuracy"])
            else:
                model.compile(optimizer=opt, loss="mse", metrics=["mae"])
        return model, layers

    def weights(self, y_tr: np.ndarray) -> tuple[np.ndarray, dict[str, float] | None]:
        """Per-window loss weights (:func:`balanced_weights`) with ``class_weights: auto``, else ones."""
        if self.task != "classification" or self.params.get("class_weights") != "auto":
            return np.ones(len(y_tr), dtype=np.float32), None
        per = balanced_weights(y_tr, len(self.names))
        return per[y_tr].astype(np.float32), {self.names[i]: round(float(per[i]), 4) for i in range(len(self.names))}

    def fit(self, model: Any, X_tr: np.ndarray, y_tr: np.ndarray, val_data: tuple[np.ndarray, np.ndarray] | None,
            *, epochs: int, patience: int, seed: int,
            tag: dict[str, float] | None = None) -> tuple[dict[str, list[float]], int]:
        """Train ``model``; returns its history and the 1-based epoch whose weights it kept."""
        keras, callbacks = self.keras, []
        stopper: Any = None
        if patience > 0:
            stopper = keras.callbacks.EarlyStopping(monitor="val_loss" if val_data is not None else "loss",
                                                    patience=patience, restore_best_weights=True)
            callbacks.append(stopper)
        if self.on_epoch is not None:
            cb, extra = self.on_epoch, dict(tag or {})

            class _Live(keras.callbacks.Callback):  # type: ignore[misc,name-defined]
                def on_epoch_end(self, epoch: int, logs: dict[str, Any] | None = None) -> None:
                    cb(epoch + 1, epochs, {**{k: float(v) for k, v in (logs or {}).items()}, **extra})

            callbacks.append(_Live())
        w, _ = self.weights(y_tr)
        data = _batches(keras, X_tr, y_tr, w, int(self.params["batch_size"]), self.kind,
                        aug.options(self.params.get("augment")), seed)
        try:
            hist = model.fit(data, validation_data=val_data, epochs=epochs, verbose=0, callbacks=callbacks,
                             shuffle=False)
        except (ValueError, TypeError) as exc:
            raise InputError(f"the model does not accept features of shape {list(self.fs.feature_shape)}: "
                             f"{str(exc).splitlines()[0] if str(exc) else type(exc).__name__}",
                             field="features") from exc
        history = {k: [float(v) for v in vs] for k, vs in hist.history.items()}
        kept = len(history.get("loss", []))
        if stopper is not None and getattr(stopper, "best_weights", None) is not None:
            kept = int(stopper.best_epoch) + 1  # Keras set these weights back at the end of fit()
        return history, kept


def _fold_seed(seed: int, fold: int) -> int:
    return int(np.random.default_rng([seed, 31, fold]).integers(2**31 - 1))


def train_nn(fs: FeatureSet, block: LearningBlock, *, seed: int, on_epoch: EpochCallback | None = None) -> NNResult:
    """Train a classifier/regressor/expert network on the *training* windows of ``fs``.

    The features are used as they are: standardising them is the trainer's step
    (:func:`crisp_eml.learn.trainer.fit_block`), whose statistics travel in the ``.tflite`` files.

    Settings left on auto (validation mode, folds, patience, augmentation) are derived from the data by
    :func:`crisp_eml.learn.training_plan.plan_training`; ``NNResult.plan`` holds the values used. With
    ``validation: kfold`` the number of epochs is chosen by grouped, stratified k-fold cross-validation and the
    model then trains on every window for that many epochs (``NNResult.selection`` says how).
    """
    check_features(fs)
    task, y_all, names = _targets(fs, block)
    groups = groups_for(fs, block.params.get("keep_together"))
    kind = infer_input_kind(tuple(fs.feature_shape), block.params.get("input_kind"))
    plan = plan_for(fs, block)
    p = {**block.params, **plan.params()}
    tf, keras = tf_modules()
    setup = _Setup(fs, block.type, p, task, names, kind, keras, on_epoch)
    X_all = fs.X.astype(np.float32)
    epochs = int(p["epochs"])
    if plan.validation == "kfold":
        folds = fold_ids(groups, y_all if task == "classification" else None, int(plan.folds or 2), seed)
        k = int(folds.max()) + 1
        curves = []
        for f in range(k):
            tr = folds != f
            fseed = _fold_seed(seed, f)
            model, _ = setup.build(X_all[tr], fseed)
            hist, _ = setup.fit(model, X_all[tr], y_all[tr], (X_all[~tr], y_all[~tr]), epochs=epochs, patience=0,
                                seed=fseed, tag={"fold": float(f + 1), "folds": float(k)})
            curves.append(hist)
        choice = choose_epochs(curves, task)
        model, layers = setup.build(X_all, seed)
        history, kept = setup.fit(model, X_all, y_all, None, epochs=choice.epochs, patience=0, seed=seed)
        history.update(choice.mean_curves)  # validation curves = mean over the folds
        val = np.zeros(len(X_all), dtype=bool)
        selection: dict[str, Any] = {"mode": "kfold", "folds": k, "groups": plan.groups, "epoch_budget": epochs,
                                     **choice.summary()}
    else:
        val = validation_mask(groups, float(p["validation_split"]), seed)
        if task == "classification" and val.any() and len(np.unique(y_all[~val])) < len(names):
            val = np.zeros_like(val)  # a class would vanish from training: train on everything
        model, layers = setup.build(X_all[~val], seed)
        val_data = (X_all[val], y_all[val]) if val.any() else None
        history, kept = setup.fit(model, X_all[~val], y_all[~val], val_data, epochs=epochs,
                                  patience=int(p["early_stopping_patience"]), seed=seed)
        selection = {"mode": "split" if val.any() else "none", "groups": plan.groups,
                     "validation_groups": int(len(set(groups[val].tolist()))), "epoch_budget": epochs,
                     "early_stopping_patience": int(p["early_stopping_patience"]), "chosen_epochs": kept}
    selection["reasons"] = list(plan.reasons)
    _, cw = setup.weights(y_all[~val])
    del tf
    return NNResult(model=model, task=task, label_names=names, input_kind=kind, layers=layers, history=history,
                    val_mask=val, epochs_run=len(history.get("loss", [])), class_weights=cw, restored_epoch=kept,
                    plan=plan.params(), selection=selection)


def predict_keras(model: Any, X: np.ndarray) -> np.ndarray:
    if len(X) == 0:
        return np.zeros((0, int(model.output_shape[-1])), dtype=np.float32)
    out: np.ndarray = np.asarray(model.predict(X.astype(np.float32), verbose=0, batch_size=256))
    return out


def keras_to_bytes(model: Any) -> bytes:
    with tempfile.TemporaryDirectory() as d:
        path = os.path.join(d, "model.keras")
        model.save(path)
        with open(path, "rb") as fh:
            return fh.read()


def keras_from_bytes(data: bytes, suffix: str = ".keras") -> Any:
    """Load a Keras model saved as ``.keras`` (zip) or ``.h5``; a broken file is an :class:`InputError`."""
    _, keras = tf_modules()
    with tempfile.TemporaryDirectory() as d:
        path = os.path.join(d, "model" + suffix)
        with open(path, "wb") as fh:
            fh.write(data)
        try:
            return keras.models.load_model(path, compile=False)
        except Exception as exc:  # noqa: BLE001 - any load failure is bad input
            why = str(exc).replace(path, "the file").splitlines()[0] if str(exc) else type(exc).__name__
            raise InputError(f"not a loadable Keras {suffix} model ({type(exc).__name__}: {why})",
                             field="model") from exc
