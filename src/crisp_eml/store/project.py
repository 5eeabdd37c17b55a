"""A crisp-eml project on disk: ``eml.toml``, the metadata database and the blob store.

Every use case opens a :class:`Project`, checks the acting member's permission with
:meth:`Project.require`, does its work inside :meth:`Project.session` and appends an audit entry in
the same transaction with :meth:`Project.record`, so a change and its audit entry land together.
"""

from __future__ import annotations

import getpass
import os
import re
import threading
import uuid
import warnings
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from sqlalchemy import Engine, select
from sqlalchemy.orm import Session, sessionmaker

from crisp_eml.core.errors import ConflictError, InputError, PermissionDeniedError, ProjectError
from crisp_eml.core.personas import Permission, Persona, allowed
from crisp_eml.store import audit, audit_checkpoints, db
from crisp_eml.store.blobs import BlobStore
from crisp_eml.store.config import CONFIG_NAME, read_config, write_config
from crisp_eml.store.outputs import make_dirs
from crisp_eml.store.tables.audit import AuditRow, MemberRow

STATE_DIR = ".eml"
NAME_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,127}$")


@dataclass(frozen=True)
class Actor:
    name: str
    persona: str
    owner: bool
    token_id: str | None = None  # the API token a server request was made with (recorded in the audit trail)
    scopes: frozenset[str] | None = None  # a token's permission scopes; None: everything the persona grants


class _Depth(threading.local):
    depth = 0


def _default_member() -> str:
    try:
        name = getpass.getuser()
    except Exception:  # noqa: BLE001 - no passwd entry in some containers
        name = "owner"
    return name if NAME_RE.match(name) else "owner"


def find_root(start: Path | None = None) -> Path:
    """The nearest folder at or above ``start`` (or $EML_PROJECT) holding ``eml.toml``."""
    env = os.environ.get("EML_PROJECT")
    here = Path(env) if env else (start or Path.cwd())
    here = here.resolve()
    for p in (here, *here.parents):
        if (p / CONFIG_NAME).is_file():
            return p
    raise ProjectError(f"no crisp-eml project at or above {here} (run 'eml init' first)")


class Project:
    """An open project. Cheap to construct; the schema is migrated to head on open."""

    def __init__(self, root: Path) -> None:
        self.root = root
        self.config = read_config(root / CONFIG_NAME)
        store = self.config.get("store", {})
        self.metadata_url = self._resolve_url(str(store.get("metadata_url", f"sqlite:///{STATE_DIR}/metadata.db")))
        self.blob_url = self._resolve_path(str(store.get("blob_url", f"{STATE_DIR}/blobs")))
        self.engine: Engine = db.make_engine(self.metadata_url)
        db.upgrade(self.engine)
        self._sessions = sessionmaker(self.engine, expire_on_commit=False)
        self._writing = _Depth()
        self._audit_key: Any = None  # the audit signing key, once :meth:`_checkpoint` has loaded it
        self._read_sessions = sessionmaker(self.engine.execution_options(**{db.READ_ONLY: True}),
                                           expire_on_commit=False)
        self.blobs = BlobStore(self.blob_url)
        self._acting: tuple[str, str | None, frozenset[str] | None] | None = None  # see acting_as

    def acting_as(self, member: str, *, token_id: str | None = None,
                  scopes: frozenset[str] | None = None) -> Project:
        """This project (same engine, blob store and settings) acting as ``member``: how the server runs a
        request's use case as the member its token belongs to, whatever $EML_MEMBER or eml.toml say. A
        ``token_id`` is recorded with every audit entry; ``scopes`` narrow what the persona grants."""
        import copy

        clone = copy.copy(self)
        clone._acting = (member, token_id, scopes)
        return clone

    # -- construction ---------------------------------------------------------------------------
    @classmethod
    def open(cls, start: Path | None = None) -> Project:
        return cls(find_root(start))

    @classmethod
    def init(
        cls, root: Path, name: str | None = None, *, member: str | None = None,
        persona: str = Persona.ML_PLATFORM_DEVELOPER.value, metadata_url: str | None = None,
        blob_url: str | None = None, nested: bool = False,
    ) -> Project:
        """Create a project in ``root``. Inside another project's folder this is refused unless ``nested``: the
        inner project would silently take over every command run below it."""
        root = root.resolve()
        if (root / CONFIG_NAME).exists():
            raise ConflictError(f"{root / CONFIG_NAME} already exists: a project is already here")
        outer = next((p for p in root.parents if (p / CONFIG_NAME).is_file()), None)
        if outer is not None and not nested:
            try:
                outer_name = f" '{read_config(outer / CONFIG_NAME)['project']['name']}'"
            except Exception:  # noqa: BLE001 - a damaged outer eml.toml still refuses, just without its name
                outer_name = ""
            raise ConflictError(f"{root} is inside the project{outer_name} at {outer}: a project nested there would "
                                "hide the outer one from every command run below it. Choose a folder outside it, or "
                                "pass --force to create the nested project anyway")
        name = name or root.name
        member = member or _default_member()
        if not NAME_RE.match(member):
            raise InputError("member names use letters, digits, '.', '_' or '-'", field="member")
        try:
            persona = Persona(persona).value
        except ValueError as exc:
            raise InputError(f"unknown persona {persona!r}; one of {[p.value for p in Persona]}",
                             field="persona") from exc
        created_dir = not root.exists()
        make_dirs(root, field="directory")
        cfg: dict[str, Any] = {
            "project": {"name": name, "id": uuid.uuid4().hex},
            "store": {
                "metadata_url": metadata_url or f"sqlite:///{STATE_DIR}/metadata.db",
                "blob_url": blob_url or f"{STATE_DIR}/blobs",
            },
            "actor": {"member": member},
        }
        audit_key = audit_checkpoints.load_private(cfg["project"]["id"], create=True)
        assert audit_key is not None  # create=True always returns a key
        cfg["audit"] = {"public_key": audit_checkpoints.public_hex(audit_key)}
        try:
            (root / STATE_DIR).mkdir(exist_ok=True)
            write_config(root / CONFIG_NAME, cfg)
            project = cls(root)
            with project.session() as s:
                s.add(MemberRow(name=member, persona=persona, owner=True))
                s.flush()
                owner = Actor(member, persona, True)
                project.record(s, "project.init", {"project": name, "owner": member}, actor=owner)
        except BaseException:
            (root / CONFIG_NAME).unlink(missing_ok=True)
            if created_dir:
                import shutil

                shutil.rmtree(root, ignore_errors=True)
            raise
        return project

    def _resolve_url(self, url: str) -> str:
        prefix = "sqlite:///"
        if url.startswith(prefix) and not url.startswith(prefix + "/") and url != "sqlite://":
            return prefix + str((self.root / url[len(prefix):]).resolve())
        return url

    def _resolve_path(self, url: str) -> str:
        if "://" in url:
            return url
        p = Path(url)
        return str(p if p.is_absolute() else (self.root / p).resolve())

    # -- properties -----------------------------------------------------------------------------
    @property
    def name(self) -> str:
        return str(self.config.get("project", {}).get("name", self.root.name))

    @property
    def state_dir(self) -> Path:
        return self.root / STATE_DIR

    def save_config(self) -> None:
        write_config(self.root / CONFIG_NAME, self.config)

    # -- sessions, members, permissions, audit -----------------------------------------------------
    @contextmanager
    def session(self) -> Iterator[Session]:
        """A write transaction: committed on success, rolled back on any error.

        On SQLite it holds the database's write lock from its start (``BEGIN IMMEDIATE``), so what it read
        is still true when it commits. Opening a second one inside it in the same thread would wait on that
        lock forever: it is refused at once (use :meth:`read_session` for reads, or pass the session down).
        """
        if self._writing.depth and self.engine.dialect.name == "sqlite":
            raise RuntimeError("nested write session: the outer session already holds the write lock")
        s = self._sessions()
        self._writing.depth += 1
        try:
            yield s
            s.commit()
        except BaseException:
            s.rollback()
            raise
        finally:
            self._writing.depth -= 1
            s.close()
        head = s.info.get(audit.HEAD_KEY)
        if head is not None:
            self._checkpoint(*head)

    @property
    def project_id(self) -> str:
        return str(self.config.get("project", {}).get("id", ""))

    @property
    def checkpoint_path(self) -> Path:
        return self.state_dir / audit_checkpoints.CHECKPOINT_FILE

    def _checkpoint(self, seq: int, entry_hash: str, at: str) -> None:
        """Sign the committed head of the audit trail (see :mod:`crisp_eml.store.audit_checkpoints`).

        A project made before checkpoints existed gets its key made and pinned on its first append. Without
        the private key (another machine) nothing is signed and ``eml audit verify`` reports the tail.
        """
        pinned = self.config.get("audit", {}).get("public_key")
        key = self._audit_key or audit_checkpoints.load_private(self.project_id, create=not pinned)
        if key is None:
            return
        self._audit_key = key  # read (and parsed) once per open project, not on every commit
        if not pinned:
            self.config.setdefault("audit", {})["public_key"] = audit_checkpoints.public_hex(key)
            self.save_config()
        try:
            audit_checkpoints.append(self.checkpoint_path, self.project_id, key, seq, entry_hash, at)
        except OSError as exc:
            warnings.warn(f"{self.checkpoint_path}: audit checkpoint for entry {seq} not written: "
                          f"{exc.strerror or exc}", stacklevel=3)

    @contextmanager
    def read_session(self) -> Iterator[Session]:
        """A read-only snapshot: never waits for writers (nor holds them up); nothing it adds is committed."""
        s = self._read_sessions()
        try:
            yield s
        finally:
            s.close()  # ends the transaction without committing; loaded objects stay readable

    @property
    def actor(self) -> Actor:
        token_id: str | None = None
        scopes: frozenset[str] | None = None
        if self._acting is not None:
            name, token_id, scopes = self._acting
        else:
            name = os.environ.get("EML_MEMBER") or str(self.config.get("actor", {}).get("member", ""))
        if not name:
            raise ProjectError("no acting member configured (set [actor] member in eml.toml or $EML_MEMBER)")
        with self.read_session() as s:
            row = s.get(MemberRow, name)
            if row is None:
                raise PermissionDeniedError(f"'{name}' is not a member of project '{self.name}'")
            return Actor(row.name, row.persona, row.owner, token_id, scopes)

    def require(self, permission: Permission | str) -> Actor:
        """Return the acting member if allowed to perform ``permission``; raise otherwise."""
        actor = self.actor
        perm = Permission(permission).value
        if not allowed(actor.persona, permission, owner=actor.owner):
            raise PermissionDeniedError(
                f"member '{actor.name}' ({actor.persona}) may not {perm.replace('-', ' ')}"
                f": that permission is not granted to the {actor.persona} persona"
            )
        if actor.scopes is not None and perm not in actor.scopes:
            raise PermissionDeniedError(f"token {actor.token_id} of member '{actor.name}' may not "
                                        f"{perm.replace('-', ' ')}: its scopes are {sorted(actor.scopes)}")
        return actor

    def record(
        self, session: Session, action: str, artifacts: dict[str, Any] | None = None,
        *, note: str | None = None, actor: Actor | None = None,
    ) -> AuditRow:
        a = actor or self.actor
        if a.token_id is not None:  # a server request: the token it came with is part of the record
            artifacts = {**(artifacts or {}), "via_token": a.token_id}
        return audit.append(session, actor=a.name, persona=a.persona, action=action,
                            artifacts=artifacts, note=note)

    def audit_entries(self) -> list[AuditRow]:
        with self.read_session() as s:
            return list(s.execute(select(AuditRow).order_by(AuditRow.seq)).scalars())
