"""Field-data review routes: devices upload flagged windows, members label or dismiss them and commit a version.

Thin: each route calls the use case ``eml data review ...`` calls (``workspace.review``), so the permissions
(``label-data`` to label, dismiss or commit; ``ingest-data`` to submit) and the audit entries are the CLI's.
``POST /device/review`` speaks for one device (its key, :func:`crisp_eml.server.auth.device_project`): a member
token is refused there, and a resend of the same ``upload_id`` by the same device returns the first item.
"""

from __future__ import annotations

import json
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Depends, Path, Query, Request
from pydantic import BaseModel, ConfigDict, Field

from crisp_eml.server.auth import device_id, device_project, member_project
from crisp_eml.store.project import Project
from crisp_eml.workspace.review import DEFAULT_LIMIT, MAX_LIMIT

router = APIRouter(tags=["review"])

TEXT = r"^[^\x00-\x1f\x7f]*$"
Status = Literal["pending", "labelled", "dismissed", "all"]
Category = Literal["training", "testing", "split"]
Reason = Literal["low-confidence", "anomaly", "manual"]
ItemId = Annotated[str, Path(min_length=1, max_length=64, pattern=TEXT, description="Review item id.")]
Ids = Annotated[list[Annotated[str, Field(min_length=1, max_length=64, pattern=TEXT)]],
                Field(min_length=1, max_length=10_000)]


class Body(BaseModel):
    model_config = ConfigDict(extra="forbid", allow_inf_nan=False)


class LabelRequest(Body):
    ids: Ids
    label: Annotated[str, Field(min_length=1, max_length=256, pattern=TEXT)]
    category: Category = "split"


class DismissRequest(Body):
    ids: Ids


class CommitRequest(Body):
    message: Annotated[str, Field(min_length=1, max_length=10_000, pattern=r"^[^\x00]*$")]


class ReviewUpload(Body):
    """One window a device's model flagged, with what it predicted; ``sample`` is an Edge Impulse acquisition
    message (``{"protected", "signature", "payload": {"interval_ms", "sensors", "values", ...}}``)."""

    upload_id: Annotated[str, Field(min_length=1, max_length=64, pattern=TEXT,
                                    description="The device's idempotency key for this window.")]
    reason: Reason
    model: Annotated[str | None, Field(max_length=300, pattern=TEXT)] = None
    predicted: Annotated[str | None, Field(max_length=256, pattern=TEXT)] = None
    confidence: Annotated[float | None, Field(ge=0, le=1)] = None
    anomaly_score: float | None = None
    scores: dict[Annotated[str, Field(min_length=1, max_length=256, pattern=TEXT)], float] | None = None
    metadata: dict[str, Any] | None = None
    sample: dict[str, Any]


@router.post("/device/review")
def device_review(upload: ReviewUpload, request: Request,
                  project: Project = Depends(device_project)) -> dict[str, Any]:
    """Queue a flagged window for review (device key; ``ingest-data``). Idempotent on ``upload_id``: a resend
    returns the first item. A bad window is a 400 naming the field (``sample.payload.values``...)."""
    from crisp_eml.workspace.review import submit_review_item

    payload = json.dumps(upload.sample).encode()
    return submit_review_item(
        project, device_id(request), upload_id=upload.upload_id, reason=upload.reason, payload=payload,
        model=upload.model, predicted=upload.predicted, confidence=upload.confidence,
        anomaly_score=upload.anomaly_score, scores=upload.scores, metadata=upload.metadata)


@router.get("/review")
def review_queue(
    project: Project = Depends(member_project),
    status: Status = "pending",
    limit: Annotated[int, Query(ge=1, le=MAX_LIMIT)] = DEFAULT_LIMIT,
    page_token: Annotated[str | None, Query(max_length=512, pattern=TEXT,
                                            description="next_page_token of the previous page.")] = None,
) -> dict[str, Any]:
    """One page of review items, oldest first: ``{"items", "total", "limit", "next_page_token"}``."""
    from crisp_eml.workspace.review import list_review

    return list_review(project, status, limit, page_token)


@router.post("/review/label")
def label(req: LabelRequest, project: Project = Depends(member_project)) -> dict[str, Any]:
    """Label items: each becomes a raw sample (one transaction; needs ``label-data``; audited)."""
    from crisp_eml.workspace.review import label_review

    return label_review(project, req.ids, req.label, req.category)


@router.post("/review/dismiss")
def dismiss(req: DismissRequest, project: Project = Depends(member_project)) -> dict[str, Any]:
    """Dismiss items: they leave the queue and become no sample (needs ``label-data``; audited)."""
    from crisp_eml.workspace.review import dismiss_review

    return dismiss_review(project, req.ids)


@router.post("/review/commit", status_code=201)
def commit(req: CommitRequest, project: Project = Depends(member_project)) -> dict[str, Any]:
    """Record the labelled items' samples in a new dataset version (needs ``label-data`` and ``ingest-data``)."""
    from crisp_eml.workspace.review import commit_review

    return commit_review(project, req.message)


@router.get("/review/{item_id}/data")
def item_data(item_id: ItemId, project: Project = Depends(member_project)) -> dict[str, Any]:
    """The window's values: ``{"id", "kind", "sensors", "frequency_hz", "shape", "values"}``."""
    from crisp_eml.workspace.review import review_values

    return review_values(project, item_id)


@router.get("/review/{item_id}")
def item(item_id: ItemId, project: Project = Depends(member_project)) -> dict[str, Any]:
    """One review item, with its metadata."""
    from crisp_eml.workspace.review import get_review_item

    return get_review_item(project, item_id)
