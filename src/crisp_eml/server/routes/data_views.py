"""Read-only views of the data set that the Studio's Data acquisition page needs and no other route gives.

Thin: each route calls its use case under ``workspace/``. Open to every member (reading only).
"""

from __future__ import annotations

from typing import Any, Literal

from fastapi import APIRouter, Depends

from crisp_eml.server.auth import member_project
from crisp_eml.store.project import Project

router = APIRouter(tags=["datasets"])


@router.get("/data/summary")
def summary(project: Project = Depends(member_project), layer: Literal["raw", "clean"] = "raw") -> dict[str, Any]:
    """How many enabled samples of the layer each label has in training and testing, and how many of each kind:
    ``{"layer", "total", "categories": {...}, "kinds": {...}, "labels": [{"label", "training", "testing"}]}``
    (an unlabeled sample counts under the label ``""``)."""
    from crisp_eml.workspace.sample_summary import summarize_samples

    return summarize_samples(project, layer=layer).to_dict()
