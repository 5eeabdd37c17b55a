"""Model URIs and their resolution to a registered version: ``models:/name@alias``, ``/3`` or a bare name.

Below the registry's use cases (registering, moving aliases: which pull in promotion and gates), so that
compile, profile and deploy can resolve a model without importing them: the import graph stays a tree.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from crisp_eml.core.errors import InputError, NotFoundError
from crisp_eml.store.project import Project
from crisp_eml.store.tables.learn import ModelAliasRow, ModelVersionRow, RunRow

URI_RE = re.compile(r"^(?:models:/)?(?P<name>[A-Za-z0-9][A-Za-z0-9._-]{0,127})"
                    r"(?:@(?P<alias>[^/@]+)|/(?P<version>\d+))?$")


@dataclass
class ModelVersionInfo:
    name: str
    version: int
    run_id: str
    learning_type: str
    artifacts: dict[str, str]  # {artifact name: blob sha256}
    description: str | None
    created_at: str | None
    aliases: list[str] = field(default_factory=list)
    impulse_hash: str | None = None
    dataset_version: int | None = None
    labels: list[str] = field(default_factory=list)

    @property
    def uri(self) -> str:
        return f"models:/{self.name}/{self.version}"

    def to_dict(self) -> dict[str, Any]:
        return {"uri": self.uri, "name": self.name, "version": self.version, "run": self.run_id,
                "learning_type": self.learning_type, "aliases": list(self.aliases), "artifacts": dict(self.artifacts),
                "impulse_hash": self.impulse_hash, "dataset_version": self.dataset_version,
                "labels": list(self.labels), "description": self.description, "created_at": self.created_at}


def model_info(s: Session, mv: ModelVersionRow) -> ModelVersionInfo:
    run = s.get(RunRow, mv.run_id)
    aliases = list(s.execute(select(ModelAliasRow.alias).where(ModelAliasRow.name == mv.name,
                                                               ModelAliasRow.version == mv.version)
                             .order_by(ModelAliasRow.alias)).scalars())
    return ModelVersionInfo(
        name=mv.name, version=mv.version, run_id=mv.run_id, learning_type=run.learning_type if run else "",
        artifacts=dict(run.artifacts or {}) if run else {}, description=mv.description,
        created_at=mv.created_at.isoformat() if mv.created_at else None, aliases=aliases,
        impulse_hash=run.impulse_hash if run else None, dataset_version=run.dataset_version_id if run else None,
        labels=list((run.params or {}).get("labels") or []) if run else [],
    )


def version_row(s: Session, name: str, version: int) -> ModelVersionRow:
    mv = s.get(ModelVersionRow, (name, version))
    if mv is None:
        if s.execute(select(ModelVersionRow).where(ModelVersionRow.name == name).limit(1)).first() is None:
            raise NotFoundError(f"no model named '{name}' (register one with 'eml models register')")
        raise NotFoundError(f"model '{name}' has no version {version}")
    return mv


def parse_uri(uri: str) -> tuple[str, str | None, int | None]:
    """``models:/name@alias`` -> (name, alias, None); ``models:/name/3`` -> (name, None, 3); bare name -> latest."""
    m = URI_RE.match(uri.strip())
    if not m:
        raise InputError(f"not a model URI: {uri!r} (expected models:/NAME@ALIAS or models:/NAME/VERSION)",
                         field="model")
    return m["name"], m["alias"], int(m["version"]) if m["version"] else None


def resolve_in_session(s: Session, uri: str) -> ModelVersionInfo:
    name, alias, version = parse_uri(uri)
    if alias is not None:
        row = s.get(ModelAliasRow, (name, alias))
        if row is None:
            if s.execute(select(ModelVersionRow).where(ModelVersionRow.name == name).limit(1)).first() is None:
                raise NotFoundError(f"no model named '{name}'")
            raise NotFoundError(f"model '{name}' has no alias '{alias}'")
        version = row.version
    if version is None:
        version = s.execute(select(func.max(ModelVersionRow.version)).where(ModelVersionRow.name == name)).scalar()
        if version is None:
            raise NotFoundError(f"no model named '{name}'")
    return model_info(s, version_row(s, name, int(version)))


def resolve_model(project: Project, uri: str) -> ModelVersionInfo:
    """The model version a URI names, with its run's artifact blob hashes (used by compile and deploy)."""
    with project.session() as s:
        return resolve_in_session(s, uri)
