"""Foundation: project init, blob store atomicity, audit chain, permissions."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from sqlalchemy import text

from crisp_eml.core.errors import ConflictError, PermissionDeniedError
from crisp_eml.core.personas import Permission, allowed
from crisp_eml.store import audit
from crisp_eml.store.blobs import BlobStore, sha256
from crisp_eml.store.db import current_revisions, head_revisions
from crisp_eml.store.project import Project
from crisp_eml.store.tables.audit import MemberRow


def test_init_creates_migrated_store(tmp_path: Path) -> None:
    p = Project.init(tmp_path / "x", "demo", member="alice")
    assert (tmp_path / "x" / "eml.toml").is_file()
    assert current_revisions(p.engine) == head_revisions()
    assert p.actor.name == "alice" and p.actor.owner
    with pytest.raises(ConflictError):
        Project.init(tmp_path / "x")


def test_blob_store_roundtrip_and_gc(tmp_path: Path) -> None:
    b = BlobStore(str(tmp_path / "blobs"))
    d = b.put(b"hello")
    assert d == sha256(b"hello") and b.get(d) == b"hello" and b.verify(d)
    assert b.put(b"hello") == d
    other = b.put(b"orphan")
    assert sorted(b) == sorted([d, other])
    assert b.gc([d]) == [other]
    assert list(b) == [d]


def test_audit_chain_detects_edit(project: Project) -> None:
    with project.session() as s:
        project.record(s, "sample.ingest", {"sample": "a"})
        project.record(s, "sample.ingest", {"sample": "b"})
    with project.session() as s:
        assert audit.verify(s) == []
        s.execute(text("UPDATE audit_log SET artifacts = :a WHERE seq = 2"), {"a": json.dumps({"sample": "z"})})
    with project.session() as s:
        problems = audit.verify(s)
    assert [p.seq for p in problems][:1] == [2]


def test_permission_matrix_denies_by_default(project: Project, monkeypatch: pytest.MonkeyPatch) -> None:
    assert not allowed("end-user", Permission.TRAIN)
    assert not allowed("no-such-persona", Permission.TRAIN)
    assert allowed("business-leader", Permission.SET_REQUIREMENTS)
    with project.session() as s:
        s.add(MemberRow(name="bob", persona="end-user", owner=False))
    monkeypatch.setenv("EML_MEMBER", "bob")
    with pytest.raises(PermissionDeniedError, match="bob"):
        project.require(Permission.TRAIN)
