"""crisp-eml: a local-first platform for the whole embedded-ML lifecycle (CRISP-EML).

The curated public API lives in ``__all__``; everything else is an implementation detail that may
change. Names are resolved lazily (module ``__getattr__``, PEP 562), so ``import crisp_eml`` stays
light: no TensorFlow, no SQLAlchemy models, no NumPy until a name is used. Heavy dependencies
(TensorFlow, tflite-micro) are imported only inside the functions that need them.

    >>> import crisp_eml
    >>> project = crisp_eml.Project.open("my-project")          # doctest: +SKIP
    >>> crisp_eml.ingest_paths(project, ["data/"])              # doctest: +SKIP
"""

from __future__ import annotations

from importlib import import_module
from typing import TYPE_CHECKING, Any

from crisp_eml.core.errors import EmlError

__version__ = "0.1.0"

# public name -> (module, attribute); attribute None means the module itself
_LAZY: dict[str, tuple[str, str | None]] = {
    # errors
    "errors": ("crisp_eml.core.errors", None),
    "InputError": ("crisp_eml.core.errors", "InputError"),
    "NotFoundError": ("crisp_eml.core.errors", "NotFoundError"),
    "ConflictError": ("crisp_eml.core.errors", "ConflictError"),
    "ProjectError": ("crisp_eml.core.errors", "ProjectError"),
    "PermissionDeniedError": ("crisp_eml.core.errors", "PermissionDeniedError"),
    "ToolMissingError": ("crisp_eml.core.errors", "ToolMissingError"),
    "VerificationError": ("crisp_eml.core.errors", "VerificationError"),
    # store and domain entities
    "Project": ("crisp_eml.store.project", "Project"),
    "Sample": ("crisp_eml.core.sample", "Sample"),
    "ImpulseSpec": ("crisp_eml.core.impulse", "ImpulseSpec"),
    "FeatureSet": ("crisp_eml.core.features", "FeatureSet"),
    "Graph": ("crisp_eml.core.graph", "Graph"),
    # data acquisition & understanding
    "ingest_paths": ("crisp_eml.workspace.ingest", "ingest_paths"),
    "snapshot": ("crisp_eml.workspace.snapshot", "snapshot"),
    "check_dataset": ("crisp_eml.workspace.check", "check_dataset"),
    # model development
    "create_impulse": ("crisp_eml.workspace.impulse", "create_impulse"),
    "generate_features": ("crisp_eml.workspace.features", "generate_features"),
    "train": ("crisp_eml.workspace.train", "train"),
    "evaluate_run": ("crisp_eml.workspace.evaluate", "test_run"),
    "register_model": ("crisp_eml.workspace.registry", "register_model"),
    "set_alias": ("crisp_eml.workspace.registry", "set_alias"),
    "resolve_model": ("crisp_eml.workspace.model_resolution", "resolve_model"),
    # development & testing
    "compile_model": ("crisp_eml.workspace.compile", "compile_model"),
    "verify_library": ("crisp_eml.workspace.verify", "verify_library"),
    "profile": ("crisp_eml.workspace.profile", "profile"),
    "set_requirements": ("crisp_eml.workspace.requirements", "set_requirements"),
    "run_gate": ("crisp_eml.workspace.gate", "run_gate"),
    # deployment & reporting
    "deploy": ("crisp_eml.workspace.deploy", "deploy"),
    "write_report": ("crisp_eml.workspace.report", "write_report"),
    # compiler core (pure)
    "read_tflite": ("crisp_eml.compiler.reader", "read_tflite"),
    "run_reference": ("crisp_eml.compiler.reference", "run_reference"),
    "plan_memory": ("crisp_eml.compiler.planner", "plan_memory"),
}

__all__ = [  # kept literal so linters and IDEs see it; tests check it matches _LAZY
    "EmlError", "__version__",
    "errors", "InputError", "NotFoundError", "ConflictError", "ProjectError", "PermissionDeniedError",
    "ToolMissingError", "VerificationError",
    "Project", "Sample", "ImpulseSpec", "FeatureSet", "Graph",
    "ingest_paths", "snapshot", "check_dataset",
    "create_impulse", "generate_features", "train", "evaluate_run", "register_model", "set_alias", "resolve_model",
    "compile_model", "verify_library", "profile", "set_requirements", "run_gate",
    "deploy", "write_report",
    "read_tflite", "run_reference", "plan_memory",
]

if TYPE_CHECKING:  # static checkers see the real objects
    from crisp_eml.compiler.planner import plan_memory
    from crisp_eml.compiler.reader import read_tflite
    from crisp_eml.compiler.reference import run_reference
    from crisp_eml.core import errors
    from crisp_eml.core.errors import (
        ConflictError,
        InputError,
        NotFoundError,
        PermissionDeniedError,
        ProjectError,
        ToolMissingError,
        VerificationError,
    )
    from crisp_eml.core.features import FeatureSet
    from crisp_eml.core.graph import Graph
    from crisp_eml.core.impulse import ImpulseSpec
    from crisp_eml.core.sample import Sample
    from crisp_eml.store.project import Project
    from crisp_eml.workspace.check import check_dataset
    from crisp_eml.workspace.compile import compile_model
    from crisp_eml.workspace.deploy import deploy
    from crisp_eml.workspace.evaluate import test_run as evaluate_run
    from crisp_eml.workspace.features import generate_features
    from crisp_eml.workspace.gate import run_gate
    from crisp_eml.workspace.impulse import create_impulse
    from crisp_eml.workspace.ingest import ingest_paths
    from crisp_eml.workspace.model_resolution import resolve_model
    from crisp_eml.workspace.profile import profile
    from crisp_eml.workspace.registry import register_model, set_alias
    from crisp_eml.workspace.report import write_report
    from crisp_eml.workspace.requirements import set_requirements
    from crisp_eml.workspace.snapshot import snapshot
    from crisp_eml.workspace.train import train
    from crisp_eml.workspace.verify import verify_library


def __getattr__(name: str) -> Any:
    """Import a public name on first use (PEP 562) and cache it on the package."""
    try:
        module_name, attr = _LAZY[name]
    except KeyError:
        raise AttributeError(f"module 'crisp_eml' has no attribute {name!r}") from None
    module = import_module(module_name)
    value = module if attr is None else getattr(module, attr)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(__all__))
