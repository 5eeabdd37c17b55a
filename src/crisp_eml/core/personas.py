"""CRISP-EML personas and the permission matrix (deny by default).

Pure data: the use-case layer asks :func:`allowed` before acting, so the CLI and a future server
enforce the same rules. A project *owner* (the member who created it) may do everything and manage
members; every other member gets exactly what their persona's row grants.
"""

from __future__ import annotations

from enum import StrEnum


class Persona(StrEnum):
    BUSINESS_LEADER = "business-leader"
    DOMAIN_EXPERT = "domain-expert"
    END_USER = "end-user"
    DATA_SCIENTIST = "data-scientist"
    ML_RESEARCHER = "ml-researcher"
    ML_PLATFORM_DEVELOPER = "ml-platform-developer"
    EMBEDDED_DEVELOPER = "embedded-developer"
    DEVOPS_MLOPS = "devops-mlops"


class Permission(StrEnum):
    SET_REQUIREMENTS = "set-requirements"
    INGEST_DATA = "ingest-data"
    LABEL_DATA = "label-data"
    DESIGN_IMPULSE = "design-impulse"
    TRAIN = "train"
    COMPILE = "compile"
    APPROVE_GATE = "approve-gate"
    MOVE_ALIAS = "move-alias"
    DEPLOY = "deploy"
    MANAGE_MEMBERS = "manage-members"


P = Permission
MATRIX: dict[Persona, frozenset[Permission]] = {
    Persona.BUSINESS_LEADER: frozenset({P.SET_REQUIREMENTS, P.APPROVE_GATE}),
    Persona.DOMAIN_EXPERT: frozenset({P.SET_REQUIREMENTS, P.LABEL_DATA, P.INGEST_DATA}),
    Persona.END_USER: frozenset(),
    Persona.DATA_SCIENTIST: frozenset({P.INGEST_DATA, P.LABEL_DATA, P.DESIGN_IMPULSE, P.TRAIN}),
    Persona.ML_RESEARCHER: frozenset({P.INGEST_DATA, P.LABEL_DATA, P.DESIGN_IMPULSE, P.TRAIN}),
    Persona.ML_PLATFORM_DEVELOPER: frozenset({P.DESIGN_IMPULSE, P.TRAIN, P.COMPILE, P.MOVE_ALIAS}),
    Persona.EMBEDDED_DEVELOPER: frozenset({P.COMPILE, P.APPROVE_GATE}),
    Persona.DEVOPS_MLOPS: frozenset({P.COMPILE, P.MOVE_ALIAS, P.DEPLOY, P.APPROVE_GATE}),
}


def allowed(persona: Persona | str, permission: Permission | str, *, owner: bool = False) -> bool:
    """True when a member with ``persona`` (or the project owner) may perform ``permission``."""
    if owner:
        return True
    try:
        return Permission(permission) in MATRIX[Persona(persona)]
    except ValueError:
        return False
