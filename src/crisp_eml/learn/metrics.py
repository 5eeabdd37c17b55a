"""Test metrics for classifiers, regressors and anomaly detectors (pure numpy + scikit-learn).

Window-level scores (accuracy, balanced accuracy, macro F1, confusion matrix) plus per-sample results
(the mean of a sample's window probabilities) with confidence and an "uncertain" outcome.
"""

from __future__ import annotations

from typing import Any

import numpy as np

OVERFIT_GAP = 0.10


def classification_metrics(
    y_true: np.ndarray, probs: np.ndarray, labels: list[str], sample_ids: np.ndarray, *,
    uncertain_below: float = 0.6, sample_names: dict[str, str] | None = None,
) -> dict[str, Any]:
    from sklearn.metrics import balanced_accuracy_score, f1_score, precision_recall_fscore_support

    k = len(labels)
    pred = probs.argmax(axis=1) if len(probs) else np.zeros(0, dtype=np.int64)
    conf = probs.max(axis=1) if len(probs) else np.zeros(0)
    cm = np.zeros((k, k), dtype=np.int64)
    for t, p in zip(y_true, pred, strict=True):
        cm[int(t), int(p)] += 1
    rng = list(range(k))
    prec, rec, f1s, sup = precision_recall_fscore_support(y_true, pred, labels=rng, zero_division=0)
    uncertain = conf < uncertain_below
    certain = ~uncertain
    per_sample = []
    sids = np.asarray(sample_ids).astype(str)
    for sid in dict.fromkeys(sids.tolist()):
        sel = sids == sid
        mp = probs[sel].mean(axis=0)
        j = int(mp.argmax())
        per_sample.append({
            "sample_id": sid, "name": _name(sample_names, sid), "label": labels[int(y_true[sel][0])],
            "predicted": labels[j],
            "confidence": round(float(mp[j]), 4), "windows": int(sel.sum()),
            "correct": bool(labels[j] == labels[int(y_true[sel][0])]),
            "uncertain": bool(mp[j] < uncertain_below),
            "window_accuracy": round(float((pred[sel] == y_true[sel]).mean()), 4),
        })
    n = len(y_true)
    return {
        "task": "classification", "windows": int(n), "labels": list(labels),
        "accuracy": float((pred == y_true).mean()) if n else 0.0,
        "balanced_accuracy": float(balanced_accuracy_score(y_true, pred)) if n else 0.0,
        "f1": float(f1_score(y_true, pred, labels=rng, average="macro", zero_division=0)) if n else 0.0,
        "confusion_matrix": cm.tolist(),
        "per_class": {labels[i]: {"precision": float(prec[i]), "recall": float(rec[i]), "f1": float(f1s[i]),
                                  "support": int(sup[i])} for i in range(k)},
        "uncertain_below": uncertain_below,
        "uncertain": {"windows": int(uncertain.sum()), "fraction": float(uncertain.mean()) if n else 0.0},
        "accuracy_certain": float((pred[certain] == y_true[certain]).mean()) if certain.any() else 0.0,
        "sample_accuracy": float(np.mean([s["correct"] for s in per_sample])) if per_sample else 0.0,
        "per_sample": per_sample,
        "predictions": pred.astype(int).tolist(),
    }


def _name(names: dict[str, str] | None, sid: str) -> str:
    """A sample's name for per-sample results (its id when the name is unknown)."""
    return (names or {}).get(sid, sid)


def regression_metrics(y_true: np.ndarray, y_pred: np.ndarray, sample_ids: np.ndarray, *,
                       sample_names: dict[str, str] | None = None) -> dict[str, Any]:
    y_pred = np.asarray(y_pred, dtype=np.float64).reshape(-1)
    err = y_pred - y_true
    sids = np.asarray(sample_ids).astype(str)
    per_sample = [{"sample_id": sid, "name": _name(sample_names, sid), "label": float(y_true[sids == sid][0]),
                   "predicted": round(float(y_pred[sids == sid].mean()), 6)} for sid in dict.fromkeys(sids.tolist())]
    ss_tot = float(((y_true - y_true.mean()) ** 2).sum()) if len(y_true) else 0.0
    return {
        "task": "regression", "windows": int(len(y_true)),
        "mae": float(np.abs(err).mean()) if len(err) else 0.0,
        "rmse": float(np.sqrt((err ** 2).mean())) if len(err) else 0.0,
        "r2": float(1 - (err ** 2).sum() / ss_tot) if ss_tot > 0 else 0.0,
        "per_sample": per_sample,
    }


def anomaly_metrics(is_anomaly: np.ndarray, scores: np.ndarray, threshold: float,
                    sample_ids: np.ndarray, labels: np.ndarray, *,
                    sample_names: dict[str, str] | None = None) -> dict[str, Any]:
    """ROC-AUC (threshold-free) **and** the decisions at ``threshold``: accuracy, balanced accuracy, rates."""
    from sklearn.metrics import roc_auc_score

    is_anomaly = np.asarray(is_anomaly, dtype=bool)
    pred = scores > threshold
    both = bool(is_anomaly.any() and (~is_anomaly).any())
    sids = np.asarray(sample_ids).astype(str)
    per_sample = []
    for sid in dict.fromkeys(sids.tolist()):
        sel = sids == sid
        s = float(scores[sel].mean())
        per_sample.append({"sample_id": sid, "name": _name(sample_names, sid), "label": str(labels[sel][0]),
                           "score": round(s, 6), "anomaly": bool(s > threshold),
                           "anomalous_windows": round(float(pred[sel].mean()), 4),
                           "expected_anomaly": bool(is_anomaly[sel][0])})
    tn, fp = int((~is_anomaly & ~pred).sum()), int((~is_anomaly & pred).sum())
    fn, tp = int((is_anomaly & ~pred).sum()), int((is_anomaly & pred).sum())
    tpr = tp / (tp + fn) if tp + fn else None
    tnr = tn / (tn + fp) if tn + fp else None
    rates = [r for r in (tpr, tnr) if r is not None]
    return {
        "task": "anomaly", "windows": int(len(scores)), "labels": ["normal", "anomaly"], "threshold": threshold,
        "roc_auc": float(roc_auc_score(is_anomaly, scores)) if both else None,
        "accuracy": float((pred == is_anomaly).mean()) if len(scores) else 0.0,
        "balanced_accuracy": float(np.mean(rates)) if rates else 0.0,
        "recall": tpr, "false_positive_rate": (fp / (tn + fp)) if tn + fp else None,
        "precision": tp / (tp + fp) if tp + fp else None,
        "confusion_matrix": [[tn, fp], [fn, tp]], "per_sample": per_sample,
        "sample_accuracy": float(np.mean([p["anomaly"] == p["expected_anomaly"] for p in per_sample]))
        if per_sample else 0.0,
    }


def restored_epoch(history: dict[str, list[float]], patience: int) -> int:
    """The 1-based epoch whose weights the model ends with.

    With early stopping (``patience`` > 0) Keras restores the weights of the first epoch with the lowest
    monitored loss (``val_loss``, else ``loss``) when training ends; otherwise the last epoch's weights stay.
    """
    n = len(history.get("loss") or [])
    key = "val_loss" if history.get("val_loss") else "loss"
    values = history.get(key) or []
    if patience <= 0 or not values:
        return n
    arr = np.asarray(values, dtype=np.float64)
    if not np.isfinite(arr).any():
        return n
    return int(np.nanargmin(np.where(np.isfinite(arr), arr, np.nan))) + 1


def overfit_warning(history: dict[str, list[float]], epoch: int | None = None) -> str | None:
    """A warning when training accuracy exceeds validation accuracy by more than 10 points.

    Compared at ``epoch`` (1-based; the epoch whose weights were restored), by default the last one.
    """
    tr, va = history.get("accuracy"), history.get("val_accuracy")
    if not tr or not va:
        return None
    i = min(len(tr), len(va)) - 1 if epoch is None else max(0, min(int(epoch), len(tr), len(va)) - 1)
    gap = tr[i] - va[i]
    if gap > OVERFIT_GAP + 1e-9:  # 0.8 - 0.7 is 0.10000000000000009 in floating point: not over 0.1
        from crisp_eml.core.humanize import distinct_pair

        shown, limit = distinct_pair(gap, OVERFIT_GAP)
        d = len(shown.partition(".")[2])  # the accuracies with as many decimals as the gap, so the numbers add up
        return (f"possible overfitting: training accuracy {tr[i]:.{d}f} vs validation {va[i]:.{d}f} at epoch {i + 1} "
                f"(the weights kept; gap {shown} > {limit}); add data, augmentation or dropout")
    return None
