"""Dataset routes: versions (list, snapshot, show, diff, restore), re-splitting, the clean layer and quality.

Thin: each route calls the use case its ``eml data`` command calls (``snapshot``, ``list_versions``,
``show_version``, ``diff_versions``, ``restore_version``, ``rebalance``, ``clean``, ``check_dataset``), so
permissions and audit entries are the CLI's: ``ingest-data`` to snapshot or clean, ``label-data`` to restore
or rebalance; reading, and running the quality check (which only adds an audit entry), is open to members.
"""

from __future__ import annotations

from typing import Annotated, Any, Literal

from fastapi import APIRouter, Depends, Path, Query
from pydantic import BaseModel, ConfigDict, Field

from crisp_eml.server.auth import member_project
from crisp_eml.store.project import Project

router = APIRouter(tags=["datasets"])

TEXT = r"^[^\x00-\x1f\x7f]*$"
Layer = Literal["raw", "clean"]
VersionId = Annotated[int, Path(ge=1, le=2**62, description="Dataset version number.")]
Ms = Annotated[float | None, Field(gt=0, le=3_600_000, description="Flag samples shorter than this window (ms).")]


class Body(BaseModel):
    model_config = ConfigDict(extra="forbid", allow_inf_nan=False)


class SnapshotRequest(Body):
    message: Annotated[str, Field(min_length=1, max_length=10_000, pattern=r"^[^\x00]*$")]
    layer: Layer = "raw"


class RebalanceRequest(Body):
    test_fraction: Annotated[float, Field(gt=0, lt=1)] = 0.2
    stratify: bool = False
    keep_together: Annotated[str | None, Field(min_length=1, max_length=256, pattern=TEXT,
                                               description="Metadata key whose samples stay on one side.")] = None
    layer: Layer = "raw"


class CleanRequest(Body):
    drop_below: Annotated[float | None, Field(ge=0, le=100)] = None
    repair: bool = False
    resample_hz: Annotated[float | None, Field(gt=0, le=1_000_000)] = None
    window_ms: Ms = None


class QualityRequest(Body):
    layer: Layer = "raw"
    window_ms: Ms = None


@router.get("/datasets/versions")
def versions(project: Project = Depends(member_project), layer: Layer | None = None) -> list[dict[str, Any]]:
    """Every dataset version (of one layer if given), oldest first."""
    from crisp_eml.workspace.snapshot import list_versions

    return [v.to_dict() for v in list_versions(project, layer=layer)]


@router.post("/datasets/versions", status_code=201)
def create_version(req: SnapshotRequest, project: Project = Depends(member_project)) -> dict[str, Any]:
    """Record the layer's current samples as an immutable version (needs ``ingest-data``)."""
    from crisp_eml.workspace.snapshot import snapshot

    return snapshot(project, req.message, layer=req.layer).to_dict()


@router.get("/datasets/versions/{version_id}")
def version(version_id: VersionId, project: Project = Depends(member_project)) -> dict[str, Any]:
    """One version's summary and its samples (id, hash, name, label, category)."""
    from crisp_eml.workspace.snapshot import show_version

    info, items = show_version(project, version_id)
    return {**info.to_dict(), "items": items}


@router.get("/datasets/versions/{version_id}/diff/{other_id}")
def diff(version_id: VersionId, other_id: VersionId, project: Project = Depends(member_project)) -> dict[str, Any]:
    """What changed from one version to the other: added, removed, relabeled, recategorized, changed."""
    from crisp_eml.workspace.snapshot import diff_versions

    return diff_versions(project, version_id, other_id)


@router.post("/datasets/versions/{version_id}/restore")
def restore(version_id: VersionId, project: Project = Depends(member_project)) -> dict[str, Any]:
    """Make the samples match the version again (needs ``label-data``; all or nothing)."""
    from crisp_eml.workspace.snapshot import restore_version

    return restore_version(project, version_id)


@router.post("/datasets/rebalance")
def rebalance(req: RebalanceRequest, project: Project = Depends(member_project)) -> dict[str, Any]:
    """Re-split the layer into training/testing by content hash (needs ``label-data``)."""
    from crisp_eml.workspace.rebalance import rebalance as uc

    return uc(project, test_fraction=req.test_fraction, stratify=req.stratify, keep_together=req.keep_together,
              layer=req.layer).to_dict()


@router.post("/datasets/clean")
def clean(req: CleanRequest, project: Project = Depends(member_project)) -> dict[str, Any]:
    """Rebuild the clean layer from the raw samples (needs ``ingest-data``)."""
    from crisp_eml.workspace.clean import clean as uc

    return uc(project, drop_below=req.drop_below, repair=req.repair, resample_hz=req.resample_hz,
              window_ms=req.window_ms).to_dict()


@router.post("/datasets/quality")
def quality(req: QualityRequest, project: Project = Depends(member_project)) -> dict[str, Any]:
    """Run the quality check of ``eml data check`` and return its report (every sample's score and issues)."""
    from crisp_eml.workspace.check import check_dataset

    return check_dataset(project, layer=req.layer, window_ms=req.window_ms).to_dict()


@router.get("/datasets/quality/latest")
def latest_quality(project: Project = Depends(member_project),
                   layer: Annotated[Layer, Query()] = "raw") -> dict[str, Any]:
    """The latest quality check of the layer as recorded (score, tier, when, by whom, still current?)."""
    from crisp_eml.workspace.quality_history import latest_check

    return latest_check(project, layer=layer)
