"""The job kinds: what a background job may do, who may ask for it, and which use case it runs.

Each kind has a parameter model (checked when the job is submitted, so a bad parameter is a 400/422 then and
never a failed job), the permissions that allow it (any one of them; none: every member), and a runner that
calls the same ``workspace/`` use case as the CLI command. Runners import their use case lazily: this module
is imported by the server, which must never load TensorFlow.

Paths: a job submitted over HTTP may not name files on the server (``out``, a ``.tflite`` file or a library
folder); its outputs go to the job's own folder ``.eml/jobs/<id>/``. A job submitted by the CLI
(``--background``) may, and its relative paths are resolved against the caller's working directory first.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal, Protocol

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from crisp_eml.core.errors import InputError, PermissionDeniedError, VerificationError
from crisp_eml.core.personas import Permission

if TYPE_CHECKING:
    from crisp_eml.store.project import Actor, Project

MODELS_URI = "models:/"
MAX_VECTORS = 10_000  # as crisp_eml.workspace.compile.MAX_VECTORS (not imported: that module loads the compiler)
LEARNING_TYPES = ("nn-classifier", "nn-regressor", "anomaly-kmeans", "anomaly-gmm", "expert", "byom")


class Report(Protocol):
    """How a runner tells the world how far it got (the worker turns these into job events)."""

    job_id: str
    dir: Path  # the job's own output folder (exists)

    def progress(self, done: int, total: int, message: str = "", **extra: Any) -> None: ...

    def log(self, line: str) -> None: ...


class _Params(BaseModel):
    model_config = ConfigDict(extra="forbid")


class FeaturesParams(_Params):
    """``eml features generate``."""

    category: Literal["training", "testing"] | None = None
    layer: Literal["raw", "clean"] = "raw"
    workers: int | None = Field(None, ge=1, le=256)


class ImpulseParams(_Params):
    """``eml impulse create``: design the impulse from the data (each option overrides the data's choice)."""

    window_size_ms: float | None = Field(None, gt=0, le=3_600_000)
    window_increase_ms: float | None = Field(None, gt=0, le=3_600_000)
    blocks: list[str] | None = Field(None, min_length=1, max_length=16)
    layer: Literal["raw", "clean"] = "raw"
    quick: bool = False
    message: str | None = Field(None, max_length=2000)


class TrainParams(_Params):
    """``eml train``: overrides of the learning block's settings for this run."""

    epochs: int | None = None
    learning_rate: float | None = None
    batch_size: int | None = None
    patience: int | None = None
    seed: int = Field(0, ge=0, le=2**32 - 1)
    learning: Literal[LEARNING_TYPES] | None = None  # type: ignore[valid-type]


class TestParams(_Params):
    """``eml test``."""

    __test__ = False  # not a pytest class
    variant: Literal["float32", "int8"] = "int8"
    run: str | None = Field(None, min_length=1, max_length=64)
    uncertain_below: float = Field(0.6, ge=0.0, le=1.0)


class CompileParams(_Params):
    """``eml compile`` then ``eml verify`` of the library it wrote."""

    model: str = Field(min_length=1, max_length=4096)  # models:/NAME@ALIAS (or, from the CLI, a .tflite file)
    out: str | None = Field(None, max_length=4096)  # CLI only; default: the job's folder
    name: str | None = Field(None, min_length=1, max_length=64)
    vectors: int = Field(8, ge=0, le=MAX_VECTORS)
    labels: list[str] | None = Field(None, max_length=4096)
    force: bool = False
    verify: bool = True
    target: Literal["cortex-m4"] | None = None  # also verify on this emulated target
    sanitize: bool = True
    arena_section: str | None = Field(None, max_length=64)  # named linker sections (compiler.flash checks them)
    weights_section: str | None = Field(None, max_length=64)
    optimize: Literal["ram", "balanced", "speed"] | None = None  # compiler.optimize (None: balanced)


class ProfileParams(_Params):
    """``eml profile``."""

    source: str = Field(min_length=1, max_length=4096)  # models:/NAME@ALIAS (or, from the CLI, a file/folder)
    target: str = Field("cortex-m4f-80mhz", min_length=1, max_length=64)
    optimize: Literal["ram", "balanced", "speed", "all"] | None = None  # a model's mode, or "all": compare them


class ReportParams(_Params):
    """``eml report``."""

    out: str | None = Field(None, max_length=4096)  # CLI only; default: the job's folder
    model: str | None = Field(None, min_length=1, max_length=4096)
    pdf: bool = True


Runner = Callable[["Project", dict[str, Any], Report], dict[str, Any]]


@dataclass(frozen=True)
class Kind:
    name: str
    summary: str
    permissions: tuple[Permission, ...]  # any one of them allows the job; () = every member
    params: type[_Params]
    run: Runner
    paths: tuple[str, ...] = ()  # parameters naming server files: CLI jobs only
    uris: tuple[str, ...] = ()  # parameters that over HTTP must be a models:/ URI

    def authorize(self, project: Project) -> Actor:
        """The acting member, if one of the kind's permissions allows them the job (else PermissionDenied)."""
        if not self.permissions:
            return project.actor
        first: PermissionDeniedError | None = None
        for perm in self.permissions:
            try:
                return project.require(perm)
            except PermissionDeniedError as exc:
                first = first or exc
        assert first is not None
        raise first


# -- runners: the same use cases the CLI commands call ------------------------------------------------------------
def _features(project: Project, p: dict[str, Any], report: Report) -> dict[str, Any]:
    from crisp_eml.workspace.features import generate_features_report

    fs, stats = generate_features_report(project, layer=p["layer"], category=p["category"], workers=p["workers"],
                                         on_progress=lambda d, t, name: report.progress(d, t, name))
    return {**stats.to_dict(), "shape": list(fs.X.shape), "feature_shape": list(fs.feature_shape),
            "labels": fs.label_names, "impulse_hash": fs.impulse_hash}


def _impulse(project: Project, p: dict[str, Any], report: Report) -> dict[str, Any]:
    from crisp_eml.workspace.impulse import create_impulse

    v = create_impulse(project, window_size_ms=p["window_size_ms"], window_increase_ms=p["window_increase_ms"],
                       blocks=p["blocks"], layer=p["layer"], message=p["message"], quick=p["quick"],
                       on_progress=lambda d, t, what: report.progress(d, t, what))
    return {"version": v.version, "hash": v.hash, "blocks": [b.type for b in v.spec.blocks]}


def _train(project: Project, p: dict[str, Any], report: Report) -> dict[str, Any]:
    from crisp_eml.workspace.train import train

    def on_epoch(epoch: int, total: int, logs: dict[str, float]) -> None:
        shown = {k: round(float(v), 6) for k, v in logs.items()}
        fold = f"fold {int(logs['fold'])}/{int(logs['folds'])} " if "fold" in logs and "folds" in logs else ""
        report.progress(epoch, total, f"{fold}epoch {epoch}/{total}", metrics=shown)

    return train(project, epochs=p["epochs"], learning_rate=p["learning_rate"], batch_size=p["batch_size"],
                 patience=p["patience"], seed=p["seed"], learning=p["learning"], on_epoch=on_epoch,
                 on_stage=report.log)


def _test(project: Project, p: dict[str, Any], report: Report) -> dict[str, Any]:
    from crisp_eml.workspace.evaluate import test_run

    report.log("testing")
    return test_run(project, run_id=p["run"], variant=p["variant"], uncertain_below=p["uncertain_below"])


def _compile(project: Project, p: dict[str, Any], report: Report) -> dict[str, Any]:
    from crisp_eml.workspace.compile import compile_model
    from crisp_eml.workspace.verify import verify_library

    out = Path(p["out"]) if p["out"] else report.dir / "library"
    report.progress(0, 2 if p["verify"] else 1, "compile")
    r = compile_model(p["model"], out, name=p["name"], vectors=p["vectors"], labels=p["labels"], force=p["force"],
                      project=project, arena_section=p["arena_section"], weights_section=p["weights_section"],
                      optimize=p.get("optimize"))
    result: dict[str, Any] = {"compile": r.to_dict(), "verify": None}
    if not p["verify"]:
        report.progress(1, 1, "compiled")
        return result
    report.progress(1, 2, "verify")
    rep = verify_library(Path(r.out_dir), host=True, target=p["target"],
                         sanitize=p["sanitize"], project=project)
    result["verify"] = rep.to_dict()
    report.progress(2, 2, "verified" if rep.ok else "verification failed")
    if not rep.ok:
        failed = [c.name for c in rep.checks if not c.identical]
        raise VerificationError(f"library {r.name}: outputs differ from the reference: {', '.join(failed)}")
    return result


def _profile(project: Project, p: dict[str, Any], report: Report) -> dict[str, Any]:
    from crisp_eml.workspace.profile import profile

    report.log(f"profiling {p['source']} on {p['target']}")
    return profile(p["source"], p["target"], project=project, optimize=p.get("optimize"))


def _report(project: Project, p: dict[str, Any], report: Report) -> dict[str, Any]:
    from crisp_eml.workspace.report import write_report

    out = Path(p["out"]) if p["out"] else report.dir / "report"
    report.log(f"writing the report to {out}")
    return write_report(project, out, model=p["model"], pdf=p["pdf"])


P = Permission
KINDS: dict[str, Kind] = {k.name: k for k in (
    Kind("features", "generate features for every window (eml features generate)",
         (P.DESIGN_IMPULSE, P.TRAIN), FeaturesParams, _features),
    Kind("impulse", "design the impulse from the data (eml impulse create)", (P.DESIGN_IMPULSE,), ImpulseParams,
         _impulse),
    Kind("train", "train the impulse's learning block (eml train)", (P.TRAIN,), TrainParams, _train),
    Kind("test", "test a run's model on the testing samples (eml test)", (P.TRAIN,), TestParams, _test),
    Kind("compile", "compile a model to a C library and verify it against TFLite Micro (eml compile + verify)",
         (P.COMPILE,), CompileParams, _compile, paths=("out",), uris=("model",)),
    Kind("profile", "RAM, flash and latency on a target (eml profile)", (P.COMPILE,), ProfileParams, _profile,
         uris=("source",)),
    Kind("report", "the project report / model card (eml report)", (), ReportParams, _report, paths=("out",)),
)}


def kind_of(name: str) -> Kind:
    k = KINDS.get(name)
    if k is None:
        raise InputError(f"unknown job kind {name!r}; one of {sorted(KINDS)}", field="kind")
    return k


def _field(loc: tuple[Any, ...]) -> str:
    return ".".join(str(x) for x in ("params", *loc))


def validate(kind: Kind, params: dict[str, Any] | None, *, local: bool = False) -> dict[str, Any]:
    """The job's parameters, complete and checked (an InputError naming the field otherwise).

    ``local``: submitted on this machine by the CLI, so parameters may name files (made absolute here)."""
    if params is not None and not isinstance(params, dict):
        raise InputError("must be a JSON object", field="params")
    try:
        model = kind.params.model_validate(params or {})
    except ValidationError as exc:
        first = exc.errors()[0]
        raise InputError(str(first.get("msg", "invalid value")), field=_field(tuple(first.get("loc", ())))) from exc
    out: dict[str, Any] = json.loads(model.model_dump_json())
    for name in kind.paths:
        if out.get(name) is not None:
            if not local:
                raise InputError("a job submitted over HTTP cannot name a server path; its outputs go to the "
                                 "job's folder", field=f"params.{name}")
            out[name] = str(Path(out[name]).expanduser().resolve())
    for name in kind.uris:
        value = out.get(name)
        if isinstance(value, str) and not value.strip().startswith(MODELS_URI):
            if not local:
                raise InputError(f"must be a registered model URI ({MODELS_URI}NAME@ALIAS or "
                                 f"{MODELS_URI}NAME/VERSION) for a job submitted over HTTP", field=f"params.{name}")
            out[name] = str(Path(value).expanduser().resolve())
    if kind.name == "train":
        from crisp_eml.workspace.train import check_overrides

        try:
            check_overrides(epochs=out["epochs"], learning_rate=out["learning_rate"], batch_size=out["batch_size"],
                            patience=out["patience"])
        except InputError as exc:
            raise InputError(exc.reason, field="params." + (exc.field or "").lstrip("-").replace("-", "_")) from exc
    return out
