"""The uniform model API (``runtime/glue.py``) over the three library shapes: a features-in classifier (MLPerf
Tiny KWS), an anomaly scorer that takes features and one with its DSP step in C. Checked through the ctypes
engine: the glue's static data (labels with awkward characters, the .eim hello fields) reads back exactly, the
anomaly scores are the library's, and the stream driver's windows are the ones the semantics promise.
"""

from __future__ import annotations

import ctypes
import json
from pathlib import Path

import numpy as np
import pytest

from crisp_eml.compiler.anomaly_lib import render_anomaly_library
from crisp_eml.compiler.anomaly_verify import python_scores
from crisp_eml.compiler.build import write_tree
from crisp_eml.core.errors import InputError
from crisp_eml.core.postprocess import PostprocessConfig
from crisp_eml.learn.anomaly import fit_anomaly
from crisp_eml.runtime.engine import Engine
from crisp_eml.runtime.glue import model_shape, render_glue
from crisp_eml.workspace.compile import compile_model

KWS = Path(__file__).resolve().parents[2].parent / "shared" / "models" / "mlperf-tiny" / "kws_ref_model.tflite"
LABELS = ['say "yes"', "back\\slash", "Grüße", "??=trigraph", "noise", *[f"k{i}" for i in range(7)]]


@pytest.fixture(scope="module")
def kws_lib(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("glue") / "kws"
    compile_model(str(KWS), out, name="kws", vectors=0, labels=LABELS, use_project=False)
    return out


def _text(e: Engine, symbol: str) -> str:
    """A ``const char x[]`` of the loaded library (an array, not a pointer)."""
    return ctypes.string_at(ctypes.addressof(ctypes.c_char.in_dll(e.lib, symbol))).decode()


def _anomaly(tmp: Path, spec: dict[str, object], n: int) -> tuple[Path, dict[str, object]]:
    rng = np.random.default_rng(5)
    model = fit_anomaly(rng.standard_normal((80, n)), "kmeans", {"clusters": 3}, seed=0,
                        groups=np.repeat(np.arange(8), 10)).to_dict()
    write_tree(render_anomaly_library(model, name="ad", dsp=spec), tmp / "ad")
    return tmp / "ad", model


def test_classifier_glue_reads_back_exactly(kws_lib: Path) -> None:
    shape = model_shape(kws_lib)
    assert (shape.labels, shape.raw_len, shape.n_axes, shape.slice_rows) == (tuple(LABELS), 490, 1, 122)
    with Engine(kws_lib) as e:
        labels = (ctypes.c_char_p * 12).in_dll(e.lib, "eml_model_labels")
        assert [bytes(x or b"").decode() for x in labels] == LABELS
        params = json.loads("{" + _text(e, "eml_model_parameters_json") + "}")
        assert params["labels"] == LABELS and params["label_count"] == 12 and params["has_anomaly"] == 0
        assert params["input_features_count"] == 490 and params["model_type"] == "classification"
        project = json.loads(_text(e, "eml_model_project_json"))
        assert project["name"] == "kws"
        # the default post-processing: "noise" is never detected, every other label at 0.6
        th = list((ctypes.c_float * 12).in_dll(e.lib, "eml_pp_thresholds"))
        assert th[4] == 2.0 and th[0] == pytest.approx(0.6)
        out = e.classify(np.zeros(490, np.float32))
        assert out.codes.shape == (12,) and out.label_index == int(np.argmax(out.codes))
        with pytest.raises(InputError, match="input"):
            e.classify(np.zeros(489, np.float32))


def test_glue_refuses_settings_that_do_not_fit(kws_lib: Path, tmp_path: Path) -> None:
    with pytest.raises(InputError, match="thresholds"):
        render_glue(kws_lib, postprocess=PostprocessConfig(2, (0.5, 0.5), 1))
    with pytest.raises(InputError, match="slices_per_window"):
        render_glue(kws_lib, slices_per_window=491)
    with pytest.raises(InputError, match="MANIFEST"):
        render_glue(tmp_path)


def test_anomaly_scorer_taking_features(tmp_path: Path) -> None:
    spec = {"input": {"type": "time-series", "window_size_ms": 1000, "frequency_hz": 10, "axes": ["x"]},
            "blocks": [{"type": "no-such-block"}]}
    lib, model = _anomaly(tmp_path, spec, 6)
    shape = model_shape(lib)
    assert not shape.is_classifier and shape.raw_len == 6 and shape.labels == ()
    feats = np.random.default_rng(1).standard_normal((10, 6)).astype(np.float32) * 3
    with Engine(lib) as e:
        got = np.array([e.classify(f).anomaly for f in feats])
        params = json.loads("{" + _text(e, "eml_model_parameters_json") + "}")
    assert params["has_anomaly"] == 1 and params["label_count"] == 0
    want = python_scores(model, None, False, feats)
    np.testing.assert_allclose(got, want, rtol=1e-4)


def test_stream_windows_of_a_dsp_anomaly_scorer(tmp_path: Path) -> None:
    """Windows every SLICE_ROWS rows once the first is full, each scored as classify() scores it alone."""
    from crisp_eml.core.impulse import ImpulseSpec
    from crisp_eml.dsp.pipeline import n_features

    spec = {"input": {"type": "time-series", "window_size_ms": 2000, "frequency_hz": 10, "axes": ["x", "y"]},
            "blocks": [{"type": "spectral-analysis", "params": {"fft-length": 16}}, {"type": "flatten"}]}
    lib, _ = _anomaly(tmp_path, spec, n_features(ImpulseSpec.from_dict(spec)))
    shape = model_shape(lib)
    assert (shape.n_axes, shape.window_rows, shape.slice_rows, shape.frequency_hz) == (2, 20, 5, 10.0)
    rows = np.random.default_rng(2).standard_normal((97, 2)).astype(np.float32)
    with Engine(lib) as e:
        whole = e.stream(rows)
        s = e.open_stream()
        parts = [s.push(rows[i:i + 7]) for i in range(0, 97, 7)]  # arbitrary chunking gives the same windows
        alone = [e.classify(rows[int(end) - 20:int(end)]).anomaly for end in whole.end_rows]
    assert whole.end_rows.tolist() == list(range(20, 98, 5))
    assert np.concatenate([p.end_rows for p in parts]).tolist() == whole.end_rows.tolist()
    assert np.array_equal(np.concatenate([p.anomaly for p in parts]), whole.anomaly)
    assert np.array_equal(whole.anomaly, np.array(alone, np.float32))
    assert (whole.detections == -1).all()


@pytest.mark.parametrize("broken", [{"name": "x"}, {"name": "x", "inputs": [], "outputs": [{}]},
                                    {"name": "x", "inputs": [{"shape": "abc"}], "outputs": []}])
def test_a_manifest_without_shapes_is_named(tmp_path: Path, broken: dict[str, object]) -> None:
    (tmp_path / "MANIFEST.json").write_text(json.dumps(broken))
    with pytest.raises(InputError, match="MANIFEST.json"):
        model_shape(tmp_path)
