"""Choosing the learner of a raw-window impulse (dense vs 1-D convolution) by short cross-validated training.

The proxy learner of :mod:`crisp_eml.learn.proxy_cv` ranks *feature sets*; whether a ``[time, axes]`` window
is better read by dense layers (positions matter: a daily curve, an aligned gesture) or by a small
convolution (shapes that move in time) is a question about the network, so each candidate layer list is
trained for real, briefly, on stratified folds of the training recordings (grouped by recording), with the
trainer's per-channel standardisation fitted on each fold's training part. A recording's prediction is the
mean of its windows' probabilities; the score is the balanced accuracy over held-out recordings. Capped in
folds, epochs and windows so that it takes seconds, not minutes.
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable
from typing import Any

import numpy as np

from crisp_eml.core.normalization import fit
from crisp_eml.learn.proxy_cv import n_folds

#: Folds, epochs and training windows per fold of the short trainings.
MAX_FOLDS = 3
EPOCHS = 40
MAX_WINDOWS = 3000

Progress = Callable[[int, int, str], None]


def _fold_score(keras: Any, layers: list[dict[str, Any]], shape: tuple[int, ...], x_tr: np.ndarray,
                y_tr: np.ndarray, tests: list[np.ndarray], n_classes: int, seed: int) -> list[int]:
    from crisp_eml.learn.layers import build_model
    from crisp_eml.learn.nn import balanced_weights
    from crisp_eml.learn.tf_setup import seed_everything

    norm = fit(x_tr)
    seed_everything(seed)
    with contextlib.redirect_stdout(None):
        model = build_model(shape, layers, outputs=n_classes, task="classification")
    model.compile(optimizer=keras.optimizers.Adam(learning_rate=0.005), loss="sparse_categorical_crossentropy")
    weights = balanced_weights(y_tr, n_classes)[y_tr].astype(np.float32)
    model.fit(norm.apply(x_tr), y_tr, sample_weight=weights, epochs=EPOCHS, batch_size=32, verbose=0, shuffle=True)
    preds = []
    for x in tests:
        if len(x) == 0:
            preds.append(-1)
            continue
        p = np.asarray(model.predict(norm.apply(x), verbose=0, batch_size=256)).mean(axis=0)
        preds.append(int(p.argmax()))
    return preds


def learner_scores(
    windows: list[np.ndarray], recording_labels: list[str], candidates: dict[str, list[dict[str, Any]]], *,
    seed: int = 0, on_progress: Progress | None = None,
) -> dict[str, float]:
    """Balanced per-recording accuracy of each candidate layer list under stratified k-fold CV.

    ``windows[r]`` are recording ``r``'s feature windows ``[n, time, axes]``. Raises ``ValueError`` when
    cross-validation is impossible (fewer than two recordings in some class).
    """
    from sklearn.metrics import balanced_accuracy_score
    from sklearn.model_selection import StratifiedKFold

    from crisp_eml.learn.tf_setup import tf_modules

    k = min(MAX_FOLDS, n_folds(list(recording_labels)))
    if k < 2:
        raise ValueError("cross-validation needs two classes with at least two recordings each")
    _, keras = tf_modules()
    classes = sorted(set(recording_labels))
    y_rec = np.array([classes.index(v) for v in recording_labels])
    shape = tuple(int(s) for s in next(w for w in windows if len(w)).shape[1:])
    folds = list(StratifiedKFold(k, shuffle=True, random_state=seed).split(np.zeros(len(y_rec)), y_rec))
    rng = np.random.default_rng(seed)
    out: dict[str, float] = {}
    step, total = 0, len(candidates) * len(folds)
    for name, layers in candidates.items():
        pred = np.full(len(y_rec), -1)
        for fi, (tr, te) in enumerate(folds):
            x_tr = np.concatenate([windows[i] for i in tr if len(windows[i])]).astype(np.float32)
            y_tr = np.concatenate([np.full(len(windows[i]), y_rec[i]) for i in tr if len(windows[i])])
            if len(x_tr) > MAX_WINDOWS:
                keep = np.sort(rng.choice(len(x_tr), MAX_WINDOWS, replace=False))
                x_tr, y_tr = x_tr[keep], y_tr[keep]
            pred[te] = _fold_score(keras, layers, shape, x_tr, y_tr, [windows[i] for i in te], len(classes),
                                   seed + fi)
            step += 1
            if on_progress:
                on_progress(step, total, f"learner {name}, fold {fi + 1}/{len(folds)}")
        import warnings

        with warnings.catch_warnings():
            warnings.simplefilter("ignore", UserWarning)
            out[name] = float(balanced_accuracy_score(y_rec, pred))
    return out
