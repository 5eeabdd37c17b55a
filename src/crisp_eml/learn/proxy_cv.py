"""A fast proxy learner that ranks candidate impulses by cross-validation on the training recordings.

Training the real network for every candidate would take minutes; a logistic regression on standardised
features takes milliseconds and ranks feature sets well enough to choose between them. Folds are
stratified by label and grouped by recording (every window of a recording falls in the same fold), and a
recording's prediction is the mean of its windows' probabilities, as ``eml test`` scores per sample.
The score is the balanced accuracy over held-out recordings, averaged over the repeats.
"""

from __future__ import annotations

import warnings

import numpy as np

#: Most folds used; fewer when the smallest class has fewer recordings.
MAX_FOLDS = 5


def n_folds(recording_labels: list[str]) -> int:
    """Folds for stratified CV over recordings: ``min(5, smallest class)``; 0 when CV is impossible (< 2)."""
    counts = np.unique(np.asarray(recording_labels, dtype=object), return_counts=True)[1]
    if len(counts) < 2:
        return 0
    k = int(min(MAX_FOLDS, counts.min()))
    return k if k >= 2 else 0


def cv_score(
    features: list[np.ndarray], recording_labels: list[str], *, repeats: int = 1, seed: int = 0,
) -> float:
    """Balanced per-recording accuracy of a standardised logistic regression under stratified k-fold CV.

    ``features[r]`` is recording ``r``'s windows ``[n_windows, n_features]`` (recordings without windows
    count as wrong). Raises ``ValueError`` when there are fewer than two recordings in some class.
    """
    from sklearn.exceptions import ConvergenceWarning
    from sklearn.linear_model import LogisticRegression
    from sklearn.metrics import balanced_accuracy_score
    from sklearn.model_selection import StratifiedKFold

    labels = np.asarray(recording_labels, dtype=object)
    k = n_folds(list(recording_labels))
    if k == 0:
        raise ValueError("cross-validation needs two classes with at least two recordings each")
    classes = sorted(set(labels.tolist()))
    y_rec = np.array([classes.index(v) for v in labels])
    flat = [np.asarray(f, dtype=np.float64).reshape(len(f), -1) for f in features]
    width = max((f.shape[1] for f in flat if len(f)), default=0)
    scores = []
    for rep in range(max(1, repeats)):
        pred = np.full(len(flat), -1)
        for tr, te in StratifiedKFold(k, shuffle=True, random_state=seed + rep).split(np.zeros(len(y_rec)), y_rec):
            xs = [flat[i] for i in tr if len(flat[i])]
            ys = [np.full(len(flat[i]), y_rec[i]) for i in tr if len(flat[i])]
            if not xs or width == 0:
                continue
            x, y = np.concatenate(xs), np.concatenate(ys)
            mu, sd = x.mean(axis=0), x.std(axis=0)
            sd = np.where(sd > 1e-12, sd, 1.0)
            if len(set(y.tolist())) < 2:
                continue
            with warnings.catch_warnings():
                warnings.simplefilter("ignore", ConvergenceWarning)
                model = LogisticRegression(max_iter=200, tol=1e-3, C=1.0).fit((x - mu) / sd, y)
            for i in te:
                if len(flat[i]):
                    p = model.predict_proba((flat[i] - mu) / sd).mean(axis=0)
                    pred[i] = int(model.classes_[int(p.argmax())])
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", UserWarning)  # unscored recordings (-1) are not a class
            scores.append(float(balanced_accuracy_score(y_rec, pred)))
    return float(np.mean(scores))
