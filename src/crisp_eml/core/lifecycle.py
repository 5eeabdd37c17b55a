"""The six CRISP-EML phases and how their state follows from what a project holds.

Pure: :func:`board` takes :class:`Facts` (counts and the latest gate, gathered by the use case) and
returns each phase's state (not started / in progress / done / blocked), the reason, its owning
personas, its dependencies and the feedback loops currently open (a failing gate sends work back to
Model Development, a failing data requirement back to Data Acquisition & Understanding).
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any

from crisp_eml.core.personas import Persona

NOT_STARTED = "not started"
IN_PROGRESS = "in progress"
DONE = "done"
BLOCKED = "blocked"


@dataclass(frozen=True)
class Phase:
    key: str
    title: str
    track: str
    personas: tuple[Persona, ...]
    depends_on: tuple[str, ...]


PHASES: tuple[Phase, ...] = (
    Phase("business-understanding", "Business Understanding", "application",
          (Persona.BUSINESS_LEADER, Persona.DOMAIN_EXPERT, Persona.END_USER), ()),
    Phase("evaluation-concept-design", "Evaluation, Concept & Design", "application",
          (Persona.DOMAIN_EXPERT, Persona.ML_PLATFORM_DEVELOPER, Persona.EMBEDDED_DEVELOPER),
          ("business-understanding",)),
    Phase("data-acquisition", "Data Acquisition & Understanding", "ml",
          (Persona.ML_RESEARCHER, Persona.ML_PLATFORM_DEVELOPER, Persona.DATA_SCIENTIST),
          ("business-understanding",)),
    Phase("model-development", "Model Development", "ml",
          (Persona.ML_RESEARCHER, Persona.ML_PLATFORM_DEVELOPER),
          ("data-acquisition", "evaluation-concept-design")),
    Phase("development-testing", "Development & Testing", "application",
          (Persona.ML_PLATFORM_DEVELOPER, Persona.EMBEDDED_DEVELOPER, Persona.DEVOPS_MLOPS),
          ("model-development",)),
    Phase("deployment", "Deployment, Support & Upgrade", "application",
          (Persona.DEVOPS_MLOPS, Persona.END_USER), ("development-testing",)),
)
PHASE_KEYS = tuple(p.key for p in PHASES)
TITLES = {p.key: p.title for p in PHASES}


@dataclass(frozen=True)
class Facts:
    """What the project holds, reduced to what phase states depend on."""

    kpi_count: int = 0
    target: str | None = None
    target_known: bool | None = None  # None: no catalog to check against
    samples: int = 0
    labels: int = 0
    dataset_versions: int = 0
    quality_score: float | None = None
    min_quality_score: float | None = None
    impulses: int = 0
    runs: int = 0
    model_versions: int = 0
    compiled: int = 0  # compiled C libraries
    gate_model: str | None = None  # "name/version" of the latest gate
    gate_passed: bool | None = None  # None: no gate yet
    gate_failed_rows: tuple[str, ...] = ()
    gate_failed_phases: tuple[str, ...] = ()
    production: str | None = None  # "name/version" the production alias points at
    production_gated: bool = False  # its latest gate passed (or an override is on record)
    deployed: str | None = None  # "models:/name/version on target" of the latest signed bundle (eml deploy)


@dataclass
class PhaseState:
    key: str
    title: str
    track: str
    state: str
    why: str
    personas: list[str]
    depends_on: list[str]
    feedback_from: list[str] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


@dataclass(frozen=True)
class Feedback:
    source: str
    to: str
    reason: str


def _feedback(f: Facts) -> list[Feedback]:
    loops: list[Feedback] = []
    if f.gate_passed is False:
        failed = ", ".join(f.gate_failed_rows) or "a requirement"
        for ph in f.gate_failed_phases or ("model-development",):
            if ph in PHASE_KEYS and ph != "development-testing":
                loops.append(Feedback("development-testing", ph, f"gate for {f.gate_model} failed on {failed}"))
    if (f.quality_score is not None and f.min_quality_score is not None and f.quality_score < f.min_quality_score
            and not any(fb.to == "data-acquisition" for fb in loops)):
        loops.append(Feedback("development-testing", "data-acquisition",
                              f"quality score {f.quality_score:.1f} is below the required {f.min_quality_score:g}"))
    return loops


def board(f: Facts) -> tuple[list[PhaseState], list[Feedback]]:
    """Each phase's state and the open feedback loops."""
    loops = _feedback(f)
    back = {fb.to: fb for fb in loops}
    states: dict[str, tuple[str, str]] = {}

    # Business Understanding
    states["business-understanding"] = (
        (DONE, f"{f.kpi_count} KPI(s) set") if f.kpi_count
        else (NOT_STARTED, "no requirements yet: eml requirements set")
    )
    # Evaluation, Concept & Design
    if f.target and f.target_known is False:
        states["evaluation-concept-design"] = (BLOCKED, f"target {f.target!r} is not in the device catalog")
    elif f.target:
        states["evaluation-concept-design"] = (DONE, f"target device {f.target}")
    elif f.kpi_count:
        states["evaluation-concept-design"] = (IN_PROGRESS, "no target device chosen: eml requirements set target=...")
    else:
        states["evaluation-concept-design"] = (NOT_STARTED, "waiting for requirements")
    # Data Acquisition & Understanding
    if "data-acquisition" in back:
        states["data-acquisition"] = (IN_PROGRESS, f"reopened: {back['data-acquisition'].reason}")
    elif f.samples == 0:
        states["data-acquisition"] = (NOT_STARTED, "no samples: eml ingest")
    elif f.dataset_versions == 0:
        states["data-acquisition"] = (IN_PROGRESS, f"{f.samples} samples, no snapshot yet: eml data snapshot")
    else:
        q = f" quality {f.quality_score:.0f}/100," if f.quality_score is not None else ""
        states["data-acquisition"] = (DONE, f"{f.samples} samples,{q} {f.dataset_versions} dataset version(s)")
    # Model Development
    if "model-development" in back:
        states["model-development"] = (IN_PROGRESS, f"reopened: {back['model-development'].reason}")
    elif f.model_versions:
        states["model-development"] = (DONE, f"{f.model_versions} model version(s) registered")
    elif f.runs or f.impulses:
        states["model-development"] = (IN_PROGRESS, f"{f.impulses} impulse(s), {f.runs} run(s), no registered model")
    elif f.dataset_versions == 0:
        states["model-development"] = (BLOCKED if f.samples else NOT_STARTED, "needs a dataset snapshot first")
    else:
        states["model-development"] = (NOT_STARTED, "no impulse or training run yet")
    # Development & Testing
    if f.gate_passed is False:
        states["development-testing"] = (BLOCKED, f"gate for {f.gate_model} failed on "
                                                  f"{', '.join(f.gate_failed_rows) or 'a requirement'}")
    elif f.gate_passed:
        states["development-testing"] = (DONE, f"gate passed for {f.gate_model}")
    elif f.compiled:
        states["development-testing"] = (IN_PROGRESS, "compiled, no gate run yet: eml gate MODEL")
    elif f.model_versions:
        states["development-testing"] = (IN_PROGRESS, "model registered, not compiled or gated yet")
    else:
        states["development-testing"] = (NOT_STARTED, "waiting for a registered model")
    # Deployment, Support & Upgrade
    bundle = f"; bundle of {f.deployed} deployed" if f.deployed else ""
    if f.production and f.production_gated:
        states["deployment"] = (DONE, f"production -> {f.production}{bundle}")
    elif f.production:
        states["deployment"] = (IN_PROGRESS, f"production -> {f.production}, which has no passing gate{bundle}")
    elif f.deployed:
        states["deployment"] = (DONE, f"signed bundle of {f.deployed} deployed (gate passed for that target)")
    elif f.gate_passed is False:
        states["deployment"] = (BLOCKED, "promotion refused until the gate passes")
    elif f.gate_passed:
        states["deployment"] = (IN_PROGRESS, "gate passed: promote with eml model alias ... production")
    else:
        states["deployment"] = (NOT_STARTED, "waiting for a passing gate")

    out = []
    for p in PHASES:
        state, why = states[p.key]
        out.append(PhaseState(p.key, p.title, p.track, state, why, [x.value for x in p.personas],
                              list(p.depends_on), [fb.source for fb in loops if fb.to == p.key]))
    return out, loops
