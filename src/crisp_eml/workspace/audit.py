"""Use case: read and verify the audit trail: its hash chain, then its signed checkpoints.

The chain shows edited entries; the checkpoints (:mod:`crisp_eml.store.audit_checkpoints`) show a deleted
tail, deleted or inserted entries and a trail recomputed with the public digest function. The key that checks
them is ``--key`` when given (a copy kept outside the project), else the one pinned in ``eml.toml``.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from sqlalchemy import select

from crisp_eml.core.errors import InputError, NotFoundError
from crisp_eml.store import audit as chain
from crisp_eml.store import audit_checkpoints as cps
from crisp_eml.store.project import Project
from crisp_eml.store.tables.audit import AuditRow


@dataclass(frozen=True)
class VerifyResult:
    entries: int
    problems: list[chain.AuditProblem]
    checkpoints: int = 0
    last_good: cps.Checkpoint | None = None
    key_source: str | None = None  # where the checking key came from; None: no key, chain only
    notes: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.problems

    def to_dict(self) -> dict[str, Any]:
        return {"ok": self.ok, "entries": self.entries, "checkpoints": self.checkpoints,
                "last_good_checkpoint": self.last_good.to_dict() if self.last_good else None,
                "key_source": self.key_source, "notes": self.notes,
                "problems": [{"seq": p.seq, "reason": p.reason} for p in self.problems]}


def entry_dict(row: AuditRow) -> dict[str, Any]:
    return {"seq": row.seq, "at": row.at, "actor": row.actor, "persona": row.persona, "action": row.action,
            "artifacts": row.artifacts, "note": row.note, "hash": row.entry_hash}


def log(project: Project, action: str | None = None, limit: int | None = None) -> list[dict[str, Any]]:
    """Entries oldest first; ``action`` matches exactly or as a prefix (``gate`` matches ``gate.evaluate``)."""
    if limit is not None and limit < 0:
        raise InputError(f"must be a positive number of entries (0: all), got {limit}", field="limit")
    with project.read_session() as s:
        q = select(AuditRow).order_by(AuditRow.seq)
        if action:
            q = q.where((AuditRow.action == action) | AuditRow.action.like(f"{action}.%"))
        rows = [entry_dict(r) for r in s.execute(q).scalars()]
    return rows[-limit:] if limit else rows


def _read_key(key: str | Path) -> tuple[Any, str]:
    """``--key``: 64 hex digits, or a file holding them or a PEM public key."""
    text = str(key)
    if not (len(text) == 64 and all(c in "0123456789abcdefABCDEF" for c in text)):
        path = Path(text)
        try:
            text = path.read_text(encoding="utf-8")
        except (OSError, UnicodeDecodeError) as exc:
            raise InputError(f"cannot read the audit public key: {exc}", field="key", source=str(path)) from exc
        return cps.parse_public(text, source=str(path)), str(path)
    return cps.parse_public(text, source="--key"), "--key"


def _read_external(paths: list[Path]) -> list[cps.Checkpoint]:
    out: list[cps.Checkpoint] = []
    for p in paths:
        try:
            lines = [ln for ln in p.read_text(encoding="utf-8").splitlines() if ln.strip()]
        except (OSError, UnicodeDecodeError) as exc:
            raise InputError(f"cannot read the checkpoint: {exc}", source=str(p), field="checkpoint") from exc
        if not lines:
            raise InputError("no checkpoint line in the file", source=str(p), field="checkpoint")
        for n, line in enumerate(lines, 1):
            try:
                out.append(cps.parse_line(line))
            except ValueError as exc:
                raise InputError(f"line {n} is not a checkpoint: {exc}", source=str(p), field="checkpoint") from exc
    return out


def verify(project: Project, *, key: str | Path | None = None, checkpoints: list[Path] | None = None) -> VerifyResult:
    """Check the chain, then every signed checkpoint against it (``key`` overrides the pinned public key;
    ``checkpoints``: checkpoint files kept outside the project, to catch a rollback of both)."""
    external = _read_external(list(checkpoints or []))
    with project.read_session() as s:
        entries = {seq: h for seq, h in s.execute(select(AuditRow.seq, AuditRow.entry_hash))}
        problems = chain.verify(s)
    notes: list[str] = []
    if key is not None:
        public, source = _read_key(key)
    else:
        pinned = project.config.get("audit", {}).get("public_key")
        if not pinned:
            notes.append("no audit key pinned in eml.toml ([audit] public_key): only the hash chain was checked; "
                         "a deleted tail or a recomputed trail cannot be detected")
            return VerifyResult(len(entries), problems, notes=notes)
        public, source = cps.parse_public(str(pinned), source=f"{project.root / 'eml.toml'} [audit] public_key"), \
            "eml.toml [audit] public_key"
    path = project.checkpoint_path
    try:
        lines = path.read_text(encoding="utf-8").splitlines()
    except FileNotFoundError:
        lines = []
        problems.append(chain.AuditProblem(0, f"{path} is missing: the signed checkpoints were deleted"))
    except (OSError, UnicodeDecodeError) as exc:
        lines = []
        problems.append(chain.AuditProblem(0, f"{path} is unreadable: {exc}"))
    rep = cps.check(lines, entries, public, project.project_id, source=path.name, external=external)
    problems += [chain.AuditProblem(seq, reason) for seq, reason in rep.problems]
    problems.sort(key=lambda p: p.seq)
    return VerifyResult(len(entries), problems, rep.checkpoints, rep.last_good, source, notes)


def head_checkpoint(project: Project) -> dict[str, Any]:
    """The newest checkpoint line of the trail: keep a copy elsewhere, give it to ``verify --checkpoint``."""
    try:
        lines = project.checkpoint_path.read_text(encoding="utf-8").splitlines()
    except FileNotFoundError as exc:
        raise NotFoundError(f"{project.checkpoint_path}: no signed audit checkpoints") from exc
    best: cps.Checkpoint | None = None
    for line in lines:
        try:
            cp = cps.parse_line(line)
        except ValueError:
            continue
        if best is None or cp.seq > best.seq:
            best = cp
    if best is None:
        raise NotFoundError(f"{project.checkpoint_path}: no signed audit checkpoints")
    return best.to_dict()
