"""Use case ``remove sample``: delete one sample's row (audited); its blob stays until ``gc``.

The blob is not deleted here because a dataset version, a duplicate sample or a derived (clean-layer)
sample may still reference the same content; ``eml data gc`` decides that from every table at once.
"""

from __future__ import annotations

from crisp_eml.core.errors import ConflictError
from crisp_eml.core.personas import Permission
from crisp_eml.core.sample import Sample
from crisp_eml.data.samples import get_sample, to_entity
from crisp_eml.store.project import Project
from crisp_eml.store.tables.data import SampleRow


def remove_sample(project: Project, ref: str) -> Sample:
    """Remove the sample with id (or unique name) ``ref``; returns what was removed."""
    actor = project.require(Permission.INGEST_DATA)
    target = get_sample(project, ref)
    with project.session() as s:
        row = s.get(SampleRow, target.id)
        if row is None:
            raise ConflictError(f"sample {target.id} was removed concurrently")
        removed = to_entity(row)
        s.delete(row)
        project.record(s, "sample.remove", {"sample": removed.id, "hash": removed.hash, "name": removed.name},
                       actor=actor)
    return removed
