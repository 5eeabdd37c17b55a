"""Collect the evidence a gate needs for one model version from whatever the project holds.

Each collector reads one kind of artifact (run test metrics of the int8 variant, the compiler's
``MANIFEST.json``, a latency estimate, the dataset quality score, sample counts per class) and returns
:class:`~crisp_eml.core.gates.Evidence` items that say where they came from. A collector that finds
nothing returns nothing: the gate then fails that row with "no evidence: <what to run>".
"""

from __future__ import annotations

import contextlib
import json
import re
from collections import Counter
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from crisp_eml.core.errors import InputError, NotFoundError
from crisp_eml.core.gates import Evidence, classification_evidence
from crisp_eml.lifecycle.library_check import CheckedLibrary, check_library
from crisp_eml.store.project import Project
from crisp_eml.store.tables.audit import AuditRow
from crisp_eml.store.tables.data import DatasetVersionItemRow, SampleRow
from crisp_eml.store.tables.learn import ModelAliasRow, ModelVersionRow, RunRow

_URI = re.compile(r"^(?:models:/)?(?P<name>[A-Za-z0-9][A-Za-z0-9._-]*)(?:@(?P<alias>[A-Za-z0-9._-]+)|/(?P<ver>\d+))?$")


@dataclass(frozen=True)
class ModelRef:
    name: str
    version: int
    run_id: str

    @property
    def uri(self) -> str:
        return f"models:/{self.name}/{self.version}"


@dataclass
class EvidenceBundle:
    """Evidence items by key plus the raw details the report shows (confusion matrix, manifest...)."""

    items: dict[str, Evidence] = field(default_factory=dict)
    target: str | None = None  # the target the size/latency evidence was produced for
    wanted_target: str | None = None  # the target the gate checks against (picks the saved profile)
    details: dict[str, Any] = field(default_factory=dict)
    #: identity + figures of the compiled library whose MANIFEST.json gave evidence, once re-derived and
    #: found byte-identical (:mod:`crisp_eml.lifecycle.library_check`); deploy compares it with what it ships
    library: dict[str, Any] | None = None

    def add(self, items: Mapping[str, Evidence]) -> None:
        for k, v in items.items():
            self.items.setdefault(k, v)

    def to_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {"target": self.target, "items": {k: {"value": v.value, "source": v.source}
                                                                for k, v in sorted(self.items.items())}}
        if self.library is not None:
            out["library"] = dict(self.library)
        return out


def resolve(session: Session, uri: str) -> ModelRef:
    """``models:/name@alias``, ``models:/name/3`` or ``models:/name`` (latest version)."""
    m = _URI.match(uri.strip())
    if not m:
        raise InputError("expected models:/NAME@ALIAS or models:/NAME/VERSION", field="model", source=uri)
    name = m.group("name")
    latest = session.execute(select(ModelVersionRow).where(ModelVersionRow.name == name)
                             .order_by(ModelVersionRow.version.desc()).limit(1)).scalar_one_or_none()
    if latest is None:  # an unknown name: say so, never "has no alias/version" as if the model existed
        names = list(session.execute(select(ModelVersionRow.name).distinct().order_by(ModelVersionRow.name)
                                     .limit(11)).scalars())
        known = ", ".join(names[:10]) + (", ..." if len(names) > 10 else "") if names else "none yet"
        raise NotFoundError(f"no model named {name!r} (registered models: {known}; 'eml models ls' lists them)")
    if m.group("alias"):
        alias = session.get(ModelAliasRow, (name, m.group("alias")))
        if alias is None:
            raise NotFoundError(f"model {name!r} has no alias {m.group('alias')!r}")
        version = alias.version
    elif m.group("ver"):
        version = int(m.group("ver"))
    else:
        version = latest.version
    row = session.get(ModelVersionRow, (name, version))
    if row is None:
        raise NotFoundError(f"model {name!r} has no version {version}")
    return ModelRef(name, version, row.run_id)


# -- test metrics of the int8 variant ---------------------------------------------------------------
def _find_int8(metrics: Mapping[str, Any]) -> tuple[dict[str, Any], str] | None:
    """Locate the int8 test metrics in a run's metrics JSON (several layouts are accepted)."""
    candidates = (("test", "int8"), ("int8", "test"), ("test_int8",), ("int8",), ("test", "model"))
    for path in candidates:
        node: Any = metrics
        for part in path:
            node = node.get(part) if isinstance(node, Mapping) else None
        if isinstance(node, Mapping) and node:
            return dict(node), "metrics." + ".".join(path)
    return None


def _find_float(metrics: Mapping[str, Any]) -> dict[str, Any] | None:
    for path in (("test", "float32"), ("float32", "test"), ("test", "float"), ("test_float32",), ("float32",)):
        node: Any = metrics
        for part in path:
            node = node.get(part) if isinstance(node, Mapping) else None
        if isinstance(node, Mapping) and node:
            return dict(node)
    return None


def metrics_evidence(m: Mapping[str, Any], source: str) -> dict[str, Evidence]:
    """Evidence from one metrics dict: confusion matrix first, explicit figures override it."""
    out: dict[str, Evidence] = {}
    labels = m.get("labels") or m.get("classes")
    cm = m.get("confusion_matrix") or m.get("confusion")
    if isinstance(labels, list) and isinstance(cm, list) and labels:
        with contextlib.suppress(ValueError, TypeError):
            out.update(classification_evidence([str(x) for x in labels], cm, source))
    for key, names in (("accuracy", ("accuracy", "acc")), ("f1", ("f1", "macro_f1", "f1_macro")),
                       ("far", ("far", "false_accept_rate")), ("frr", ("frr", "false_reject_rate"))):
        for n in names:
            if isinstance(m.get(n), int | float):
                out[key] = Evidence(key, float(m[n]), source)
                break
    per_class = m.get("per_class") or m.get("f1_per_class")
    if isinstance(per_class, Mapping):
        for cls, v in per_class.items():
            f1 = v.get("f1") if isinstance(v, Mapping) else v
            if isinstance(f1, int | float):
                out[f"f1.{cls}"] = Evidence(f"f1.{cls}", float(f1), source)
    return out


def collect_test_metrics(project: Project, session: Session, ref: ModelRef, bundle: EvidenceBundle) -> None:
    run = session.get(RunRow, ref.run_id)
    if run is None:
        return
    bundle.details["run"] = {"id": run.id, "learning_type": run.learning_type,
                             "dataset_version": run.dataset_version_id, "impulse_hash": run.impulse_hash,
                             "params": run.params, "artifacts": run.artifacts}
    found = _find_int8(run.metrics or {})
    flt = _find_float(run.metrics or {})
    if flt:
        bundle.details["float32"] = flt
    if found is None:
        return
    m, where = found
    bundle.details["int8"] = m
    bundle.add(metrics_evidence(m, f"run {run.id[:8]} {where}"))
    q_acc, f_acc = m.get("accuracy"), (flt or {}).get("accuracy")
    if isinstance(q_acc, int | float) and isinstance(f_acc, int | float):
        bundle.add({"int8_drop": Evidence("int8_drop", float(f_acc) - float(q_acc),
                                          f"run {run.id[:8]} float32 - int8 test accuracy")})


# -- compiler manifest, latency estimate ----------------------------------------------------------------
def _mentions(artifacts: Mapping[str, Any], ref: ModelRef) -> bool:
    blob = json.dumps(artifacts, default=str)
    return (ref.uri in blob or f"{ref.name}/{ref.version}" in blob or ref.run_id in blob
            or (str(artifacts.get("model")) == ref.name and str(artifacts.get("version")) == str(ref.version)))


def _manifest_blob(project: Project, artifacts: Mapping[str, Any]) -> tuple[dict[str, Any], str] | None:
    """A manifest stored in the blob store by the audit entry itself (content-addressed: not a loose file)."""
    for key in ("manifest", "manifest_blob"):
        v = artifacts.get(key)
        if isinstance(v, str) and re.fullmatch(r"[0-9a-f]{64}", v):
            try:
                return json.loads(project.blobs.get(v)), f"blob {v[:12]}"
            except Exception:  # noqa: BLE001 - a missing blob is simply no evidence
                continue
    return None


def _library_folder(project: Project, artifacts: Mapping[str, Any]) -> Path | None:
    """The library folder an audit entry names, if it still holds a MANIFEST.json (files anyone can edit:
    the caller re-derives it before trusting a figure)."""
    for key in ("manifest", "manifest_path"):
        v = artifacts.get(key)
        if isinstance(v, str) and not re.fullmatch(r"[0-9a-f]{64}", v):
            p = Path(v) if Path(v).is_absolute() else project.root / v
            if p.is_file():
                return p.parent
    for key in ("out", "out_dir", "output", "library", "path", "dir"):
        v = artifacts.get(key)
        if isinstance(v, str):
            p = Path(v) if Path(v).is_absolute() else project.root / v
            if (p / "MANIFEST.json").is_file():
                return p
    return None


def _num(d: Mapping[str, Any], *names: str) -> int | float | None:
    for n in names:
        node: Any = d
        for part in n.split("."):
            node = node.get(part) if isinstance(node, Mapping) else None
        if isinstance(node, int | float) and not isinstance(node, bool):
            return node
    return None


def manifest_evidence(manifest: Mapping[str, Any], source: str) -> dict[str, Evidence]:
    """RAM, flash and (if present) latency figures from a compiler ``MANIFEST.json``."""
    out: dict[str, Evidence] = {}
    ram = _num(manifest, "ram_bytes", "memory.ram_bytes", "size.ram_bytes")
    if ram is None:
        arena = _num(manifest, "arena_bytes", "memory.arena_bytes")
        if arena is not None:
            out["ram_bytes"] = Evidence("ram_bytes", int(arena), f"{source} (arena_bytes)")
    else:
        out["ram_bytes"] = Evidence("ram_bytes", int(ram), f"{source} (ram_bytes)")
    flash = _num(manifest, "flash_bytes", "memory.flash_bytes", "size.flash_bytes", "flash.total_bytes")
    if flash is None:
        weights = _num(manifest, "weights_bytes", "memory.weights_bytes")
        code = _num(manifest, "code_bytes", "text_bytes", "memory.code_bytes")
        if weights is not None:
            total = int(weights) + int(code or 0)
            what = "weights_bytes + code_bytes" if code is not None else "weights_bytes only"
            out["flash_bytes"] = Evidence("flash_bytes", total, f"{source} ({what})")
    else:
        out["flash_bytes"] = Evidence("flash_bytes", int(flash), f"{source} (flash_bytes)")
    lat = _num(manifest, "latency_ms", "estimated_latency_ms", "latency.total_ms", "latency.ms")
    if lat is not None:
        out["latency_ms"] = Evidence("latency_ms", float(lat), f"{source} (latency estimate)")
    return out


def model_sha256(session: Session, ref: ModelRef) -> str | None:
    """sha256 of the model version's int8 ``.tflite`` (blob digests are sha256 of the bytes)."""
    run = session.get(RunRow, ref.run_id)
    arts = (run.artifacts if run else None) or {}
    for name in ("model_int8.tflite", "int8.tflite", "model.tflite"):
        if isinstance(arts.get(name), str):
            return str(arts[name])
    return None


# Sizes every MANIFEST.json the compiler writes holds (the CLI contract), and figures it may hold.
def _use_manifest(bundle: EvidenceBundle, manifest: Mapping[str, Any], source: str, info: Mapping[str, Any]) -> None:
    bundle.details.setdefault("manifest", dict(manifest))
    bundle.details.setdefault("library", dict(info))
    target = info.get("target") or manifest.get("target")
    if isinstance(target, Mapping):
        target = target.get("name")
    bundle.target = bundle.target or (str(target) if target else None)
    bundle.add(manifest_evidence(manifest, source))


def run_artifacts(session: Session, ref: ModelRef) -> dict[str, Any]:
    run = session.get(RunRow, ref.run_id)
    return dict((run.artifacts if run else None) or {})


def _use_checked(bundle: EvidenceBundle, checked: CheckedLibrary, source: str) -> None:
    _use_manifest(bundle, checked.manifest, source,
                  {"out": str(checked.path), "library": checked.manifest.get("name"),
                   "sources_sha256": checked.sources_sha256})
    bundle.library = bundle.library or checked.identity()


def collect_library(project: Project, session: Session, ref: ModelRef, bundle: EvidenceBundle,
                    library: Path) -> None:
    """Evidence from an explicitly named library folder: it must be exactly what the compiler writes for this
    model (re-derived, byte for byte), else the gate refuses it."""
    checked = check_library(project, run_artifacts(session, ref), ref.uri, library)
    _use_checked(bundle, checked, f"{checked.path / 'MANIFEST.json'} (re-derived)")


def profile_evidence(result: Mapping[str, Any]) -> dict[str, Evidence]:
    """Evidence from a profile of the compiled library on the target (cross build + QEMU instruction count)."""
    target = result.get("target")
    tname = target.get("id") if isinstance(target, Mapping) else target
    src = f"profile on {tname}"
    out: dict[str, Evidence] = {}
    for key in ("ram_bytes", "flash_bytes"):
        v = result.get(key)
        if isinstance(v, int | float) and not isinstance(v, bool):
            out[key] = Evidence(key, int(v), f"{src} ({key}, cross build)")
    lat = result.get("latency_ms")
    if isinstance(lat, int | float) and not isinstance(lat, bool):
        out["latency_ms"] = Evidence("latency_ms", float(lat), f"{src} (QEMU instruction count x CPI / clock)")
    return out


def saved_profiles(session: Session, ref: ModelRef, *, by_digest_only: bool = False) -> Iterator[AuditRow]:
    """The saved ``eml profile`` results of a model version, newest first: those that measured its int8 model
    (same sha256, so a profile made through an alias counts for the version the alias pointed at), and, unless
    ``by_digest_only``, those naming its URI when the digest is unknown."""
    sha = model_sha256(session, ref)
    if sha is None and by_digest_only:
        return
    rows = session.execute(select(AuditRow).where(AuditRow.action == "compiler.profile")
                           .order_by(AuditRow.seq.desc())).scalars()
    for row in rows:
        arts = row.artifacts or {}
        if (sha is not None and arts.get("model_sha256") == sha) or (
                not by_digest_only and arts.get("source") == ref.uri):
            yield row


def collect_saved_profile(project: Project, session: Session, ref: ModelRef, bundle: EvidenceBundle) -> None:
    """The latest ``eml profile`` saved for this model (same int8 sha256) on the gate's target.

    Its measured RAM, flash and latency win over the compiler manifest's estimates. Without a gate target
    the latest saved profile of the model on any target is used (the gate then checks the target row).
    """
    if bundle.details.get("profile") is not None:
        return
    want = bundle.wanted_target
    for row in saved_profiles(session, ref, by_digest_only=True):
        arts = row.artifacts or {}
        if want and arts.get("target") != want:
            continue
        bundle.details["profile"] = dict(arts)
        bundle.target = bundle.target or str(arts.get("target"))
        src = f"saved profile on {arts.get('target')} (audit #{row.seq}, {str(row.at)[:16]})"
        for key, v in profile_evidence(arts).items():
            bundle.add({key: Evidence(key, v.value, f"{src} ({key})")})
        return


def collect_compiled(project: Project, session: Session, ref: ModelRef, bundle: EvidenceBundle) -> None:
    """The latest ``compiler.compile`` of this model (matched by the int8 model's sha256 or its URI)."""
    sha = model_sha256(session, ref)
    rows = session.execute(select(AuditRow).where(AuditRow.action.like("compile%"))
                           .order_by(AuditRow.seq.desc())).scalars()
    for row in rows:
        arts = row.artifacts or {}
        if not ((sha and arts.get("model_sha256") == sha) or _mentions(arts, ref)):
            continue
        folder = _library_folder(project, arts)
        if folder is not None:
            try:
                checked = check_library(project, run_artifacts(session, ref), ref.uri, folder)
            except InputError:
                continue  # the folder now holds another model's library: an older compile may still count
            _use_checked(bundle, checked, f"compile (audit #{row.seq}) {folder / 'MANIFEST.json'} (re-derived)")
            return
        loaded = _manifest_blob(project, arts)
        if loaded is not None:
            manifest, where = loaded
            _use_manifest(bundle, manifest, f"compile (audit #{row.seq}) {where}", arts)
            return
        # The audit entry names no library folder: use the figures it carries.
        bundle.details.setdefault("library", dict(arts))
        bundle.add(manifest_evidence(arts, f"compile (audit #{row.seq})"))
        return


def collect_training_sizes(project: Project, session: Session, ref: ModelRef, bundle: EvidenceBundle) -> None:
    """Before (or without) a compiled library: the TFLite Micro arena and int8 model size the run measured."""
    run = session.get(RunRow, ref.run_id)
    sizes = ((run.metrics or {}).get("model") or {}).get("int8") if run else None
    if not isinstance(sizes, Mapping):
        return
    src = f"run {ref.run_id[:8]} metrics.model.int8"
    items: dict[str, Evidence] = {}
    if isinstance(sizes.get("arena_bytes"), int):
        items["ram_bytes"] = Evidence("ram_bytes", int(sizes["arena_bytes"]),
                                      f"{src} (TFLite Micro arena; estimate, not compiled)")
    if isinstance(sizes.get("bytes"), int):
        items["flash_bytes"] = Evidence("flash_bytes", int(sizes["bytes"]),
                                        f"{src} (int8 .tflite size; estimate, not compiled)")
    bundle.add(items)


def collect_latency(project: Project, session: Session, ref: ModelRef, bundle: EvidenceBundle) -> None:
    rows = session.execute(select(AuditRow).where(AuditRow.action.like("profile%"))
                           .order_by(AuditRow.seq.desc())).scalars()
    for row in rows:
        arts = row.artifacts or {}
        lat = _num(arts, "latency_ms", "total_ms", "estimated_latency_ms", "latency.total_ms")
        if lat is not None and _mentions(arts, ref):
            bundle.details.setdefault("latency", arts)
            bundle.add({"latency_ms": Evidence("latency_ms", float(lat), f"profile (audit #{row.seq})")})
            return


def latest_calibration(session: Session, name: str, version: int, sha256: str | None = None) -> Any:
    """The latest ``eml calibrate`` row of ``name/version`` (of those int8 bytes, when ``sha256`` is given)."""
    from crisp_eml.store.tables.calibration import CalibrationRow

    q = select(CalibrationRow).where(CalibrationRow.model_name == name, CalibrationRow.model_version == version)
    if sha256 is not None:
        q = q.where(CalibrationRow.model_sha256 == sha256)
    return session.execute(q.order_by(CalibrationRow.id.desc()).limit(1)).scalar_one_or_none()


def collect_calibration(project: Project, session: Session, ref: ModelRef, bundle: EvidenceBundle) -> None:
    """False accepts per hour and stream false reject rate of the latest ``eml calibrate`` of this model version
    (its int8 bytes, when known): the figures of the post-processing setting it chose and deployments ship."""
    row = latest_calibration(session, ref.name, ref.version, model_sha256(session, ref))
    if row is None:
        return
    stream = row.stream or {}
    src = (f"calibration #{row.id} ({float(stream.get('hours') or 0):.2f} h stream, seed {stream.get('seed')}, "
           f"{str(row.created_at)[:16]})")
    bundle.details.setdefault("calibration", {"id": row.id, "postprocess": dict(row.postprocess),
                                              "far_per_hour": row.far_per_hour, "frr": row.frr})
    bundle.add({"far_per_hour": Evidence("far_per_hour", float(row.far_per_hour), src)})
    if row.frr is not None:
        bundle.add({"stream_frr": Evidence("stream_frr", float(row.frr), src)})


# -- data: quality score and samples per class -------------------------------------------------------
def collect_quality(project: Project, session: Session, ref: ModelRef, bundle: EvidenceBundle) -> None:
    rows = session.execute(select(AuditRow).where(AuditRow.action.in_(("dataset.check", "data.check")))
                           .order_by(AuditRow.seq.desc()).limit(1)).scalars()
    for row in rows:
        score = _num(row.artifacts or {}, "score", "quality_score")
        if score is not None:
            bundle.details["quality_score"] = float(score)
            bundle.add({"quality_score": Evidence("quality_score", float(score), f"data check (audit #{row.seq})")})
            return
    try:
        from crisp_eml.workspace.check import check_dataset  # type: ignore[import-not-found,unused-ignore]
    except ImportError:
        return
    try:
        report = check_dataset(project)
    except Exception:  # noqa: BLE001 - an unusable dataset is no evidence, the row says what to run
        return
    score = getattr(report, "score", None)
    if isinstance(score, int | float):
        bundle.details["quality_score"] = float(score)
        bundle.add({"quality_score": Evidence("quality_score", float(score), "data check (computed now)")})


def collect_sample_counts(project: Project, session: Session, ref: ModelRef, bundle: EvidenceBundle) -> None:
    run = session.get(RunRow, ref.run_id)
    counts: Counter[str] = Counter()
    source = ""
    if run is not None and run.dataset_version_id is not None:
        labels = session.execute(select(DatasetVersionItemRow.label)
                                 .where(DatasetVersionItemRow.version_id == run.dataset_version_id)).scalars()
        counts.update(str(lbl) for lbl in labels if lbl is not None)
        source = f"dataset version {run.dataset_version_id}"
    if not counts:
        current = session.execute(select(SampleRow.label).where(SampleRow.enabled.is_(True))).scalars()
        counts.update(str(lbl) for lbl in current if lbl is not None)
        source = "current samples"
    if not counts:
        return
    bundle.details["samples_per_class"] = dict(sorted(counts.items()))
    items = {f"samples_per_class.{k}": Evidence(f"samples_per_class.{k}", v, source) for k, v in counts.items()}
    least = min(counts, key=lambda k: counts[k])
    items["samples_per_class"] = Evidence("samples_per_class", counts[least], f"{source} (fewest: {least})")
    bundle.add(items)


Collector = Callable[[Project, Session, ModelRef, EvidenceBundle], None]
COLLECTORS: tuple[Collector, ...] = (collect_test_metrics, collect_saved_profile,
                                     collect_compiled, collect_training_sizes, collect_latency,
                                     collect_calibration, collect_quality, collect_sample_counts)


def collect(project: Project, session: Session, ref: ModelRef, *, library: Path | None = None,
            profile: Mapping[str, Any] | None = None, target: str | None = None) -> EvidenceBundle:
    """Run every collector; a fresh ``profile`` and an explicit ``library`` win over the audit trail.

    ``target``: the target the gate checks against; a saved profile is only used when it was made for it.
    """
    bundle = EvidenceBundle(wanted_target=target)
    if profile is not None:
        bundle.details["profile"] = dict(profile)
        target = profile.get("target")
        bundle.target = str(target.get("id")) if isinstance(target, Mapping) else (str(target) if target else None)
        bundle.add(profile_evidence(profile))
    if library is not None:
        collect_library(project, session, ref, bundle, library)
    for collector in COLLECTORS:
        collector(project, session, ref, bundle)
    return bundle
