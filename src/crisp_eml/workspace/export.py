"""Use case ``export``: write the current samples, or a dataset version, as files ingest reads back.

A version is read from ``dataset_versions``/``dataset_version_items`` (label and category as they were
at snapshot time; the signal from the blob named by the item's hash; sensors and rate from any sample
row with that content). Files go to ``OUT/training`` and ``OUT/testing``.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from sqlalchemy import select

from crisp_eml.core.errors import InputError, NotFoundError
from crisp_eml.core.sample import Sample
from crisp_eml.data.export import applicable, check_format, relative_path, serialize
from crisp_eml.data.samples import decode_array, list_samples, to_entity
from crisp_eml.store.outputs import make_dirs, remove_dirs
from crisp_eml.store.project import Project
from crisp_eml.store.tables.data import DatasetVersionItemRow, DatasetVersionRow, SampleRow


@dataclass
class ExportReport:
    out: str
    format: str
    version: int | None
    written: list[str] = field(default_factory=list)
    skipped: list[dict[str, str]] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        return {"out": self.out, "format": self.format, "version": self.version, "written": len(self.written),
                "files": self.written, "skipped": self.skipped}


def _version_samples(project: Project, version: int) -> tuple[list[Sample], list[dict[str, str]]]:
    out: list[Sample] = []
    missing: list[dict[str, str]] = []
    with project.session() as s:
        if s.get(DatasetVersionRow, version) is None:
            raise NotFoundError(f"no dataset version {version}")
        items = s.execute(select(DatasetVersionItemRow).where(DatasetVersionItemRow.version_id == version)
                          .order_by(DatasetVersionItemRow.name, DatasetVersionItemRow.sample_id)).scalars()
        for it in items:
            row = s.get(SampleRow, it.sample_id)
            if row is None or row.hash != it.hash:
                row = s.execute(select(SampleRow).where(SampleRow.hash == it.hash).limit(1)).scalar_one_or_none()
            if row is None:
                missing.append({"id": it.sample_id, "reason": "no sample row describes this content any more"})
                continue
            out.append(dataclasses.replace(to_entity(row), id=it.sample_id, name=it.name, label=it.label,
                                           category=it.category, hash=it.hash))
    return out, missing


def export_dataset(
    project: Project, out: Path, fmt: str, *, version: int | None = None,
    on_progress: Callable[[int, int, str], None] | None = None,
) -> ExportReport:
    check_format(fmt)
    if version is not None:
        samples, skipped = _version_samples(project, version)
    else:
        samples, skipped = list_samples(project), []
    report = ExportReport(out=str(out), format=fmt, version=version, skipped=list(skipped))
    if out.exists() and not out.is_dir():
        raise InputError("is a file; give a folder to export into", source=str(out), field="out")
    created: list[Path] = []
    new_files: list[Path] = []
    try:
        for i, sample in enumerate(samples):
            reason = applicable(sample, fmt)
            if reason:
                report.skipped.append({"id": sample.id, "reason": reason})
            else:
                data = serialize(sample, decode_array(project.blobs.get(sample.hash)), fmt)
                rel = relative_path(sample, fmt)
                target = out / rel
                created += make_dirs(target.parent, field="out")
                tmp = target.with_name(target.name + ".part")
                if not target.exists():
                    new_files.append(target)
                try:
                    tmp.write_bytes(data)
                    tmp.replace(target)
                except OSError as exc:
                    tmp.unlink(missing_ok=True)
                    raise InputError(f"cannot write: {exc.strerror or exc}", source=str(target), field="out") from exc
                report.written.append(rel)
            if on_progress is not None:
                on_progress(i + 1, len(samples), sample.id)
    except BaseException:
        for f in new_files:  # a failed export leaves nothing it wrote behind
            f.unlink(missing_ok=True)
        remove_dirs(created)
        raise
    with project.session() as s:
        project.record(s, "data.export", {"format": fmt, "version": version, "written": len(report.written),
                                          "skipped": len(report.skipped), "out": str(out)})
    return report
