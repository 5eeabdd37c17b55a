"""Use case ``test``: evaluate a run's float32 or int8 model on the testing windows in TFLite Micro.

Features are recomputed (from the feature cache) with the impulse the run was trained with, so testing
an older run after the impulse changed still feeds it the features it expects.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from crisp_eml.core.errors import InputError
from crisp_eml.core.features import FeatureSet
from crisp_eml.core.impulse import ImpulseSpec
from crisp_eml.core.personas import Permission
from crisp_eml.learn.metrics import overfit_warning, restored_epoch
from crisp_eml.store.project import Project
from crisp_eml.store.tables.learn import RunRow
from crisp_eml.workspace.runs_common import VARIANT_ARTIFACTS, artifact_bytes, get_run, sample_names

VARIANTS = tuple(VARIANT_ARTIFACTS)


def _features(project: Project, row: RunRow) -> FeatureSet:
    from crisp_eml.workspace.features import generate_features
    from crisp_eml.workspace.impulse import current_impulse

    spec = ImpulseSpec.from_dict(row.impulse_spec) if row.impulse_spec else current_impulse(project)
    return generate_features(project, spec, category="testing")


def test_run(
    project: Project, *, run_id: str | None = None, variant: str = "int8", uncertain_below: float = 0.6,
    features: FeatureSet | None = None,
) -> dict[str, Any]:
    """Metrics of ``variant`` of run ``run_id`` (default: the latest run) on the testing category."""
    from crisp_eml.learn.trainer import anomaly_from_bytes, evaluate_tflite

    actor = project.require(Permission.TRAIN)
    if variant not in VARIANTS:
        raise InputError(f"unknown variant {variant!r}; one of {list(VARIANTS)}", field="variant")
    if not 0.0 <= uncertain_below <= 1.0:
        raise InputError("must be between 0 and 1", field="uncertain-below")
    with project.session() as s:
        row = get_run(s, run_id)
        s.expunge(row)
    fs = features if features is not None else _features(project, row)
    fs = fs.category("testing")
    if len(fs.X) == 0:
        raise InputError("no testing samples: move some samples to the 'testing' category", field="category")
    params = dict(row.params or {})
    names = sample_names(project, fs.sample_ids)
    if row.learning_type in ("anomaly-kmeans", "anomaly-gmm"):
        from crisp_eml.learn.metrics import anomaly_metrics

        model = anomaly_from_bytes(artifact_bytes(project, row, "anomaly.json"))
        scores = model.score(fs.X)
        normal = list(params.get("normal_labels") or [])
        is_anom = ~np.isin(np.asarray([str(v) for v in fs.labels]), normal)
        metrics = anomaly_metrics(is_anom, scores, model.threshold, fs.sample_ids, fs.labels, sample_names=names)
        metrics["calibration"] = model.calibration
        variant = "model"
    else:
        name = VARIANT_ARTIFACTS[variant]
        if name not in (row.artifacts or {}):
            available = [v for v, a in VARIANT_ARTIFACTS.items() if a in (row.artifacts or {})]
            raise InputError(f"run {row.id} has no {variant} model (it has {available})", field="variant")
        metrics = evaluate_tflite(artifact_bytes(project, row, name), fs, params, uncertain_below=uncertain_below,
                                  sample_names=names)
        metrics.pop("predictions", None)
    history = (row.metrics or {}).get("history", {})
    kept = (row.metrics or {}).get("restored_epoch")  # runs from before it was stored: derive it
    if kept is None:
        kept = restored_epoch(history, int(params.get("early_stopping_patience") or 0))
    warning = overfit_warning(history, kept)
    result = {"run": row.id, "variant": variant, "learning_type": row.learning_type, **metrics,
              "overfit_warning": warning}
    with project.session() as s:
        project.record(s, "learn.test", {"run": row.id, "variant": variant,
                                         "model": (row.artifacts or {}).get(VARIANT_ARTIFACTS.get(variant, ""))},
                       actor=actor)
    return result
