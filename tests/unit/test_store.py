"""Foundation: project init, blob store atomicity, audit chain, permissions."""

from __future__ import annotations

import errno
import json
import os
import time
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import pytest
from sqlalchemy import text

from crisp_eml.core.errors import ConflictError, NotFoundError, PermissionDeniedError, ProjectError
from crisp_eml.core.personas import Permission, allowed
from crisp_eml.store import audit
from crisp_eml.store.blobs import BlobFile, BlobStore, sha256
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


# -- blob store guarantees (mutation-tested: scripts/mutation.py blobs, docs/mutation-triage-blobs.md) ----------

def _remote_store() -> BlobStore:
    """A store on fsspec's in-memory backend: not local (no atomic rename, no in-place touch), like ``s3://``."""
    return BlobStore(f"memory://{uuid.uuid4().hex}/blobs")  # the memory backend is process-wide: a fresh root


@pytest.mark.parametrize("name", ["", "ab", "0" * 63, "0" * 65, "A" * 64, "X" * 64, "g" * 64, "../" + "0" * 61,
                                  "0" * 63 + "\n"])
def test_blob_names_must_be_sha256(tmp_path: Path, name: str) -> None:
    b = BlobStore(str(tmp_path / "blobs"))
    for call in (b.path, b.get, b.exists):
        with pytest.raises(NotFoundError, match="not a sha256 blob name"):
            call(name)


def test_missing_blob_is_reported_with_the_store(tmp_path: Path) -> None:
    b = BlobStore(str(tmp_path / "blobs-X") + "/")
    assert b.url == str(tmp_path / "blobs-X")  # one spelling of the store in messages and listings
    d = sha256(b"never stored")
    with pytest.raises(NotFoundError, match=f"blob {d} is missing from {b.url}$"):
        b.get(d)
    assert not b.verify(d) and not b.exists(d) and not b.recover(d)
    b.delete(d)  # nothing to delete: no error
    kept, gone = b.put(b"kept"), b.put(b"deleted")
    b.delete(gone)
    assert list(b) == [kept] and not b.verify(gone)


def test_reopening_a_store_keeps_its_blobs(tmp_path: Path) -> None:
    d = BlobStore(str(tmp_path / "blobs")).put(b"stays")
    again = BlobStore(str(tmp_path / "blobs"))
    assert again.local and again.get(d) == b"stays"


def test_unusable_store_urls_are_project_errors(tmp_path: Path) -> None:
    with pytest.raises(ProjectError, match="blob store nosuchproto://x: unusable URL"):
        BlobStore("nosuchproto://x")
    (tmp_path / "file").write_text("in the way")
    with pytest.raises(ProjectError, match=f"blob store {tmp_path / 'file' / 'blobs'}: cannot create"):
        BlobStore(str(tmp_path / "file" / "blobs"))


def test_storage_options_reach_the_backend(tmp_path: Path) -> None:
    """Credentials and endpoints of a remote store are given as storage options: they must get through."""
    b = BlobStore(str(tmp_path / "blobs"), auto_mkdir=True)
    assert b.fs.storage_options == {"auto_mkdir": True}


def test_a_remote_store_writes_reads_and_ages_blobs() -> None:
    b = _remote_store()
    assert not b.local
    d = b.put(b"remote")
    assert b.put(b"remote") == d and b.get(d) == b"remote" and b.verify(d) and b.exists(d)
    assert list(b) == [d]
    (f,) = list(b.files())
    age = b.age(b.path(d))
    assert age is not None and 0 <= age < 3600 and 0 <= time.time() - f.mtime < 3600
    assert b.age(b.path(sha256(b"none"))) is None and b.stamp(b.path(d)) is None
    with pytest.raises(ProjectError, match="^move_aside needs a local blob store$"):
        b.move_aside(d)
    b.fs.rm(b.path(d))
    assert not b.recover(d)  # no trash on a remote store
    with pytest.raises(NotFoundError, match="missing"):
        b.get(d)
    b.put(b"remote")
    assert b.discard(b.path(d)) and not b.discard(b.path(d)) and not b.exists(d)


@pytest.mark.parametrize(("info", "expected"), [
    ({"mtime": 12.5}, 12.5),  # local
    ({"LastModified": datetime(2020, 1, 2, tzinfo=UTC)}, 1577923200.0),  # s3
    ({"last_modified": "1577923200"}, 1577923200.0),  # azure
    ({"created": datetime(2020, 1, 2, tzinfo=UTC)}, 1577923200.0),  # memory
    ({"created": 7.0, "size": 1}, 7.0),
    ({}, 0.0),
    ({"mtime": "yesterday"}, 0.0),
])
def test_modification_times_as_backends_report_them(info: dict[str, object], expected: float) -> None:
    from crisp_eml.store.blobs import _mtime

    assert _mtime(info) == expected


def test_put_rewrites_a_blob_it_may_not_touch(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """A blob that exists but cannot be made young again (another user's file) is written afresh instead."""
    b = BlobStore(str(tmp_path / "blobs"))
    d = b.put(b"owned by someone else")
    old = time.time() - 7200
    os.utime(b.path(d), (old, old))

    def refused(*args: object, **kwargs: object) -> None:
        raise PermissionError("not the owner")

    monkeypatch.setattr(os, "utime", refused)
    assert b.put(b"owned by someone else") == d
    assert time.time() - os.stat(b.path(d)).st_mtime < 3600 and b.verify(d)


def test_put_retries_when_its_temporary_file_vanishes(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    b = BlobStore(str(tmp_path / "blobs"))
    real = os.replace
    calls = []

    def vanishing(src: str, dst: str, fails: int) -> None:
        calls.append(src)
        if len(calls) <= fails:
            raise FileNotFoundError(src)
        real(src, dst)

    monkeypatch.setattr(os, "replace", lambda s, d: vanishing(s, d, fails=4))
    d = b.put(b"written on the fifth try")
    assert b.verify(d) and len(calls) == 5 and len(set(calls)) == 5  # a fresh temporary name each time
    calls.clear()
    monkeypatch.setattr(os, "replace", lambda s, d: vanishing(s, d, fails=10**6))
    with pytest.raises(FileNotFoundError):  # never reports a blob as stored when it is not
        b.put(b"never written")
    assert len(calls) == 5 and not b.exists(sha256(b"never written"))


def test_stray_files_are_not_blobs(tmp_path: Path) -> None:
    b = BlobStore(str(tmp_path / "blobs"))
    d = b.put(b"the only blob")
    fan = Path(b.path(d)).parent
    for name in ("X" * 62, "C" * 62, "c" * 61, "c" * 63, "README", ".gc-nonsense", f".gc-{'c' * 62}-x"):
        (fan / name).write_text("stray")
    (tmp_path / "blobs" / "README").write_text("stray")
    assert list(b) == [d] and not list(b.trash())
    assert sum(f.digest is None for f in b.files()) == 8


def test_move_aside_trash_and_restore(tmp_path: Path) -> None:
    b = BlobStore(str(tmp_path / "blobs"))
    d, other = b.put(b"moved aside"), b.put(b"stays")
    trash = b.move_aside(d)
    assert trash is not None and not b.exists(d) and b.move_aside(d) is None
    assert list(b.trash()) == [(trash, d)] and list(b) == [other]
    b.restore(trash, d)
    assert b.verify(d) and not list(b.trash()) and not os.path.exists(trash)
    b.restore(trash, d)  # moved back already (by a reader): nothing to do
    trash = b.move_aside(d)
    assert trash is not None and b.recover(d) and b.verify(d) and not os.path.exists(trash)


def test_restore_without_hard_links(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """On a file system without hard links a trash copy is renamed back, but never over a fresh copy."""
    b = BlobStore(str(tmp_path / "blobs"))

    def no_links(src: str, dst: str) -> None:
        raise OSError(errno.EPERM, "hard links not supported")

    monkeypatch.setattr(os, "link", no_links)
    d = b.put(b"back by rename")
    trash = b.move_aside(d)
    assert trash is not None
    b.restore(trash, d)
    assert b.verify(d) and not os.path.exists(trash)
    trash = b.move_aside(d)
    assert trash is not None
    b.put(b"back by rename")  # a writer stores a fresh copy meanwhile
    fresh = os.stat(b.path(d)).st_ino
    b.restore(trash, d)
    assert os.stat(b.path(d)).st_ino == fresh and b.verify(d) and not os.path.exists(trash)


def test_store_gc_skips_a_blob_that_vanished_meanwhile(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    b = BlobStore(str(tmp_path / "blobs"))
    keep, gone, vanished = b.put(b"keep"), b.put(b"gone"), b.put(b"removed by someone else")
    listing = b.files

    def list_then_vanish() -> Iterator[BlobFile]:
        yield from list(listing())
        b.delete(vanished)

    monkeypatch.setattr(b, "files", list_then_vanish)
    assert b.gc([keep]) == [gone] and list(listing()) == [f for f in listing() if f.digest == keep]
