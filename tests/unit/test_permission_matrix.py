"""The persona matrix, pinned in full as a table a reviewer can read.

``PINNED`` is the source of truth the permission suite (test_permission_suite.py) derives its expectations
from; this module checks it against ``crisp_eml.core.personas.MATRIX`` and ``allowed`` both ways, so granting
or withdrawing any single permission (say, giving end-users ``deploy``) fails here first.
"""

from __future__ import annotations

import pytest

from crisp_eml.core.personas import MATRIX, Permission, Persona, allowed

# X = granted, . = refused. "owner" is the member who created the project (any persona): everything.
PINNED = """
persona                | req ing lab des trn cmp apr mov dep mem
business-leader        |  X   .   .   .   .   .   X   .   .   .
domain-expert          |  X   X   X   .   .   .   .   .   .   .
end-user               |  .   .   .   .   .   .   .   .   .   .
data-scientist         |  .   X   X   X   X   .   .   .   .   .
ml-researcher          |  .   X   X   X   X   .   .   .   .   .
ml-platform-developer  |  .   .   .   X   X   X   .   X   .   .
embedded-developer     |  .   .   .   .   .   X   X   .   .   .
devops-mlops           |  .   .   .   .   .   X   X   X   X   .
owner                  |  X   X   X   X   X   X   X   X   X   X
"""

COLUMNS = {
    "req": Permission.SET_REQUIREMENTS, "ing": Permission.INGEST_DATA, "lab": Permission.LABEL_DATA,
    "des": Permission.DESIGN_IMPULSE, "trn": Permission.TRAIN, "cmp": Permission.COMPILE,
    "apr": Permission.APPROVE_GATE, "mov": Permission.MOVE_ALIAS, "dep": Permission.DEPLOY,
    "mem": Permission.MANAGE_MEMBERS,
}
OWNER = "owner"


def parse_pinned(text: str = PINNED) -> dict[str, frozenset[Permission]]:
    """Row name (a persona value or ``owner``) -> the permissions marked X in that row."""
    lines = [ln for ln in text.strip().splitlines() if ln.strip()]
    head = lines[0].split("|")[1].split()
    assert [COLUMNS[h] for h in head] == list(COLUMNS.values()), "every column once, in COLUMNS order"
    table: dict[str, frozenset[Permission]] = {}
    for line in lines[1:]:
        name, _, marks = line.partition("|")
        cells = marks.split()
        assert len(cells) == len(head) and set(cells) <= {"X", "."}, f"malformed row: {line!r}"
        assert name.strip() not in table, f"duplicate row {name.strip()!r}"
        table[name.strip()] = frozenset(COLUMNS[h] for h, c in zip(head, cells, strict=True) if c == "X")
    return table


TABLE = parse_pinned()


def granted(actor: str, permission: Permission) -> bool:
    """What the pinned table says ``actor`` (a persona value or ``owner``) may do."""
    return permission in TABLE[actor]


def test_permission_table_names_every_persona_and_permission_once() -> None:
    assert set(TABLE) == {p.value for p in Persona} | {OWNER}
    assert set(COLUMNS.values()) == set(Permission) and len(COLUMNS) == len(Permission)


def test_permission_matrix_matches_the_pinned_table_both_ways() -> None:
    assert set(MATRIX) == set(Persona)
    for persona in Persona:
        extra = MATRIX[persona] - TABLE[persona.value]
        missing = TABLE[persona.value] - MATRIX[persona]
        assert not extra, f"MATRIX grants {persona.value} {sorted(p.value for p in extra)}; the pinned table does not"
        assert not missing, f"MATRIX withholds {sorted(p.value for p in missing)} from {persona.value}; the pinned " \
                            "table grants them"


@pytest.mark.parametrize("persona", [p.value for p in Persona])
def test_permission_allowed_agrees_with_the_pinned_table(persona: str) -> None:
    for permission in Permission:
        assert allowed(persona, permission) is granted(persona, permission), (persona, permission.value)
        assert allowed(persona, permission.value) is granted(persona, permission), "string form too"
        assert allowed(persona, permission, owner=True) is granted(OWNER, permission) is True


def test_permission_only_owners_manage_members_and_unknown_names_get_nothing() -> None:
    assert all(Permission.MANAGE_MEMBERS not in perms for perms in MATRIX.values())
    assert not allowed("root", Permission.TRAIN) and not allowed("admin", "train")
    assert not allowed(Persona.DEVOPS_MLOPS, "do-anything")
    assert not allowed(Persona.END_USER.value, "")
