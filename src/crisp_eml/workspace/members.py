"""Use case: project members and their personas (add, list, remove, who am I)."""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import func, select

from crisp_eml.core.errors import ConflictError, InputError, NotFoundError
from crisp_eml.core.personas import MATRIX, Permission, Persona
from crisp_eml.store.project import NAME_RE, Project
from crisp_eml.store.tables.audit import MemberRow


@dataclass(frozen=True)
class Member:
    name: str
    persona: str
    owner: bool
    permissions: list[str]
    since: str

    def to_dict(self) -> dict[str, object]:
        return {"name": self.name, "persona": self.persona, "owner": self.owner, "permissions": self.permissions,
                "since": self.since}


def _member(row: MemberRow) -> Member:
    perms = [p.value for p in Permission] if row.owner else sorted(
        p.value for p in MATRIX.get(Persona(row.persona), frozenset()))
    return Member(row.name, row.persona, row.owner, perms, row.created_at.isoformat(timespec="seconds"))


def _persona(value: str) -> str:
    try:
        return Persona(value.strip().lower().replace(" ", "-").replace("/", "-")).value
    except ValueError as exc:
        raise InputError(f"unknown persona {value!r}; one of {[p.value for p in Persona]}", field="persona") from exc


def add_member(project: Project, name: str, persona: str) -> Member:
    actor = project.require(Permission.MANAGE_MEMBERS)
    if not NAME_RE.match(name):
        raise InputError("member names use letters, digits, '.', '_' or '-'", field="name")
    p = _persona(persona)
    with project.session() as s:
        if s.get(MemberRow, name) is not None:
            raise ConflictError(f"'{name}' is already a member")
        row = MemberRow(name=name, persona=p, owner=False)
        s.add(row)
        s.flush()
        project.record(s, "member.add", {"member": name, "persona": p}, actor=actor)
        return _member(row)


def remove_member(project: Project, name: str) -> None:
    actor = project.require(Permission.MANAGE_MEMBERS)
    with project.session() as s:
        row = s.get(MemberRow, name)
        if row is None:
            raise NotFoundError(f"'{name}' is not a member")
        if row.owner:
            owners = s.execute(select(func.count()).select_from(MemberRow).where(MemberRow.owner.is_(True))).scalar()
            if int(owners or 0) <= 1:
                raise ConflictError(f"'{name}' is the only owner and cannot be removed")
        s.delete(row)
        project.record(s, "member.remove", {"member": name, "persona": row.persona}, actor=actor)


def list_members(project: Project) -> list[Member]:
    with project.session() as s:
        return [_member(r) for r in s.execute(select(MemberRow).order_by(MemberRow.name)).scalars()]


def whoami(project: Project) -> Member:
    actor = project.actor
    with project.session() as s:
        row = s.get(MemberRow, actor.name)
        assert row is not None  # Project.actor already checked membership
        return _member(row)
