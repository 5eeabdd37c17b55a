"""Quality bar on the espeak-ng keyword dataset (CLI): int8 in TFLite Micro >= 0.90, within one testing
window (or 1 point) of float32.

Nothing is shrunk: the default audio impulse (``eml impulse create`` on 1 s, 16 kHz WAVs
-> MFCC 50x13 or MFE, whichever cross-validates better), the default learning block (DS-CNN, default
epochs/learning rate/early stopping) and the same
dataset size as the figure in docs/learn.md (100 clips per class = 400 clips, about 70 testing windows). About
40-60 s on 2 cores. A smaller set (60 per class, 46 testing windows) was tried and rejected: one int8 flip is
then 2.2 points, and seeds 0-3 ranged 0.88-1.00. espeak-ng is a test dependency (``make test`` installs it as
root): missing means FAIL.
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest
from cli_helpers import cli_ok

pytestmark = pytest.mark.slow

CLIPS_PER_CLASS = 100
SEED = 0


def test_keywords_default_impulse_reaches_090_int8(run_cli, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    if shutil.which("espeak-ng") is None:
        pytest.fail("espeak-ng is not installed: the keyword quality test needs it "
                    "(run 'make test' as root, or apt-get install espeak-ng)")
    data = tmp_path / "keywords"
    cli_ok(run_cli, ["data", "synth", str(data), "--kind", "keywords", "--size", str(CLIPS_PER_CLASS),
                  "--seed", str(SEED)], tmp_path)
    assert len(list(data.glob("*.wav"))) == 4 * CLIPS_PER_CLASS
    root = tmp_path / "proj"
    cli_ok(run_cli, ["init", str(root), "--member", "tester"], tmp_path)
    cli_ok(run_cli, ["ingest", str(data), "--json"], root)
    spec = json.loads(cli_ok(run_cli, ["impulse", "create", "--json"], root))
    assert [b["type"] for b in spec["spec"]["blocks"]] in (["mfcc"], ["mfe"])  # chosen by cross-validation
    assert spec["spec"]["learning"]["type"] == "nn-classifier"  # filled for the feature shape

    run = json.loads(cli_ok(run_cli, ["train", "--json", "--seed", str(SEED)], root))
    m = run["metrics"]
    assert m["input_kind"] == "spectrogram" and m["labels"] == ["no", "noise", "unknown", "yes"]
    assert any(layer["type"] == "ds-conv2d" for layer in run["params"]["layers"])  # the default DS-CNN
    assert m["windows"]["testing"] >= 60, m["windows"]
    f32, i8 = m["test"]["float32"]["accuracy"], m["test"]["int8"]["accuracy"]
    assert i8 >= 0.90, f"int8 accuracy in TFLite Micro {i8:.4f} < 0.90 (float32 {f32:.4f})"
    # int8 may flip one testing window against float32 (1/75 = 1.3 points here): training on 2 shared cores has
    # been seen to land on either side of that window (0.9467 vs 0.9333), the quantisation loss is not larger.
    one_window = 1.0 / m["windows"]["testing"]
    assert abs(f32 - i8) <= max(0.01, one_window) + 1e-9, (f32, i8)
    assert m["model"]["int8"]["input"]["dtype"] == "int8"
