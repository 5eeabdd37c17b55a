"""Anomaly detection learning blocks: K-means (distance to nearest centroid) and GMM (negative log-likelihood).

Fitted on normal training windows only. The threshold is a percentile of **out-of-fold** scores: the normal
windows are split into folds by sample (windows of one recording stay together), each fold is scored by a
model fitted on the other folds, and ``threshold_percentile`` of those held-out scores becomes the threshold
of the final model (fitted on all normal windows). In-sample scores would understate how far unseen normal
data lands (a full-covariance GMM in 66 dimensions memorizes its training windows: on basic-motions it
flagged 73 % of unseen normal windows), so held-out scores are the honest estimate of the normal score
distribution. K-means scores are scaled so that the threshold is 1.0. GMMs default to diagonal covariances
(better conditioned on a few hundred windows; ``covariance: "full"`` is available).

The fitted state is plain JSON (centroids, means, covariances, calibration), so it is stored, compared and
compiled without pickles.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np

from crisp_eml.core.errors import InputError

THRESHOLD_FOLDS = 5
REG_COVAR = 1e-4


@dataclass
class AnomalyModel:
    kind: str  # kmeans | gmm
    mean: np.ndarray
    std: np.ndarray
    threshold: float
    scale: float = 1.0
    centers: np.ndarray = field(default_factory=lambda: np.zeros((0, 0)))
    weights: np.ndarray = field(default_factory=lambda: np.zeros(0))
    covariances: np.ndarray = field(default_factory=lambda: np.zeros((0, 0, 0)))  # always [k, d, d]
    covariance_type: str = "full"
    calibration: dict[str, Any] = field(default_factory=dict)  # how the threshold was chosen

    def _z(self, X: np.ndarray) -> np.ndarray:
        Z = np.asarray(X, dtype=np.float64).reshape(len(X), -1)
        if Z.shape[1] != self.mean.shape[0]:
            raise InputError(f"features have {Z.shape[1]} values per window; the anomaly model expects "
                             f"{self.mean.shape[0]}", field="features")
        return (Z - self.mean) / self.std

    def score(self, X: np.ndarray) -> np.ndarray:
        """Higher = more anomalous; ``score > threshold`` is an anomaly."""
        Z = self._z(X)
        if self.kind == "kmeans":
            d = np.sqrt(((Z[:, None, :] - self.centers[None, :, :]) ** 2).sum(-1)).min(axis=1)
            return (d / self.scale).astype(np.float64)
        logp = []
        for w, mu, cov in zip(self.weights, self.centers, self.covariances, strict=True):
            diff = Z - mu
            sign, logdet = np.linalg.slogdet(cov)
            sol = np.linalg.solve(cov, diff.T).T
            maha = (diff * sol).sum(axis=1)
            logp.append(np.log(max(w, 1e-300)) - 0.5 * (maha + logdet + Z.shape[1] * np.log(2 * np.pi)))
        return -np.logaddexp.reduce(np.stack(logp), axis=0)

    def to_dict(self) -> dict[str, Any]:
        return {"kind": self.kind, "mean": self.mean.tolist(), "std": self.std.tolist(),
                "threshold": self.threshold, "scale": self.scale, "centers": self.centers.tolist(),
                "weights": self.weights.tolist(), "covariances": self.covariances.tolist(),
                "covariance_type": self.covariance_type, "calibration": dict(self.calibration)}

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> AnomalyModel:
        return cls(kind=d["kind"], mean=np.asarray(d["mean"]), std=np.asarray(d["std"]),
                   threshold=float(d["threshold"]), scale=float(d["scale"]), centers=np.asarray(d["centers"]),
                   weights=np.asarray(d["weights"]), covariances=np.asarray(d["covariances"]),
                   covariance_type=str(d.get("covariance_type", "full")),
                   calibration=dict(d.get("calibration") or {}))


def _fit_raw(Zs: np.ndarray, kind: str, params: dict[str, Any], seed: int, mean: np.ndarray,
             std: np.ndarray) -> AnomalyModel:
    """A model on standardized windows ``Zs`` with scale 1 (raw distance / NLL) and no threshold yet."""
    if kind == "kmeans":
        from sklearn.cluster import KMeans

        k = min(int(params.get("clusters", 8)), len(Zs))
        km = KMeans(n_clusters=k, n_init=4, random_state=seed).fit(Zs)
        return AnomalyModel("kmeans", mean, std, 1.0, centers=km.cluster_centers_)
    from sklearn.mixture import GaussianMixture

    cov_type = str(params.get("covariance") or "diag")
    c = min(int(params.get("components", 3)), len(Zs))
    gm = GaussianMixture(n_components=c, covariance_type=cov_type, reg_covar=REG_COVAR,
                         random_state=seed).fit(Zs)
    covs = np.asarray(gm.covariances_)
    if cov_type == "diag":
        covs = np.stack([np.diag(v) for v in covs])
    return AnomalyModel("gmm", mean, std, 0.0, centers=gm.means_, weights=gm.weights_, covariances=covs,
                        covariance_type=cov_type)


def fold_of(groups: np.ndarray, folds: int, seed: int) -> np.ndarray:
    """Fold index of each window; whole groups per fold, groups dealt round-robin in a seeded order."""
    first_seen = np.asarray(list(dict.fromkeys(groups.tolist())), dtype=object)  # not sorted ids: those are random
    uniq = np.random.default_rng([seed, 11]).permutation(first_seen)
    index = {g: i % folds for i, g in enumerate(uniq.tolist())}
    return np.asarray([index[g] for g in groups.tolist()], dtype=np.int64)


def out_of_fold_scores(Zs: np.ndarray, groups: np.ndarray, kind: str, params: dict[str, Any],
                       seed: int) -> tuple[np.ndarray, int]:
    """Raw scores of every window by a model that did not see its group; returns ``(scores, folds)``."""
    if len(np.unique(groups)) < 2:  # one recording: fall back to folds of single windows
        groups = np.arange(len(Zs)).astype(str)
    folds = min(THRESHOLD_FOLDS, len(np.unique(groups)))
    f = fold_of(groups, folds, seed)
    out = np.empty(len(Zs), dtype=np.float64)
    for i in range(folds):
        held = f == i
        m = _fit_raw(Zs[~held], kind, params, seed, np.zeros(Zs.shape[1]), np.ones(Zs.shape[1]))
        out[held] = m.score(Zs[held])
    return out, folds


def fit_anomaly(X: np.ndarray, kind: str, params: dict[str, Any], seed: int,
                groups: np.ndarray | None = None) -> AnomalyModel:
    """Fit on normal windows ``X`` (``kind`` 'kmeans' or 'gmm'); ``groups`` = the sample of each window."""
    Z = np.asarray(X, dtype=np.float64).reshape(len(X), -1)
    if len(Z) < 2:
        raise InputError("anomaly detection needs at least 2 training windows", field="features")
    if kind not in ("kmeans", "gmm"):
        raise InputError(f"unknown anomaly model {kind!r}; one of kmeans, gmm", field="learning.type")
    if kind == "gmm" and str(params.get("covariance") or "diag") not in ("diag", "full"):
        raise InputError(f"must be 'diag' or 'full', got {params.get('covariance')!r}",
                         field="learning.params.covariance")
    mean = Z.mean(axis=0)
    std = Z.std(axis=0) if params.get("normalize", True) else np.ones(Z.shape[1])
    std[std < 1e-12] = 1.0
    Zs = (Z - mean) / std
    pct = float(params.get("threshold_percentile", 95.0))
    g = np.asarray(groups).astype(str) if groups is not None else np.arange(len(Z)).astype(str)
    held_out, folds = out_of_fold_scores(Zs, g, kind, params, seed)
    model = _fit_raw(Zs, kind, params, seed, mean, std)
    raw_threshold = float(np.percentile(held_out, pct))
    in_sample = model.score(X)
    model.calibration = {
        "method": "out-of-fold", "folds": folds, "percentile": pct, "windows": int(len(Z)),
        "held_out_score_percentile": raw_threshold,
        "in_sample_score_percentile": float(np.percentile(in_sample, pct)),
    }
    if kind == "kmeans":
        model.scale = raw_threshold if raw_threshold > 0 else 1.0
        model.threshold = 1.0
    else:
        model.threshold = raw_threshold
    return model
