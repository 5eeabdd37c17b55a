"""Use cases for the project's impulse spec: create (defaults from the data), show, set, history.

Every change stores a new immutable version in ``impulse_versions`` (the newest flagged current) and
appends an audit entry (``impulse.create`` / ``impulse.set`` / ``impulse.autotune``) in the same
transaction. Specs are validated structurally and against the blocks before anything is written.
"""

from __future__ import annotations

import json
import math
from collections import Counter
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import func, select, update

from crisp_eml.core.errors import InputError, NotFoundError
from crisp_eml.core.impulse import ImpulseSpec
from crisp_eml.core.personas import Permission
from crisp_eml.core.sample import Sample
from crisp_eml.data.samples import list_samples
from crisp_eml.dsp.pipeline import block_output_shapes, impulse_cost, n_features, validate_impulse
from crisp_eml.dsp.registry import BLOCKS
from crisp_eml.store.project import Project
from crisp_eml.store.tables.impulse import ImpulseVersionRow


@dataclass(frozen=True)
class ImpulseVersion:
    version: int
    hash: str
    spec: ImpulseSpec
    author: str
    message: str | None
    current: bool
    created_at: datetime | None

    def to_dict(self, *, details: bool = True) -> dict[str, Any]:
        d: dict[str, Any] = {"version": self.version, "hash": self.hash, "author": self.author,
                             "message": self.message, "current": self.current,
                             "created_at": self.created_at.isoformat() if self.created_at else None}
        if details:
            d["spec"] = self.spec.to_dict()
            d["output_shapes"] = [list(s) for s in block_output_shapes(self.spec)]
            d["n_features"] = n_features(self.spec)
            d["cost"] = impulse_cost(self.spec)
        return d


def _entity(row: ImpulseVersionRow) -> ImpulseVersion:
    return ImpulseVersion(version=row.version, hash=row.hash, spec=ImpulseSpec.from_dict(row.spec),
                          author=row.author, message=row.message, current=row.current, created_at=row.created_at)


def current_version(project: Project) -> ImpulseVersion:
    with project.session() as s:
        row = s.execute(select(ImpulseVersionRow).where(ImpulseVersionRow.current.is_(True))
                        .order_by(ImpulseVersionRow.version.desc())).scalars().first()
        if row is None:
            raise NotFoundError("this project has no impulse yet (run 'eml impulse create')")
        return _entity(row)


def current_impulse(project: Project) -> ImpulseSpec:
    """The project's current impulse spec; ``NotFoundError`` with a hint when there is none."""
    return current_version(project).spec


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


def default_block_params(btype: str, window_len: int, frequency_hz: float) -> dict[str, Any]:
    """Edge-Impulse-like defaults adjusted so they are valid for this input."""
    if btype == "spectral-analysis":
        nyq = frequency_hz / 2.0
        cutoff = 3.0 if 0.8 * nyq > 3.0 else round(0.4 * nyq, 3)
        return {"filter-type": "low", "filter-cutoff": cutoff, "filter-order": 6, "fft-length": 16}
    if btype in ("mfcc", "mfe", "spectrogram"):
        frame = 0.02 if window_len / frequency_hz >= 0.04 else round(window_len / frequency_hz / 2, 4)
        frame_samples = max(2, int(round(frame * frequency_hz)))
        fft = 1 << max(4, math.ceil(math.log2(frame_samples)))
        p: dict[str, Any] = {"frame_length": frame, "fft_length": min(fft, 8192)}
        stride = frame if btype == "mfcc" else frame / 2
        p["frame_stride"] = round(stride, 6)
        if btype == "mfcc":
            p["win_size"] = 101
        return p
    return {}


def build_default_spec(
    samples: list[Sample], *, window_size_ms: float | None = None, window_increase_ms: float | None = None,
    blocks: list[str] | None = None,
) -> ImpulseSpec:
    if not samples:
        raise NotFoundError("no samples to design an impulse from (ingest data first: 'eml ingest PATH')")
    kind, freq, axes, typical = _typical(samples)
    for b in blocks or []:
        if b not in BLOCKS:
            raise InputError(f"unknown processing block {b!r}; one of {sorted(BLOCKS)}", field="--block")
    if kind == "image":
        same = [s for s in samples if s.kind == "image"]
        h = sorted(s.shape[0] for s in same)[len(same) // 2]
        w = sorted(s.shape[1] for s in same)[len(same) // 2]
        chans = Counter(s.shape[2] if len(s.shape) > 2 else 1 for s in same).most_common(1)[0][0]
        side = min(96, h, w)
        d: dict[str, Any] = {"input": {"type": "image", "width": side, "height": side, "resize_mode": "squash",
                                       "channels": "RGB" if chans >= 3 else "Grayscale"},
                             "blocks": [{"name": b, "type": b} for b in (blocks or ["image"])]}
        return ImpulseSpec.from_dict(d)
    if not freq:
        raise InputError("the samples have no sampling frequency", field="frequency_hz")
    if not axes:
        raise InputError("the samples share no sensor axis", field="axes")
    cap = 1000.0 if kind == "audio" else 2000.0
    size = float(window_size_ms) if window_size_ms is not None else float(round(min(cap, typical)))
    inc = (float(window_increase_ms) if window_increase_ms is not None
           else (size / 2.0 if kind == "audio" else size / 4.0))
    if not blocks:
        blocks = ["mfcc"] if kind == "audio" else ["spectral-analysis"]
    window_len = max(1, int(round(size * freq / 1000.0)))
    d = {"input": {"type": "time-series", "window_size_ms": size, "window_increase_ms": inc, "frequency_hz": freq,
                   "pad_zeros": True, "axes": axes},
         "blocks": [{"name": b, "type": b, "params": default_block_params(b, window_len, freq)} for b in blocks]}
    return ImpulseSpec.from_dict(d)


def create_impulse(
    project: Project, *, window_size_ms: float | None = None, window_increase_ms: float | None = None,
    blocks: list[str] | None = None, layer: str = "raw", message: str | None = None,
) -> ImpulseVersion:
    """Design an impulse from the project's samples (options override the data-driven defaults)."""
    project.require(Permission.DESIGN_IMPULSE)
    spec = build_default_spec(list_samples(project, layer=layer), window_size_ms=window_size_ms,
                              window_increase_ms=window_increase_ms, blocks=blocks)
    return save_impulse(project, spec, action="impulse.create", message=message)
