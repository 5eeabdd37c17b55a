"""Use case: set and show the project's requirements (Business Understanding). Every change is a version."""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.orm import Session

from crisp_eml.core.personas import Permission
from crisp_eml.core.requirements import RequirementSet, apply_changes, parse_assignments
from crisp_eml.store.project import Project
from crisp_eml.store.tables.lifecycle import RequirementSetRow


def _to_set(row: RequirementSetRow | None) -> RequirementSet:
    if row is None:
        return RequirementSet()
    return RequirementSet(row.version, row.target, dict(row.kpis), row.author, row.at.isoformat(timespec="seconds"),
                          row.message)


def current(session: Session) -> RequirementSet:
    row = session.execute(select(RequirementSetRow).order_by(RequirementSetRow.version.desc()).limit(1))
    return _to_set(row.scalar_one_or_none())


def history(project: Project) -> list[RequirementSet]:
    with project.session() as s:
        rows = s.execute(select(RequirementSetRow).order_by(RequirementSetRow.version)).scalars()
        return [_to_set(r) for r in rows]


def show(project: Project) -> RequirementSet:
    with project.session() as s:
        return current(s)


def known_targets() -> list[str] | None:
    """Device names from the compiler's target catalog, or None when no catalog is installed."""
    try:
        from crisp_eml.targets.catalog import TARGETS
    except ImportError:
        return None
    return sorted(TARGETS)


def canonical_target(name: str) -> str:
    """The catalog id for ``name`` (aliases such as ``cortex-m4`` resolve); unknown names are an input error."""
    try:
        from crisp_eml.targets.catalog import get_target
    except ImportError:
        return name
    return get_target(name).id  # an unknown name is an InputError on field 'target'


def set_requirements(project: Project, items: list[str], message: str = "") -> RequirementSet:
    """Apply ``KEY=VALUE`` items on top of the current requirements and store the result as a new version."""
    actor = project.require(Permission.SET_REQUIREMENTS)
    assignments = parse_assignments(items)
    with project.session() as s:
        cur = current(s)
        target, kpis = apply_changes(cur.kpis, cur.target, assignments)
        if target and target != cur.target:
            target = canonical_target(target)
        if target == cur.target and kpis == cur.kpis:
            return cur
        row = RequirementSetRow(version=cur.version + 1, target=target, kpis=kpis, author=actor.name,
                                message=message or "")
        s.add(row)
        s.flush()
        project.record(s, "requirements.set", {"version": row.version, "target": target, "kpis": kpis,
                                               "previous": cur.version}, note=message or None, actor=actor)
        return _to_set(row)
