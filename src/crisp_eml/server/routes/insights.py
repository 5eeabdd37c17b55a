"""Insight routes for the Studio's model pages: the processing blocks on offer, the feature explorer's points
(read from the feature cache), and a run's latest test results per variant with per-sample rows.

All are read-only views over ``workspace/`` use cases; generating features and testing stay background jobs
(``POST /features/generate``, ``POST /test``).
"""

from __future__ import annotations

from typing import Annotated, Any, Literal

from fastapi import APIRouter, Depends, Path, Query

from crisp_eml.server.auth import member_project
from crisp_eml.store.project import Project

router = APIRouter(tags=["insights"])

RunId = Annotated[str, Path(min_length=1, max_length=64, description="Run id or unique prefix.")]


@router.get("/dsp/blocks")
def dsp_blocks(project: Project = Depends(member_project)) -> list[dict[str, Any]]:
    """The processing block types an impulse may use: implementation versions (Edge Impulse's numbers, then
    "crisp"), the one new impulses take, and the default parameters (``defaults``: the crisp variant's;
    ``defaults_by_version``: each version's)."""
    from crisp_eml.dsp.registry import BLOCKS, block_class, block_versions, latest_version

    return [{"type": t, "versions": block_versions(t), "latest_version": latest_version(t),
             "defaults": dict(cls.defaults),
             "defaults_by_version": {str(v): dict(block_class(t, v).defaults) for v in block_versions(t)}}
            for t, cls in sorted(BLOCKS.items()) if t != "external"]  # an external block needs its server's URL


@router.get("/features/explorer")
def feature_explorer(
    project: Project = Depends(member_project),
    method: Literal["pca", "tsne"] = Query("pca", description="2-D embedding: pca (default) or tsne"),
    layer: Literal["raw", "clean"] = Query("raw"),
    category: Literal["training", "testing"] | None = Query(None),
    max_points: int = Query(5000, ge=1, le=20_000, description="evenly thinned above this many windows"),
) -> dict[str, Any]:
    """2-D points of the windows whose features are cached for the current impulse, coloured by label, each
    naming its sample; ``missing`` counts samples without features (generate them with a ``features`` job)."""
    from crisp_eml.workspace.feature_explorer import explorer_points

    return explorer_points(project, method=method, layer=layer, category=category, max_points=max_points)


@router.get("/tests/latest")
def latest_test(project: Project = Depends(member_project)) -> dict[str, Any]:
    """The latest finished run's test results (``run`` null when nothing was trained yet); see ``/runs/{id}/test``."""
    from crisp_eml.workspace.test_results import run_test_results

    return run_test_results(project)


@router.get("/runs/{run_id}/test")
def run_test(run_id: RunId, project: Project = Depends(member_project)) -> dict[str, Any]:
    """A run's latest test results per variant (float32, int8; ``model`` for anomaly): metrics, confusion matrix and
    per-sample results misclassified first. A succeeded ``test`` job's results win over those of training."""
    from crisp_eml.workspace.test_results import run_test_results

    return run_test_results(project, run_id)
