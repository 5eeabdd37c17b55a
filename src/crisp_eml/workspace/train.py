"""Use case ``train``: fit the impulse's learning block on the current data and store the run.

Order: permission check, impulse spec, dataset version (``ensure_version``), features, training,
quantization, TFLite Micro tests, report; then the run row, its artifact blobs and the ``learn.train``
audit entry are written in one transaction. A failure before that writes no run (blobs written by a
failed attempt are orphans that ``gc`` removes).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import replace
from typing import Any

from crisp_eml.core.errors import InputError, ProjectError
from crisp_eml.core.features import FeatureSet
from crisp_eml.core.impulse import ImpulseSpec
from crisp_eml.core.personas import Permission
from crisp_eml.learn.blocks import NN_TYPES, LearningBlock, kind_from_blocks, parse_block
from crisp_eml.learn.nn import EpochCallback
from crisp_eml.learn.training_plan import plan_for
from crisp_eml.store.config import CONFIG_NAME
from crisp_eml.store.project import Actor, Project
from crisp_eml.store.tables.learn import RunRow
from crisp_eml.workspace.runs_common import new_run_id, run_dict, sample_names

StageCallback = Callable[[str], None]


#: option name (``eml train --NAME``, with ``_`` for ``-``) -> learning-block parameter it overrides
OVERRIDE_PARAMS = {"epochs": "epochs", "learning_rate": "learning_rate", "batch_size": "batch_size",
                   "patience": "early_stopping_patience"}


def check_overrides(**values: Any) -> dict[str, Any]:
    """Validate the command-line training settings; returns them as learning-block parameters.

    A bad value is an :class:`InputError` naming the option as typed (``--epochs``, ``--learning-rate``,
    ``--batch-size``, ``--patience``) rather than the block parameter it feeds.
    """
    out: dict[str, Any] = {}
    for name, value in values.items():
        key = OVERRIDE_PARAMS[name]
        if value is None:
            continue
        try:
            out[key] = parse_block({"type": "nn-classifier", "params": {key: value}}).params[key]
        except InputError as exc:
            raise InputError(exc.reason, field="--" + name.replace("_", "-")) from exc
    return out


def resolve_block(spec_learning: dict[str, Any] | None, *, learning: str | None = None,
                  overrides: dict[str, Any] | None = None) -> LearningBlock:
    """The impulse's learning block, with a type chosen on the command line and option overrides applied."""
    raw = dict(spec_learning or {})
    params = dict(raw.get("params") or {})
    if learning is not None and learning != raw.get("type"):
        raw = {"type": learning}
        keep = ("epochs", "learning_rate", "batch_size", "early_stopping_patience") if learning in NN_TYPES else ()
        params = {k: v for k, v in params.items() if k in keep}
    params.update({k: v for k, v in (overrides or {}).items() if v is not None})
    raw["params"] = params
    return parse_block(raw)


def int8_drop_warn(config: Mapping[str, Any]) -> float:
    """``[train] int8_drop_warn`` from the project's settings: the float32 -> int8 accuracy loss that warns."""
    from crisp_eml.learn.trainer import INT8_DROP_WARN

    table = config.get("train", {})
    if not isinstance(table, dict):
        raise ProjectError(f"{CONFIG_NAME}: 'train' must be a table ([train]), got {table!r}")
    value = table.get("int8_drop_warn", INT8_DROP_WARN)
    if isinstance(value, bool) or not isinstance(value, int | float) or not 0.0 <= value <= 1.0:
        raise ProjectError(f"{CONFIG_NAME}: [train] int8_drop_warn must be a number from 0 to 1, got {value!r}")
    return float(value)


def train(
    project: Project, *, epochs: int | None = None, learning_rate: float | None = None,
    batch_size: int | None = None, patience: int | None = None, seed: int = 0, learning: str | None = None,
    on_epoch: EpochCallback | None = None, on_stage: StageCallback | None = None,
) -> dict[str, Any]:
    """Train the current impulse; returns the stored run as a dict.

    ``epochs``, ``learning_rate``, ``batch_size`` and ``patience`` (early-stopping patience, 0 = off) override
    the learning block's values for this run; the values used are stored in the run's params.
    """
    actor = project.require(Permission.TRAIN)
    from crisp_eml.workspace.features import generate_features
    from crisp_eml.workspace.impulse import current_impulse
    from crisp_eml.workspace.snapshot import ensure_version

    spec = current_impulse(project)
    overrides = check_overrides(epochs=epochs, learning_rate=learning_rate, batch_size=batch_size, patience=patience)
    block = resolve_block(spec.learning, learning=learning, overrides=overrides)
    if on_stage is not None:
        on_stage("dataset version")
    version = ensure_version(project, "auto (training)")
    if on_stage is not None:
        on_stage("features")
    fs = generate_features(project, spec)
    return train_on_features(project, fs, block, seed=seed, impulse=spec, dataset_version=version,
                             on_epoch=on_epoch, on_stage=on_stage, actor=actor)


def train_on_features(
    project: Project, fs: FeatureSet, block: LearningBlock, *, seed: int = 0, impulse: ImpulseSpec | None = None,
    dataset_version: int | None = None, on_epoch: EpochCallback | None = None,
    on_stage: StageCallback | None = None, actor: Actor | None = None, measure_arena: bool = True,
) -> dict[str, Any]:
    """Train ``block`` on an already computed feature set and store the run (used by :func:`train`)."""
    from crisp_eml.learn.trainer import fit_block, render_report

    actor = actor or project.require(Permission.TRAIN)
    if impulse is not None and block.is_nn and not block.params.get("input_kind"):
        block.params["input_kind"] = kind_from_blocks([b.type for b in impulse.blocks])
    if block.params.get("expert_file"):
        block.params["expert_file"] = str(block.params["expert_file"])
    if len(fs.X) == 0:
        raise InputError("no windows to train on: ingest samples (or check the window size)", field="features")
    train_fs = fs.category("training")
    if block.is_nn and len(train_fs.X):  # settings left on auto, resolved from the data, so the run stores them
        block.params.update(plan_for(train_fs, block).params())
    names = sample_names(project, fs.category("testing").sample_ids)
    outcome = fit_block(fs, block, seed=seed, on_epoch=on_epoch, on_stage=on_stage, measure_arena=measure_arena,
                        sample_names=names, int8_drop_warn=int8_drop_warn(project.config))
    run_id = new_run_id()
    spec_dict = replace(impulse, learning=block.to_dict()).to_dict() if impulse is not None else None
    run_info = {"id": run_id, "learning_type": block.type, "seed": seed, "dataset_version": dataset_version,
                "impulse_hash": impulse.hash if impulse is not None else fs.impulse_hash}
    artifacts = dict(outcome.artifacts)
    artifacts["report.html"] = render_report(run_info, outcome)
    digests = {name: project.blobs.put(data) for name, data in artifacts.items()}
    with project.session() as s:
        row = RunRow(id=run_id, status="finished", learning_type=block.type, params=outcome.params,
                     impulse_hash=run_info["impulse_hash"], impulse_spec=spec_dict,
                     dataset_version_id=dataset_version, metrics=outcome.metrics, artifacts=digests,
                     seed=int(seed), author=actor.name)
        s.add(row)
        s.flush()
        project.record(s, "learn.train", {"run": run_id, "impulse_hash": row.impulse_hash,
                                          "dataset_version": dataset_version, **digests}, actor=actor)
        return run_dict(row)
