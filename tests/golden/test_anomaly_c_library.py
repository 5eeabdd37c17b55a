"""The anomaly library without a DSP step in C (``<name>_run`` takes features): GMM (full covariances) and
K-means libraries built with gcc -Werror and checked by ``verify_library`` against the Python model; a wrong
feature count is refused with the status code, and a drifted threshold is caught. With the DSP step in C, a
wrong raw window length is the same input size error.
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import numpy as np
import pytest

from crisp_eml.compiler.anomaly_lib import render_anomaly_library
from crisp_eml.compiler.anomaly_verify import ANOMALY_JSON, RAW
from crisp_eml.compiler.build import write_tree
from crisp_eml.compiler.verify import verify_library
from crisp_eml.core.errors import InputError
from crisp_eml.learn.anomaly import fit_anomaly


def _library(tmp_path: Path, kind: str, params: dict[str, object]) -> tuple[Path, dict[str, object], np.ndarray]:
    rng = np.random.default_rng(7)
    scale = rng.uniform(0.5, 10.0, 8)
    model = fit_anomaly(rng.standard_normal((200, 8)) * scale, kind, params, seed=0,
                        groups=np.repeat(np.arange(20), 10)).to_dict()
    feats = np.vstack([rng.standard_normal((20, 8)) * scale, rng.standard_normal((20, 8)) * scale * 3]).astype(
        np.float32)
    spec = {"input": {"type": "time-series", "window_size_ms": 1000, "frequency_hz": 10, "axes": ["x"]},
            "blocks": [{"type": "no-such-block"}]}  # no C twin: the library takes features
    files = render_anomaly_library(model, name="ad", dsp=spec)
    lib = tmp_path / kind
    write_tree(files, lib)
    (lib / "tests").mkdir()
    (lib / RAW).write_bytes(feats.tobytes())
    (lib / ANOMALY_JSON).write_text(json.dumps(model))
    return lib, model, feats


@pytest.mark.parametrize(("kind", "params"), [("gmm", {"components": 2, "covariance": "full"}),
                                              ("kmeans", {"clusters": 4})])
def test_feature_input_library_matches_python(kind: str, params: dict[str, object], tmp_path: Path) -> None:
    lib, model, _ = _library(tmp_path, kind, params)
    manifest = json.loads((lib / "MANIFEST.json").read_text())
    assert manifest["kind"] == "anomaly" and manifest["dsp_in_c"] is False and "no-such-block" in manifest["dsp_note"]
    assert manifest["inputs"][0]["shape"] == [8] and manifest["threshold"] == pytest.approx(model["threshold"])
    assert "target_link_libraries(ad PUBLIC m)" in (lib / "CMakeLists.txt").read_text()
    rep = verify_library(lib, host=True, sanitize=True)
    assert rep.ok, rep.to_dict()
    detail = rep.checks[0].detail
    assert detail["max_rel_score_diff"] <= 1e-4 and 0 < detail["anomalies_python"] < 40
    with pytest.raises(InputError, match="no-such-board"):
        verify_library(lib, host=False, target="no-such-board")


@pytest.mark.parametrize(("kind", "params"), [("gmm", {"components": 2, "covariance": "full"}),
                                              ("kmeans", {"clusters": 4})])
def test_feature_input_library_on_cortex_m4(kind: str, params: dict[str, object], tmp_path: Path) -> None:
    """The same windows on the emulated Cortex-M4 (hard-float build, QEMU): scores within 1e-4, with a count."""
    for name in ("arm-none-eabi-gcc", "qemu-system-arm"):
        if shutil.which(name) is None:
            pytest.fail(f"{name} is required for the Cortex-M4 tests (make setup installs it)")
    lib, _, _ = _library(tmp_path, kind, params)
    rep = verify_library(lib, host=False, target="cortex-m4")
    assert rep.ok and [c.name for c in rep.checks] == ["cortex-m4-qemu-vs-python"], rep.to_dict()
    detail = rep.checks[0].detail
    assert rep.checks[0].vectors == 40 and detail["max_rel_score_diff"] <= 1e-4
    assert 0 < detail["anomalies_c"] < 40 and detail["instructions_per_inference"] > 100
    assert detail["sizes"]["rodata"] > 0

    # a moved threshold on the Python side must be caught on the device path too
    model = json.loads((lib / ANOMALY_JSON).read_text())
    from crisp_eml.compiler.anomaly_verify import python_scores

    scores = python_scores(model, None, False, np.frombuffer((lib / RAW).read_bytes(), np.float32).reshape(-1, 8))
    model["threshold"] = float(np.median(scores))
    (lib / ANOMALY_JSON).write_text(json.dumps(model))
    rep = verify_library(lib, host=False, target="cortex-m4")
    assert not rep.ok and rep.checks[0].mismatched_bytes > 0


def test_drifted_threshold_is_caught(tmp_path: Path) -> None:
    lib, model, _ = _library(tmp_path, "kmeans", {"clusters": 4})
    # the Python side moves its threshold; the C keeps the compiled one: decisions must differ somewhere
    from crisp_eml.compiler.anomaly_verify import python_scores

    scores = python_scores(model, None, False, np.frombuffer((lib / RAW).read_bytes(), np.float32).reshape(-1, 8))
    model["threshold"] = float(np.median(scores))
    (lib / ANOMALY_JSON).write_text(json.dumps(model))
    rep = verify_library(lib, host=True, sanitize=False)
    assert not rep.ok and rep.checks[0].mismatched_bytes > 0


def test_dsp_library_wrong_raw_length_is_an_input_size_error(tmp_path: Path) -> None:
    """With the DSP step in C, a wrong raw length is ERR_INPUT_SIZE (it was ERR_DSP), checked before the DSP."""
    import subprocess

    from crisp_eml.compiler.build import WARNINGS, tool
    from crisp_eml.core.impulse import ImpulseSpec
    from crisp_eml.dsp.pipeline import n_features

    spec = {"input": {"type": "time-series", "window_size_ms": 2000, "frequency_hz": 10, "axes": ["x", "y"]},
            "blocks": [{"type": "spectral-analysis", "params": {"fft-length": 16}}, {"type": "flatten"}]}
    n = n_features(ImpulseSpec.from_dict(spec))
    rng = np.random.default_rng(3)
    model = fit_anomaly(rng.standard_normal((60, n)), "kmeans", {"clusters": 2}, seed=0,
                        groups=np.repeat(np.arange(6), 10)).to_dict()
    files = render_anomaly_library(model, name="ad", dsp=spec)
    assert "src/ad_dsp.c" in files
    write_tree(files, tmp_path / "lib")
    (tmp_path / "main.c").write_text(r"""
#include "ad.h"
int main(void)
{
    static float raw[AD_RAW_INPUT_LEN];
    ad_result_t res;
    if (ad_init() != AD_OK) { return 2; }
    if (ad_run(raw, 3, &res) != AD_ERR_INPUT_SIZE) { return 3; }
    if (ad_run(raw, AD_RAW_INPUT_LEN + 1, &res) != AD_ERR_INPUT_SIZE) { return 4; }
    return ad_run(raw, AD_RAW_INPUT_LEN, &res) == AD_OK ? 0 : 5;
}
""")
    srcs = [str(p) for p in sorted((tmp_path / "lib" / "src").glob("*.c"))]
    r = subprocess.run([tool("gcc"), *WARNINGS, "-O1", f"-I{tmp_path / 'lib' / 'src'}", *srcs,
                        str(tmp_path / "main.c"), "-o", str(tmp_path / "run"), "-lm"], capture_output=True, text=True)
    assert r.returncode == 0, r.stderr
    assert subprocess.run([str(tmp_path / "run")]).returncode == 0
