"""Anomaly detection learning blocks: K-means (distance to nearest centroid) and GMM (negative log-likelihood).

Fitted on normal training windows only; the threshold is a percentile of the training scores. K-means
scores are scaled so that the threshold percentile of training scores is 1.0. The fitted state is plain
JSON (centroids, means, covariances), so it is stored, compared and compiled without pickles.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np

from crisp_eml.core.errors import InputError


@dataclass
class AnomalyModel:
    kind: str  # kmeans | gmm
    mean: np.ndarray
    std: np.ndarray
    threshold: float
    scale: float = 1.0
    centers: np.ndarray = field(default_factory=lambda: np.zeros((0, 0)))
    weights: np.ndarray = field(default_factory=lambda: np.zeros(0))
    covariances: np.ndarray = field(default_factory=lambda: np.zeros((0, 0, 0)))

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
                "weights": self.weights.tolist(), "covariances": self.covariances.tolist()}

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> AnomalyModel:
        return cls(kind=d["kind"], mean=np.asarray(d["mean"]), std=np.asarray(d["std"]),
                   threshold=float(d["threshold"]), scale=float(d["scale"]), centers=np.asarray(d["centers"]),
                   weights=np.asarray(d["weights"]), covariances=np.asarray(d["covariances"]))


def fit_anomaly(X: np.ndarray, kind: str, params: dict[str, Any], seed: int) -> AnomalyModel:
    """Fit on normal windows ``X``; ``kind`` is 'kmeans' or 'gmm'."""
    Z = np.asarray(X, dtype=np.float64).reshape(len(X), -1)
    if len(Z) < 2:
        raise InputError("anomaly detection needs at least 2 training windows", field="features")
    mean = Z.mean(axis=0)
    std = Z.std(axis=0) if params.get("normalize", True) else np.ones(Z.shape[1])
    std[std < 1e-12] = 1.0
    Zs = (Z - mean) / std
    pct = float(params.get("threshold_percentile", 99.0))
    if kind == "kmeans":
        from sklearn.cluster import KMeans

        k = min(int(params.get("clusters", 8)), len(Zs))
        km = KMeans(n_clusters=k, n_init=4, random_state=seed).fit(Zs)
        model = AnomalyModel("kmeans", mean, std, 1.0, centers=km.cluster_centers_)
        raw = model.score(X)
        model.scale = float(np.percentile(raw, pct)) or 1.0
        model.threshold = 1.0
        return model
    from sklearn.mixture import GaussianMixture

    c = min(int(params.get("components", 3)), len(Zs))
    gm = GaussianMixture(n_components=c, covariance_type="full", reg_covar=1e-4, random_state=seed).fit(Zs)
    model = AnomalyModel("gmm", mean, std, 0.0, centers=gm.means_, weights=gm.weights_, covariances=gm.covariances_)
    model.threshold = float(np.percentile(model.score(X), pct))
    return model
