"""The generated anomaly C (K-means / GMM diag / GMM full) against the Python scorer, compiled with gcc -Werror.

Scores must agree within 1e-4 relative (float32 C vs float64 Python) and every decision away from the
threshold must be identical. A missing gcc is a failure, never a skip.
"""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import numpy as np
import pytest

from crisp_eml.compiler.anomaly_c import render_anomaly_c
from crisp_eml.core.errors import InputError
from crisp_eml.learn.anomaly import AnomalyModel, fit_anomaly

WARN = ["-std=c99", "-Wall", "-Wextra", "-Werror", "-pedantic", "-O2"]


def _harness(prefix: str, X: np.ndarray) -> str:
    rows = ",\n".join("{" + ", ".join(f"{float(v):.9e}f" for v in row) + "}" for row in X.astype(np.float32))
    return f"""#include <stdio.h>
#include "{prefix}_anomaly.h"
static const float inputs[{len(X)}][{X.shape[1]}] = {{
{rows}
}};
int main(void)
{{
    int r;
    float s = 0.0f;
    for (r = 0; r < {len(X)}; ++r) {{
        int flag = {prefix}_anomaly(inputs[r], &s);
        printf("%d %.9g\\n", flag, (double)s);
    }}
    printf("%d\\n", {prefix}_anomaly(NULL, &s));
    return {prefix.upper()}_ANOMALY_N_FEATURES == {X.shape[1]} ? 0 : 3;
}}
"""


def _run_c(model: AnomalyModel, X: np.ndarray, tmp_path: Path, prefix: str) -> tuple[np.ndarray, np.ndarray]:
    gcc = shutil.which("gcc")
    if gcc is None:
        pytest.fail("gcc is not installed: the generated C cannot be checked")
    files = render_anomaly_c(model.to_dict(), prefix)
    assert set(files) == {f"{prefix}_anomaly.h", f"{prefix}_anomaly.c"}
    for name, text in files.items():
        (tmp_path / name).write_text(text)
    (tmp_path / "main.c").write_text(_harness(prefix, X))
    exe = tmp_path / "anomaly_test"
    proc = subprocess.run([gcc, *WARN, "-I", str(tmp_path), str(tmp_path / "main.c"),
                           str(tmp_path / f"{prefix}_anomaly.c"), "-o", str(exe), "-lm"],
                          capture_output=True, text=True, check=False)
    assert proc.returncode == 0, proc.stderr
    out = subprocess.run([str(exe)], capture_output=True, text=True, check=True).stdout.split("\n")
    lines = [ln.split() for ln in out if ln.strip()]
    assert lines[-1] == ["-1"]  # NULL features
    flags = np.array([int(a) for a, _ in lines[:-1]])
    scores = np.array([float(b) for _, b in lines[:-1]])
    return flags, scores


@pytest.mark.parametrize(("kind", "params"), [
    ("kmeans", {"clusters": 5}),
    ("gmm", {"components": 3, "covariance": "diag"}),
    ("gmm", {"components": 2, "covariance": "full"}),
])
def test_anomaly_c_matches_python(kind: str, params: dict, tmp_path: Path) -> None:  # type: ignore[type-arg]
    rng = np.random.default_rng(4)
    scale = rng.uniform(0.5, 20.0, 12)  # features on different scales, as DSP features are
    normal = rng.standard_normal((240, 12)) * scale + 3.0
    model = fit_anomaly(normal, kind, params, seed=0, groups=np.repeat(np.arange(24), 10))
    X = np.vstack([rng.standard_normal((30, 12)) * scale + 3.0,
                   rng.standard_normal((30, 12)) * scale * 2.5 + 3.0]).astype(np.float32)
    py = model.score(X.astype(np.float64))
    flags, c_scores = _run_c(model, X, tmp_path, "motion_ad")
    np.testing.assert_allclose(c_scores, py, rtol=1e-4, atol=1e-4)
    clear = np.abs(py - model.threshold) > 1e-3 * max(1.0, abs(model.threshold))
    assert np.array_equal(flags[clear], (py > model.threshold)[clear].astype(int))
    assert 0 < flags.sum() < len(flags)  # both outcomes are exercised


def test_anomaly_c_rejects_malformed_models() -> None:
    good = fit_anomaly(np.random.default_rng(0).standard_normal((20, 3)), "gmm", {"components": 1}, seed=0).to_dict()
    with pytest.raises(InputError, match="kind"):
        render_anomaly_c({**good, "kind": "svm"}, "m")
    with pytest.raises(InputError, match="covariances"):
        render_anomaly_c({**good, "covariances": [[[1.0]]]}, "m")
    with pytest.raises(InputError, match="feature count"):
        render_anomaly_c({**good, "std": [1.0, 1.0]}, "m")
    files = render_anomaly_c(good, "3 weird-name")
    assert "m_3_weird_name_anomaly.h" in files and "int m_3_weird_name_anomaly(const float" in files[
        "m_3_weird_name_anomaly.h"]
