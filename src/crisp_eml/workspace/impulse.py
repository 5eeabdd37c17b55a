"""Use cases for the project's impulse spec: create (chosen from the data), show, set, history.

``create`` chooses the impulse from the data (:func:`design_impulse`, candidates scored by cross-validation
in :mod:`crisp_eml.workspace.impulse_search`) and records why in its audit entry.
Every change stores a new immutable version in ``impulse_versions`` (the newest flagged current) and
appends an audit entry (``impulse.create`` / ``impulse.set`` / ``impulse.autotune``) in the same
transaction. Specs are validated structurally and against the blocks before anything is written.
"""

from __future__ import annotations

import json
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, replace
from datetime import datetime
from typing import Any

from sqlalchemy import func, select, update

from crisp_eml.core.errors import InputError, NotFoundError
from crisp_eml.core.impulse import MAX_WINDOW_MS, ImpulseSpec, TimeSeriesInput
from crisp_eml.core.personas import Permission
from crisp_eml.core.sample import Sample
from crisp_eml.data.samples import list_samples, load_array
from crisp_eml.dsp.defaults import default_block_params, new_block
from crisp_eml.dsp.pipeline import block_output_shapes, impulse_cost, n_features, validate_impulse
from crisp_eml.dsp.registry import BLOCKS
from crisp_eml.store.project import Project
from crisp_eml.store.tables.audit import AuditRow
from crisp_eml.store.tables.impulse import ImpulseVersionRow

Progress = Callable[[int, int, str], None]


@dataclass(frozen=True)
class ImpulseVersion:
    version: int
    hash: str
    spec: ImpulseSpec
    author: str
    message: str | None
    current: bool
    created_at: datetime | None
    #: Why ``eml impulse create`` chose this impulse (None for versions written by set/autotune).
    choice: dict[str, Any] | None = None

    def to_dict(self, *, details: bool = True) -> dict[str, Any]:
        d: dict[str, Any] = {"version": self.version, "hash": self.hash, "author": self.author,
                             "message": self.message, "current": self.current,
                             "created_at": self.created_at.isoformat() if self.created_at else None}
        if details:
            d["spec"] = self.spec.to_dict()
            d["output_shapes"] = [list(s) for s in block_output_shapes(self.spec)]
            d["n_features"] = n_features(self.spec)
            d["cost"] = impulse_cost(self.spec)
            d["choice"] = self.choice
        return d


def _entity(row: ImpulseVersionRow) -> ImpulseVersion:
    return ImpulseVersion(version=row.version, hash=row.hash, spec=ImpulseSpec.from_dict(row.spec),
                          author=row.author, message=row.message, current=row.current, created_at=row.created_at)


def _current_row(s: Any) -> ImpulseVersionRow:
    row = s.execute(select(ImpulseVersionRow).where(ImpulseVersionRow.current.is_(True))
                    .order_by(ImpulseVersionRow.version.desc())).scalars().first()
    if row is None:
        raise NotFoundError("this project has no impulse yet (run 'eml impulse create')")
    return row  # type: ignore[no-any-return]


def current_version(project: Project) -> ImpulseVersion:
    """The current version, with ``choice`` (why ``eml impulse create`` chose it) from its audit entry."""
    with project.read_session() as s:
        row = _current_row(s)
        choice = None
        for entry in s.execute(select(AuditRow).where(AuditRow.action == "impulse.create")
                               .order_by(AuditRow.seq.desc())).scalars():
            art = entry.artifacts or {}
            if art.get("impulse_version") == row.version:
                choice = art.get("choice")
                break
        return replace(_entity(row), choice=choice)


def current_impulse(project: Project) -> ImpulseSpec:
    """The project's current impulse spec (no audit look-up); ``NotFoundError`` with a hint when there is none."""
    with project.read_session() as s:
        return ImpulseSpec.from_dict(_current_row(s).spec)


def impulse_history(project: Project) -> list[ImpulseVersion]:
    with project.session() as s:
        rows = s.execute(select(ImpulseVersionRow).order_by(ImpulseVersionRow.version)).scalars()
        return [_entity(r) for r in rows]


def save_impulse(project: Project, spec: ImpulseSpec, *, action: str, message: str | None = None,
                 extra: dict[str, Any] | None = None) -> ImpulseVersion:
    """Validate ``spec`` and store it as the new current version, audited as ``action``."""
    actor = project.require(Permission.DESIGN_IMPULSE)
    spec = ImpulseSpec.from_dict(spec.to_dict())
    validate_impulse(spec)
    _check_window_cap(project, spec)
    if spec.learning is not None:  # a bad learning block is refused now, not at 'eml train' time
        from crisp_eml.learn.blocks import parse_block
        from crisp_eml.learn.layers import validate_layers

        block = parse_block(spec.learning)
        if block.params.get("layers") is not None:
            validate_layers(block.params["layers"])
    with project.session() as s:
        last = s.execute(select(func.max(ImpulseVersionRow.version))).scalar() or 0
        s.execute(update(ImpulseVersionRow).where(ImpulseVersionRow.current.is_(True)).values(current=False))
        row = ImpulseVersionRow(version=last + 1, spec=spec.to_dict(), hash=spec.hash, author=actor.name,
                                message=message, current=True)
        s.add(row)
        s.flush()
        project.record(s, action, {"impulse_version": row.version, "impulse_hash": spec.hash, **(extra or {})},
                       note=message)
        return _entity(row)


def _check_window_cap(project: Project, spec: ImpulseSpec) -> None:
    """A window (or step) may be as long as the longest recording of the project, at least one hour."""
    inp = spec.input
    if not isinstance(inp, TimeSeriesInput):
        return
    longest = max((s.length / s.frequency_hz * 1000.0 for s in list_samples(project)
                   if s.kind != "image" and s.frequency_hz), default=0.0)
    cap = max(MAX_WINDOW_MS, longest)
    for k in ("window_size_ms", "window_increase_ms"):
        ms = float(getattr(inp, k))
        if ms > cap * (1 + 1e-9):
            raise InputError(f"must be at most {cap:.6g} ms (the longest recording, or one hour), got {ms:.6g}",
                             field=f"input.{k}")


def set_impulse(project: Project, spec: ImpulseSpec, message: str | None = None) -> ImpulseVersion:
    """Store ``spec`` as a new version (audited ``impulse.set``)."""
    return save_impulse(project, spec, action="impulse.set", message=message)


# -- KEY=VALUE edits ---------------------------------------------------------------------------------------
def _parse_value(text: str) -> Any:
    try:
        return json.loads(text)
    except json.JSONDecodeError:
        return text


def apply_assignments(spec: ImpulseSpec, assignments: list[str]) -> ImpulseSpec:
    """Apply ``path=value`` edits (``blocks.0.params.fft-length=32``; values parsed as JSON when they are)."""
    d = spec.to_dict()
    for a in assignments:
        if "=" not in a:
            raise InputError(f"expected KEY=VALUE, got {a!r}", field=a)
        key, _, raw = a.partition("=")
        parts = [p for p in key.strip().split(".") if p]
        if not parts:
            raise InputError("empty key", field=a)
        node: Any = d
        for i, p in enumerate(parts[:-1]):
            nxt = parts[i + 1]
            if isinstance(node, list):
                if not p.isdigit() or int(p) >= len(node):
                    raise InputError(f"no list item {p!r} (there are {len(node)})", field=".".join(parts[:i + 1]))
                node = node[int(p)]
            elif isinstance(node, dict):
                if p not in node or node[p] is None:
                    node[p] = [] if nxt.isdigit() else {}
                node = node[p]
            else:
                raise InputError("cannot descend into a value", field=".".join(parts[:i + 1]))
        last = parts[-1]
        value = _parse_value(raw)
        if isinstance(node, list):
            if not last.isdigit() or int(last) > len(node):
                raise InputError(f"no list item {last!r}", field=key)
            if int(last) == len(node):
                node.append(value)
            else:
                node[int(last)] = value
        elif isinstance(node, dict):
            node[last] = value
        else:
            raise InputError("cannot set a field inside a value", field=key)
    return ImpulseSpec.from_dict(d)


def set_impulse_values(project: Project, assignments: list[str], message: str | None = None) -> ImpulseVersion:
    spec = apply_assignments(current_impulse(project), assignments)
    return save_impulse(project, spec, action="impulse.set", message=message or " ".join(assignments))


# -- create with defaults from the data -------------------------------------------------------------------
def _typical(samples: list[Sample]) -> tuple[str, float | None, list[str], float]:
    """(kind, frequency, axes common to all samples, median length in ms or rows)."""
    kind = Counter(s.kind for s in samples).most_common(1)[0][0]
    same = [s for s in samples if s.kind == kind]
    freqs = [s.frequency_hz for s in same if s.frequency_hz]
    freq = Counter(freqs).most_common(1)[0][0] if freqs else None
    axes = list(same[0].axes)
    for s in same[1:]:
        axes = [a for a in axes if a in s.axes]
    lengths = sorted((s.length / freq * 1000.0) if freq else float(s.length) for s in same)
    return kind, freq, axes, lengths[len(lengths) // 2]


def _check_blocks(blocks: list[str] | None) -> None:
    for b in blocks or []:
        if b == "external":
            raise InputError("an external block is made from its server: give --block-url URL", field="--block")
        if b not in BLOCKS:
            raise InputError(f"unknown processing block {b!r}; one of {sorted(BLOCKS)}", field="--block")


def _image_spec(samples: list[Sample], blocks: list[str] | None) -> ImpulseSpec:
    same = [s for s in samples if s.kind == "image"]
    h = sorted(s.shape[0] for s in same)[len(same) // 2]
    w = sorted(s.shape[1] for s in same)[len(same) // 2]
    chans = Counter(s.shape[2] if len(s.shape) > 2 else 1 for s in same).most_common(1)[0][0]
    side = min(96, h, w)
    d: dict[str, Any] = {"input": {"type": "image", "width": side, "height": side, "resize_mode": "squash",
                                   "channels": "RGB" if chans >= 3 else "Grayscale"},
                         "blocks": [new_block(b, {}, audio=False) for b in (blocks or ["image"])]}
    return ImpulseSpec.from_dict(d)


def _time_series_basics(samples: list[Sample]) -> tuple[str, float, list[str], float]:
    kind, freq, axes, typical = _typical(samples)
    if not freq:
        raise InputError("the samples have no sampling frequency", field="frequency_hz")
    if not axes:
        raise InputError("the samples share no sensor axis", field="axes")
    return kind, freq, axes, typical


def build_default_spec(
    samples: list[Sample], *, window_size_ms: float | None = None, window_increase_ms: float | None = None,
    blocks: list[str] | None = None,
) -> ImpulseSpec:
    """The single heuristic guess (``eml impulse create --quick``): no scoring.

    Time series: a window of about 2 s (at least 8 samples, at most the median recording), increase a
    quarter window (half for audio), ``spectral-analysis`` (``mfcc`` for audio) with rate-scaled parameters.
    """
    if not samples:
        raise NotFoundError("no samples to design an impulse from (ingest data first: 'eml ingest PATH')")
    _check_blocks(blocks)
    if _typical(samples)[0] == "image":
        return _image_spec(samples, blocks)
    kind, freq, axes, typical = _time_series_basics(samples)
    if window_size_ms is not None:
        size = float(window_size_ms)
    else:
        cap = 1000.0 if kind == "audio" else max(2000.0, 8 * 1000.0 / freq)
        size = float(min(cap, typical))
        size = float(round(size)) if size >= 1000.0 else size
    inc = (float(window_increase_ms) if window_increase_ms is not None
           else (size / 2.0 if kind == "audio" else size / 4.0))
    if not blocks:
        blocks = ["mfcc"] if kind == "audio" else ["spectral-analysis"]
    window_len = max(1, int(round(size * freq / 1000.0)))
    d = {"input": {"type": "time-series", "window_size_ms": size, "window_increase_ms": inc, "frequency_hz": freq,
                   "pad_zeros": True, "axes": axes},
         "blocks": [new_block(b, default_block_params(b, window_len, freq), audio=kind == "audio") for b in blocks]}
    return ImpulseSpec.from_dict(d)


def design_impulse(
    samples: list[Sample], load: Callable[[Sample], Any], *, window_size_ms: float | None = None,
    window_increase_ms: float | None = None, blocks: list[str] | None = None, quick: bool = False,
    previous: ImpulseSpec | None = None, on_progress: Progress | None = None,
) -> tuple[ImpulseSpec, dict[str, Any]]:
    """The impulse for ``samples`` and why it was chosen (``choice``: method, profile, candidates, reasons).

    Time series: candidates of :mod:`crisp_eml.workspace.impulse_search` scored by cross-validation on the
    training recordings (``quick``: the single heuristic guess). The learning block is filled (or the
    previous one kept, see :func:`~crisp_eml.workspace.impulse_search.learning_for`).
    """
    from crisp_eml.workspace import impulse_search as search

    if not samples:
        raise NotFoundError("no samples to design an impulse from (ingest data first: 'eml ingest PATH')")
    _check_blocks(blocks)
    training = [s for s in samples if s.category == "training"] or samples
    reasons: list[str] = []
    choice: dict[str, Any] = {"method": "quick", "candidates": [], "reasons": reasons}
    if _typical(samples)[0] == "image":
        spec = _image_spec(samples, blocks)
        reasons.append("images: the image block at the typical size (at most 96 px)")
    else:
        kind, freq, axes, _ = _time_series_basics(samples)
        prof = search.profile(training, freq, axes, kind)
        choice["profile"] = prof.to_dict()
        cands = [] if quick else search.candidates(prof, window_size_ms=window_size_ms,
                                                   window_increase_ms=window_increase_ms, blocks=blocks)
        folds = search.score(cands, training, load, on_progress=on_progress) if cands else 0
        if folds:
            pick = search.best(cands)
            spec = pick.spec
            choice.update(method="cross-validation", folds=folds, chosen=pick.name,
                          candidates=[c.to_dict() for c in sorted(cands, key=lambda c: -(c.score or 0.0))])
            reasons.append(f"{pick.name}: best {folds}-fold cross-validated balanced accuracy "
                           f"{pick.score:.3f} of {len(cands)} candidates on {len(training)} training recordings "
                           f"(proxy: logistic regression on standardised features, per-recording vote)")
            reasons.append(pick.why)
        else:
            spec = (cands[0].spec if cands else
                    build_default_spec(samples, window_size_ms=window_size_ms,
                                       window_increase_ms=window_increase_ms, blocks=blocks))
            if quick:
                reasons.append("--quick: one heuristic guess (about 2 s windows, rate-scaled block parameters)")
            else:
                reasons.append("not scored: cross-validation needs two classes with two or more training "
                               "recordings each; the first candidate was kept")
    chosen = None
    if choice["method"] == "cross-validation" and not search.keeps_layers(spec, previous):
        chosen = search.choose_learner(spec, training, load, on_progress=on_progress)
        if chosen is not None:
            choice["learners"] = {n: round(v, 4) for n, v in chosen[2].items()}
    learning, why = search.learning_for(spec, previous, chosen)
    reasons.append(why)
    spec = ImpulseSpec(input=spec.input, blocks=spec.blocks, learning=learning)
    return spec, choice


def external_spec(
    samples: list[Sample], urls: list[str], *, window_size_ms: float | None = None,
    window_increase_ms: float | None = None, blocks: list[str] | None = None, previous: ImpulseSpec | None = None,
) -> tuple[ImpulseSpec, dict[str, Any]]:
    """An impulse whose blocks are ``blocks`` (none by default) then one external block per URL (each made from
    its server's ``GET /parameters``), on the heuristic window: no cross-validated search, which would ask the
    servers for the features of every candidate."""
    from crisp_eml.dsp.external import external_block
    from crisp_eml.workspace import impulse_search as search

    base = build_default_spec(samples, window_size_ms=window_size_ms, window_increase_ms=window_increase_ms,
                              blocks=blocks or ["raw"])
    if not isinstance(base.input, TimeSeriesInput):
        raise InputError("external blocks take time-series input; this project's samples are images",
                         field="--block-url")
    d = base.to_dict()
    kept = d["blocks"] if blocks else []
    taken = {b["name"] for b in kept}
    for url in urls:
        b = external_block(url, taken=taken)
        taken.add(b["name"])
        kept.append(b)
    d["blocks"] = kept
    spec = ImpulseSpec.from_dict(d)
    learning, why = search.learning_for(spec, previous, None)
    reasons = ["external block(s): the heuristic window (about 2 s), no cross-validated search", why]
    return (ImpulseSpec(input=spec.input, blocks=spec.blocks, learning=learning),
            {"method": "quick", "candidates": [], "reasons": reasons})


def create_impulse(
    project: Project, *, window_size_ms: float | None = None, window_increase_ms: float | None = None,
    blocks: list[str] | None = None, layer: str = "raw", message: str | None = None, quick: bool = False,
    on_progress: Progress | None = None, block_urls: list[str] | None = None,
) -> ImpulseVersion:
    """Design an impulse from the project's samples (options override the data-driven choices).

    Why it was chosen (the candidates and their scores) is stored in the ``impulse.create`` audit entry
    and returned by :func:`current_version` as ``choice``. ``block_urls``: external blocks (Edge Impulse DSP
    block servers, :func:`external_spec`) after ``blocks``.
    """
    project.require(Permission.DESIGN_IMPULSE)
    samples = list_samples(project, layer=layer)
    try:
        previous: ImpulseSpec | None = current_impulse(project)
    except NotFoundError:
        previous = None
    if block_urls:
        if not samples:
            raise NotFoundError("no samples to design an impulse from (ingest data first: 'eml ingest PATH')")
        _check_blocks(blocks)
        spec, choice = external_spec(samples, block_urls, window_size_ms=window_size_ms,
                                     window_increase_ms=window_increase_ms, blocks=blocks, previous=previous)
        v = save_impulse(project, spec, action="impulse.create", message=message, extra={"choice": choice})
        return replace(v, choice=choice)
    spec, choice = design_impulse(samples, lambda s: load_array(project, s), window_size_ms=window_size_ms,
                                  window_increase_ms=window_increase_ms, blocks=blocks, quick=quick,
                                  previous=previous, on_progress=on_progress)
    v = save_impulse(project, spec, action="impulse.create", message=message, extra={"choice": choice})
    return replace(v, choice=choice)
