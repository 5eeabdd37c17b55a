"""'Done means' for the image path through the CLI, on the synthetic shapes dataset.

synth (32x32 RGB PNGs) -> ingest -> ``eml impulse create`` (image input + ``image`` block by default) ->
features -> ``eml train`` (default small CNN) -> ``eml test`` (int8 in TFLite Micro) -> ``eml models
register`` -> ``eml compile --model models:/...`` -> ``eml verify --host`` (bit-exact vs TFLite Micro),
then the library's own image DSP step (``<name>_dsp.c``) compiled with gcc reproduces the Python features
of real pictures within 1e-4.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "golden"))
from dsp_c_helpers import HARNESS, WARN, assert_twin_close, tool  # noqa: E402

pytestmark = pytest.mark.slow


def _ok(run_cli, args, cwd):  # type: ignore[no-untyped-def]
    code, out, err = run_cli(args, cwd=cwd)
    assert code == 0, f"eml {' '.join(args)} -> {code}\n{out}\n{err}"
    return out


def test_shapes_synth_to_verified_c_library(run_cli, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    shapes, root = tmp_path / "shapes", tmp_path / "proj"
    made = json.loads(_ok(run_cli, ["data", "synth", str(shapes), "--kind", "shapes", "--size", "40", "--json"],
                          tmp_path))
    assert len(made["files"]) == 160 and (shapes / "circle.001.png").is_file()
    _ok(run_cli, ["init", str(root), "--member", "tester"], tmp_path)
    _ok(run_cli, ["ingest", str(shapes), "--json"], root)

    imp = json.loads(_ok(run_cli, ["impulse", "create", "--json"], root))
    spec = imp["spec"]
    assert spec["input"] == {"type": "image", "width": 32, "height": 32, "resize_mode": "squash", "channels": "RGB"}
    assert [b["type"] for b in spec["blocks"]] == ["image"]
    feats = json.loads(_ok(run_cli, ["features", "generate", "--json"], root))
    assert feats["feature_shape"] == [32, 32, 3] and feats["windows"] == 160

    run = json.loads(_ok(run_cli, ["train", "--json"], root))
    assert run["metrics"]["input_kind"] == "image"
    assert any(layer["type"] == "conv2d" for layer in run["params"]["layers"])  # the default small CNN
    i8 = json.loads(_ok(run_cli, ["test", "--variant", "int8", "--json"], root))
    f32 = json.loads(_ok(run_cli, ["test", "--variant", "float32", "--json"], root))
    assert i8["labels"] == ["circle", "empty", "square", "triangle"] and i8["windows"] >= 20
    assert i8["accuracy"] >= 0.85, i8["confusion_matrix"]
    assert abs(i8["accuracy"] - f32["accuracy"]) <= 0.05, (f32["accuracy"], i8["accuracy"])

    _ok(run_cli, ["models", "register", "shapes", "--run", run["id"]], root)
    lib = tmp_path / "lib"
    _ok(run_cli, ["compile", "--model", "models:/shapes/1", "-o", str(lib), "--vectors", "4"], root)
    assert (lib / "src" / "shapes_dsp.c").is_file(), sorted(p.name for p in (lib / "src").iterdir())
    verdict = json.loads(_ok(run_cli, ["verify", str(lib), "--host", "--json"], root))
    assert "host-gcc-vs-tflm" in json.dumps(verdict)

    # the library's DSP step on the device-side frames (already 32x32) == the Python image block
    from crisp_eml.core.impulse import ImpulseSpec, windows_for
    from crisp_eml.data.formats.image import parse_image
    from crisp_eml.dsp.pipeline import apply_impulse

    ispec = ImpulseSpec.from_dict(spec)
    frames = np.concatenate([windows_for(ispec, parse_image(p.read_bytes(), p.name).array)
                             for p in sorted(shapes.glob("*.00[1-3].png"))])
    work = tmp_path / "twin"
    work.mkdir()
    (work / "twin_dsp.h").write_text('#include "shapes_dsp.h"\n#define TWIN_DSP_INPUT_LEN SHAPES_DSP_INPUT_LEN\n'
                                     "#define TWIN_DSP_N_FEATURES SHAPES_DSP_N_FEATURES\n#define twin_dsp shapes_dsp\n"
                                     "#define TWIN_DSP_ERR_LENGTH SHAPES_DSP_ERR_LENGTH\n"
                                     "#define TWIN_DSP_ERR_NULL SHAPES_DSP_ERR_NULL\n")
    (work / "main.c").write_text(HARNESS)
    exe = work / "twin"
    r = subprocess.run([tool("gcc"), *WARN, "-O2", "-I", str(lib / "src"), "-I", str(work), "-o", str(exe),
                        str(work / "main.c"), str(lib / "src" / "shapes_dsp.c"), "-lm"], capture_output=True, text=True)
    assert r.returncode == 0, r.stderr
    frames.astype(np.float32).tofile(work / "in.bin")
    r = subprocess.run([str(exe), str(work / "in.bin"), str(work / "out.bin")], capture_output=True, text=True)
    assert r.returncode == 0, r.stderr
    c_out = np.fromfile(work / "out.bin", dtype=np.float32).reshape(len(frames), -1)
    assert_twin_close(c_out, apply_impulse(ispec, frames))
