"""``eml models import`` attaches the project's impulse only when its feature count matches the model's inputs,
and ``eml compile`` refuses a model whose impulse disagrees with it (its C would not build)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from conftest import MLPERF_TINY

AD01 = MLPERF_TINY / "ad01_int8.tflite"  # int8, input [1, 640]


def _impulse(project: Any, window: int) -> str:
    """Save a current impulse of ``window`` raw features (1 axis at 1 kHz, a raw block); its hash."""
    from crisp_eml.core.impulse import ImpulseSpec
    from crisp_eml.workspace.impulse import save_impulse

    spec = ImpulseSpec.from_dict({"input": {"type": "time-series", "window_size_ms": window, "frequency_hz": 1000,
                                            "axes": ["x"]}, "blocks": [{"type": "raw"}]})
    return str(save_impulse(project, spec, action="impulse.create").spec.hash)


def test_import_skips_an_impulse_of_another_feature_count(run_cli, project) -> None:  # type: ignore[no-untyped-def]
    _impulse(project, 100)  # 100 features, the model takes 640
    code, stdout, err = run_cli(["models", "import", str(AD01), "--name", "ad", "--task", "regression", "--json"],
                                cwd=project.root)
    assert code == 0, err
    res = json.loads(stdout)
    assert res["impulse_hash"] is None
    assert "not attached" in res["impulse_note"] and "100 features" in res["impulse_note"] and "640" in \
        res["impulse_note"]
    code, _, err = run_cli(["models", "import", str(AD01), "--name", "ad", "--task", "regression"],
                           cwd=project.root)
    assert code == 0 and "note: the current impulse was not attached" in err
    out = project.root.parent / "lib"  # a features-in library: builds, no DSP step, no #error
    code, _, err = run_cli(["compile", "--model", "models:/ad/1", "-o", str(out), "--vectors", "1"],
                           cwd=project.root)
    assert code == 0, err
    text = (out / "src" / "ad.c").read_text()
    assert "#error" not in text and not list((out / "src").glob("*_dsp.c"))


def test_import_attaches_a_matching_impulse(project) -> None:  # type: ignore[no-untyped-def]
    from crisp_eml.workspace.import_model import import_model

    want = _impulse(project, 640)
    res = import_model(project, AD01, "ad", task="regression")
    assert res["impulse_hash"] == want and res["impulse_note"] is None


def test_compile_refuses_a_model_whose_impulse_disagrees(  # type: ignore[no-untyped-def]
        run_cli, project, tmp_path: Path) -> None:
    """A model registered with a mismatched impulse (as older versions did) is refused, nothing written."""
    from sqlalchemy import update

    from crisp_eml.store.tables.learn import RunRow
    from crisp_eml.workspace.import_model import import_model
    from crisp_eml.workspace.impulse import current_impulse

    res = import_model(project, AD01, "ad", task="regression")  # before the impulse: none attached
    _impulse(project, 100)
    spec = current_impulse(project)
    with project.session() as s:
        s.execute(update(RunRow).where(RunRow.id == res["run"]).values(impulse_hash=spec.hash,
                                                                       impulse_spec=spec.to_dict()))
    out = tmp_path / "lib"
    code, _, err = run_cli(["compile", "--model", "models:/ad/1", "-o", str(out)], cwd=project.root)
    assert code == 2, err
    assert "field 'model'" in err and "100 features" in err and "640 inputs" in err
    assert not out.exists()
