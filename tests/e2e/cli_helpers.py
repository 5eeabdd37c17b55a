"""What many end-to-end tests share: run one ``eml`` command that must succeed, with a failure message that shows
the command and the tail of its output (pytest puts this folder on ``sys.path``, as for the golden helpers)."""

from __future__ import annotations

from pathlib import Path
from typing import Any


def add_sine_samples(project: Any, *, slow_offset: float = 0.0) -> None:
    """Eight two-axis recordings at 20 Hz (6 s): "slow" 1 Hz (shifted by ``slow_offset``) and "fast" 6 Hz sines
    with a little noise, the first six training, the last two testing."""
    import numpy as np

    from crisp_eml.core.sample import Sensor
    from crisp_eml.data.samples import add_sample

    rng = np.random.default_rng(0)
    t = np.arange(120) / 20.0
    with project.session() as s:
        for i in range(8):
            label = "slow" if i % 2 else "fast"
            f = 1.0 if label == "slow" else 6.0
            x = np.stack([np.sin(2 * np.pi * f * t) + (slow_offset if label == "slow" else 0.0),
                          np.cos(2 * np.pi * f * t)], axis=1)
            x = (x + 0.1 * rng.standard_normal(x.shape)).astype(np.float32)
            add_sample(project, s, x, name=f"s{i}", label=label, category="training" if i < 6 else "testing",
                       kind="timeseries", sensors=[Sensor("ax"), Sensor("ay")], frequency_hz=20.0, source="test")


def register_once(run_cli: Any, monkeypatch: Any) -> Any:
    """``run_cli`` with the sub-commands registered once for this test: ``main()`` registers them on every call,
    which makes many calls in one process slower and slower."""
    import crisp_eml.cli.main as main_mod

    main_mod._register()
    monkeypatch.setattr(main_mod, "_register", lambda: None)
    return run_cli


def init_project(run_cli: Any, tmp_path: Path) -> Path:
    """``eml init`` of ``tmp_path/proj`` with the member ``tester``; its path."""
    code, _, err = run_cli(["init", str(tmp_path / "proj"), "--member", "tester"])
    assert code == 0, err
    return tmp_path / "proj"


def cli_ok(run_cli: Any, args: list[str], cwd: Path) -> str:
    """stdout of ``eml ARGS`` run in ``cwd`` through the ``run_cli`` fixture; fails the test on a non-zero exit."""
    code, out, err = run_cli(args, cwd=cwd)
    assert code == 0, f"eml {' '.join(args)} -> {code}\n{out[-3000:]}\n{err[-3000:]}"
    return str(out)


def basic_motions_project(run_cli: Any, tmp_path: Path, basic_motions: Path) -> Path:
    """A fresh project (member ``tester``) with basic-motions ingested and the default impulse created."""
    assert basic_motions.is_dir(), f"test data missing: {basic_motions}"
    root = tmp_path / "proj"
    cli_ok(run_cli, ["init", str(root), "--member", "tester"], tmp_path)
    cli_ok(run_cli, ["ingest", str(basic_motions), "--json"], root)
    cli_ok(run_cli, ["impulse", "create", "--quick"], root)  # the sliding-window guess
    return root


def imported_model_project(run_cli: Any, tmp_path: Path, model: Path, name: str) -> Path:
    """A fresh project (member ``alice``) with ``model`` registered as ``models:/NAME/1`` (regression task)."""
    root = tmp_path / name
    cli_ok(run_cli, ["init", str(root), "--member", "alice"], tmp_path)
    cli_ok(run_cli, ["models", "import", str(model), "--name", name, "--task", "regression"], root)
    return root
