"""Use case ``features explore``: a 2D embedding of every window, class separation and feature importance.

Features are standardised (z-score per column; constant columns become 0) before the embedding (PCA by
default, t-SNE, or UMAP when the ``umap-learn`` package is installed). The embedding is saved in the blob
store (``.npy`` float32 ``[n, 2]``) and audited as ``features.explore``; an optional self-contained HTML
page shows it. The silhouette score of the labels (on the 2D embedding and on the standardised features)
measures how well the impulse separates the classes.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np

from crisp_eml.core.errors import InputError, ToolMissingError
from crisp_eml.core.impulse import ImpulseSpec
from crisp_eml.core.personas import Permission
from crisp_eml.data.samples import encode_array, list_samples
from crisp_eml.dsp.explorer_html import render_explorer_html
from crisp_eml.store.outputs import check_creatable, make_dirs, remove_dirs
from crisp_eml.store.project import Project
from crisp_eml.store.tables.impulse import FeatureEmbeddingRow
from crisp_eml.workspace.features import Progress, generate_features_report

METHODS = ("pca", "tsne", "umap")


def standardize(x: np.ndarray) -> np.ndarray:
    x = x.reshape(x.shape[0], -1).astype(np.float64)
    sd = x.std(axis=0)
    return np.asarray((x - x.mean(axis=0)) / np.where(sd > 1e-12, sd, 1.0))


def embed(z: np.ndarray, method: str, seed: int = 0) -> np.ndarray:
    if method not in METHODS:
        raise InputError(f"unknown method {method!r}; one of {list(METHODS)}", field="--method")
    if z.shape[0] < 3:
        raise InputError(f"need at least 3 windows to embed, got {z.shape[0]}", field="features")
    if method == "pca":
        from sklearn.decomposition import PCA

        k = min(2, z.shape[1], z.shape[0])
        e = PCA(n_components=k, random_state=seed).fit_transform(z)
        if k < 2:
            e = np.concatenate([e, np.zeros((e.shape[0], 2 - k))], axis=1)
        return np.asarray(e, dtype=np.float32)
    if method == "tsne":
        from sklearn.manifold import TSNE

        perplexity = float(min(30.0, max(2.0, (z.shape[0] - 1) / 3.0)))
        return np.asarray(TSNE(n_components=2, perplexity=perplexity, init="pca", random_state=seed)
                          .fit_transform(z), dtype=np.float32)
    try:
        import umap  # type: ignore[import-not-found]
    except ImportError as exc:
        raise ToolMissingError("UMAP needs the 'umap-learn' package (pip install umap-learn); "
                               "use --method pca or tsne") from exc
    return np.asarray(umap.UMAP(n_components=2, random_state=seed).fit_transform(z), dtype=np.float32)


def importance(z: np.ndarray, labels: np.ndarray, names: list[str], top: int = 20) -> list[dict[str, Any]]:
    """Per-feature ANOVA F and mutual information with the label, sorted by F (top ``top``)."""
    from sklearn.feature_selection import f_classif, mutual_info_classif

    with np.errstate(divide="ignore", invalid="ignore"):
        f, _ = f_classif(z, labels)
    f = np.nan_to_num(f, nan=0.0, posinf=0.0)
    mi = mutual_info_classif(z, labels, random_state=0)
    order = np.argsort(-f, kind="stable")[:top]
    return [{"name": names[i] if i < len(names) else f"f{i}", "f_score": float(f[i]), "mutual_info": float(mi[i])}
            for i in order]


def explore_features(
    project: Project, spec: ImpulseSpec | None = None, *, method: str = "pca", html_path: Path | None = None,
    layer: str = "raw", category: str | None = None, on_progress: Progress | None = None,
    workers: int | None = None,
) -> dict[str, Any]:
    actor = project.require(Permission.DESIGN_IMPULSE)
    if method not in METHODS:
        raise InputError(f"unknown method {method!r}; one of {list(METHODS)}", field="--method")
    if html_path is not None:
        check_creatable(Path(html_path), field="html")
    fs, stats = generate_features_report(project, spec, layer=layer, category=category, on_progress=on_progress,
                                         workers=workers)
    flat = fs.X.reshape(len(fs.X), -1)
    if not np.isfinite(flat).all():  # PCA/t-SNE cannot embed NaN/Inf: name the samples to clean
        bad = sorted({str(s) for s in np.asarray(fs.sample_ids)[~np.isfinite(flat).all(1)]})
        raise InputError(f"features contain NaN/Inf for sample(s) {bad[:5]}: fix or remove them "
                         "('eml data check', 'eml data clean --repair')", field="features")
    mask = fs.labels != ""
    z = standardize(fs.X)
    e = embed(z, method)
    result: dict[str, Any] = {"method": method, "windows": int(fs.X.shape[0]), "labels": fs.label_names,
                              "impulse_hash": fs.impulse_hash, "generation": stats.to_dict()}
    labels = fs.labels[mask].astype(str)
    if len(set(labels)) >= 2 and len(labels) > len(set(labels)):
        from sklearn.metrics import silhouette_score

        result["silhouette"] = float(silhouette_score(e[mask], labels))
        result["silhouette_features"] = float(silhouette_score(z[mask], labels))
        result["importance"] = importance(z[mask], labels, fs.feature_names)
    else:
        result["silhouette"] = None
        result["silhouette_features"] = None
        result["importance"] = []
    digest = project.blobs.put(encode_array(e))
    result["embedding_blob"] = digest
    if html_path is not None:
        sil = result["silhouette"]
        summary = (f"{result['windows']} windows, {len(fs.label_names)} labels, {method.upper()} embedding; "
                   f"silhouette {sil:.3f}" if sil is not None else f"{result['windows']} windows")
        by_id = {s.id: s.name for s in list_samples(project, layer=layer, category=category)}
        seen: dict[str, int] = {}
        names = []
        for sid in fs.sample_ids:
            seen[sid] = seen.get(sid, -1) + 1
            names.append(f"{by_id.get(sid, sid)} #{seen[sid]}")
        page = render_explorer_html(e, list(fs.labels.astype(str)), names, title=project.name, summary=summary,
                                    importance=result["importance"])
        html_path = Path(html_path)
        created = make_dirs(html_path.parent, field="html")
        tmp = html_path.with_name(html_path.name + ".tmp")
        try:
            tmp.write_text(page, encoding="utf-8")
            tmp.replace(html_path)
        except OSError as exc:
            tmp.unlink(missing_ok=True)
            remove_dirs(created)
            raise InputError(f"cannot write the explorer: {exc.strerror or exc}", source=str(html_path)) from exc
        result["html"] = str(html_path)
    with project.session() as s:
        s.add(FeatureEmbeddingRow(impulse_hash=fs.impulse_hash, method=method, embedding_hash=digest,
                                  windows=int(e.shape[0]), silhouette=result["silhouette"], author=actor.name))
        project.record(s, "features.explore", {"impulse_hash": fs.impulse_hash, "embedding": digest,
                                               "method": method, "silhouette": result["silhouette"]})
    return result
