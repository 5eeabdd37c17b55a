"""Sample routes: list (filtered, paged in SQL), one sample's metadata and raw values, label, move, delete.

Thin: each route calls the use case ``eml data ...`` calls (``label_samples``, ``remove_sample``,
``get_sample``) or its server counterpart (``query_samples``, ``sample_values``), so the permissions
(``label-data`` to label or move, ``ingest-data`` to delete) and the audit entries are the CLI's. Uploads live
in their own module. A sample is named as on the command line: its id, its unique name, or ``CATEGORY/NAME``
(``/samples/testing/idle.01``); a sample whose name is ``data`` is reached by id or ``CATEGORY/NAME`` only
through the metadata routes, since ``/samples/X/data`` is X's values.
"""

from __future__ import annotations

from functools import partial
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Depends, Path, Query
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import Response
from pydantic import BaseModel, ConfigDict, Field

from crisp_eml.server.auth import member_project
from crisp_eml.server.fast_json import FastJSON
from crisp_eml.store.project import Project
from crisp_eml.workspace.sample_query import DEFAULT_LIMIT, MAX_LIMIT

router = APIRouter(tags=["samples"])

#: printable text: no control characters (NUL and friends reach no database)
TEXT = r"^[^\x00-\x1f\x7f]*$"
Category = Literal["training", "testing"]
Layer = Literal["raw", "clean"]
Kind = Literal["timeseries", "audio", "image"]
DataFormat = Literal["json", "csv", "ei-json", "ei-cbor", "wav", "png"]
Ref = Annotated[str, Path(min_length=1, max_length=600, pattern=TEXT,
                          description="Sample id, unique name, or CATEGORY/NAME (testing/idle.01).")]
Label = Annotated[str, Field(min_length=1, max_length=256, pattern=TEXT)]


class LabelChange(BaseModel):
    """A new label and/or category for one sample (at least one of them)."""

    model_config = ConfigDict(extra="forbid")
    label: Label | None = None
    category: Category | None = None


class BulkLabelChange(LabelChange):
    """A new label and/or category for several samples, in one transaction (``eml data label A B LABEL``)."""

    samples: list[Annotated[str, Field(min_length=1, max_length=600, pattern=TEXT)]] = Field(
        min_length=1, max_length=10_000)


@router.get("/samples", response_model=None, response_class=FastJSON)
async def list_samples(
    project: Project = Depends(member_project),
    category: Category | None = None,
    label: Annotated[str | None, Query(max_length=256, pattern=TEXT,
                                       description="Only this label ('' : unlabeled samples).")] = None,
    layer: Layer = "raw",
    kind: Kind | None = None,
    search: Annotated[str | None, Query(max_length=256, pattern=TEXT,
                                        description="Only names containing this text.")] = None,
    limit: Annotated[int, Query(ge=1, le=MAX_LIMIT)] = DEFAULT_LIMIT,
    offset: Annotated[int, Query(ge=0, le=2**62)] = 0,
) -> FastJSON:
    """One page of the enabled samples of a layer, ordered by name then id, with the total that match:
    ``{"items": [...], "total", "limit", "offset"}``.

    A page this process read since the project last changed is answered on the event loop (one indexed read);
    any other is read in the thread pool."""
    from crisp_eml.workspace.sample_query import cached_page, query_samples

    args: dict[str, Any] = {"category": category, "label": label, "layer": layer, "kind": kind, "search": search,
                            "limit": limit, "offset": offset}
    page = cached_page(project, **args)
    if page is None:
        page = await run_in_threadpool(partial(query_samples, project, **args))
    return FastJSON(page.to_dict())


@router.post("/samples/label")
def label_many(change: BulkLabelChange, project: Project = Depends(member_project)) -> dict[str, Any]:
    """Relabel and/or move several samples at once (all or none; needs ``label-data``)."""
    from crisp_eml.workspace.label import label_samples

    return label_samples(project, change.samples, change.label, category=change.category).to_dict()


@router.get("/samples/{ref:path}/data", response_model=None)
def sample_data(
    ref: Ref, project: Project = Depends(member_project),
    format: Annotated[DataFormat, Query(description="json (default: axes, rate and values), or a file as "
                                                    "'eml data export' writes it: csv (time series, with a "
                                                    "timestamp column), ei-json, ei-cbor, wav (audio), "
                                                    "png (images)")] = "json",
) -> dict[str, Any] | Response:
    """The sample's raw values: JSON ``{"sensors", "frequency_hz", "shape", "values"}``, or a file."""
    from crisp_eml.workspace.sample_data import sample_file, sample_values

    if format == "json":
        return sample_values(project, ref)
    f = sample_file(project, ref, format)
    return Response(f.content, media_type=f.media_type,
                    headers={"Content-Disposition": f'attachment; filename="{f.filename}"'})


@router.get("/samples/{ref:path}")
def sample(ref: Ref, project: Project = Depends(member_project)) -> dict[str, Any]:
    """One sample's metadata (as ``eml data show --json``)."""
    from crisp_eml.data.samples import get_sample

    s = get_sample(project, ref)
    return {**s.to_dict(), "source_hash": s.source_hash}


@router.patch("/samples/{ref:path}")
def relabel(ref: Ref, change: LabelChange, project: Project = Depends(member_project)) -> dict[str, Any]:
    """Change the sample's label and/or move it to training or testing (needs ``label-data``; audited)."""
    from crisp_eml.data.samples import get_sample
    from crisp_eml.workspace.label import label_samples

    result = label_samples(project, [ref], change.label, category=change.category).to_dict()
    sid = (result["changes"] or [{"sample": (result["unchanged"] or [ref])[0]}])[0]["sample"]
    return {**result, "sample": get_sample(project, sid).to_dict()}


@router.delete("/samples/{ref:path}")
def remove(ref: Ref, project: Project = Depends(member_project)) -> dict[str, Any]:
    """Remove the sample (needs ``ingest-data``; audited). Its blob goes with the next ``eml data gc``."""
    from crisp_eml.workspace.remove_sample import remove_sample

    s = remove_sample(project, ref)
    return {"removed": s.id, "name": s.name, "hash": s.hash}
