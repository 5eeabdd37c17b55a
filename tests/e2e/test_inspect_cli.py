"""``eml inspect``: tables and JSON for an int8 model; clear errors for bad files."""

from __future__ import annotations

import json
from pathlib import Path

from conftest import SHARED

KWS = SHARED / "models" / "mlperf-tiny" / "kws_ref_model.tflite"


def test_inspect_json(run_cli) -> None:  # type: ignore[no-untyped-def]
    code, out, err = run_cli(["inspect", str(KWS), "--json"])
    assert code == 0, err
    info = json.loads(out)
    assert info["name"] == "kws_ref_model" and info["file_bytes"] == KWS.stat().st_size
    assert [o["type"] for o in info["ops"]][-2:] == ["FULLY_CONNECTED", "SOFTMAX"]
    assert info["inputs"][0]["shape"] == [1, 49, 10, 1]
    assert info["inputs"][0]["quantization"] == {"scale": info["inputs"][0]["quantization"]["scale"],
                                                 "zero_point": 83}
    plan = info["plan"]
    assert plan["arena_bytes"] < plan["greedy_bytes"] == 16000
    assert len(plan["offsets"]) == sum(1 for t in info["tensors"] if not t["constant"])


def test_inspect_table_with_tensors(run_cli) -> None:  # type: ignore[no-untyped-def]
    code, out, err = run_cli(["inspect", str(KWS), "--tensors"])
    assert code == 0, err
    assert "DEPTHWISE_CONV_2D" in out and "arena" in out and "input_1" in out


def test_inspect_rejects_non_models(run_cli, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    bad = tmp_path / "notes.tflite"
    bad.write_text("not a model")
    code, out, err = run_cli(["inspect", str(bad)])
    assert code == 2 and "notes.tflite" in err and "TFL3" in err and "Traceback" not in err
    code, out, err = run_cli(["inspect", str(tmp_path / "missing.tflite")])
    assert code == 2 and "cannot read model" in err
