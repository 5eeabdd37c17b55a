"""``eml formats``, ``eml compile --format`` and ``eml deploy --format`` end to end on a small trained model.

The model is the runtime tests' session classifier (``tests/runtime/eim_helpers.py``: ``models:/motion/1``
trained on basic-motions, 6 axes at 10 Hz, 20-row windows, and the anomaly scorer ``models:/motion_ad/1``), in a
copy of its project per module. Each format is built once through the CLI and run once: the ``.eim`` through the
official Edge Impulse Python client, the Linux runner on x86-64 and (under qemu-aarch64) aarch64, the WebAssembly
module under Node, the Arduino sketch compiled as C++ against a tiny ``Arduino.h`` written here, the CMake project
with cmake. Scores are compared with the library itself (ctypes :class:`~crisp_eml.runtime.engine.Engine`),
detections with the Python post-processing twin. The gated path ships the format in a signed bundle that still verifies.
"""

from __future__ import annotations

import json
import shutil
import stat
import subprocess
import sys
import zipfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from conftest import BASIC_MOTIONS, invoke_cli
from crisp_eml.core.postprocess import PostprocessConfig, detections

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "runtime"))  # the runtime tests' shared model
from eim_helpers import Motion, motion  # noqa: E402,F401  (motion is a fixture)

LABELS = ["badminton", "running", "standing", "walking"]
AXES = 6


def _eml(args: list[str], cwd: Path) -> str:
    """Run ``eml ARGS`` in-process in ``cwd`` (module fixtures cannot use the function-scoped run_cli)."""
    code, out, err = invoke_cli(args, cwd)
    assert not code, f"eml {' '.join(args)} -> {code}\n{err[-3000:]}"
    return out


@pytest.fixture(scope="module")
def project(motion: Motion, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:  # noqa: F811
    """A copy of the runtime tests' session project (models:/motion/1 and the anomaly scorer models:/motion_ad/1
    trained on basic-motions) with the classifier's library in lib/ and a passing gate for cortex-m4."""
    root = tmp_path_factory.mktemp("formats") / "proj"
    shutil.copytree(motion.root, root)
    shutil.copytree(motion.lib, root / "lib")
    _eml(["requirements", "set", "target=cortex-m4", "max_ram=64k"], root)
    _eml(["gate", "models:/motion/1", "--library", "lib"], root)
    yield root


@pytest.fixture(scope="module")
def engine(project: Path) -> Iterator[Any]:
    from crisp_eml.runtime.engine import Engine

    with Engine(project / "lib") as e:
        yield e


def _rows(name: str) -> np.ndarray:
    return np.loadtxt(BASIC_MOTIONS / "testing" / f"{name}.csv", delimiter=",", skiprows=1, dtype=np.float32)[:, 1:]


def _csv(rows: np.ndarray) -> str:
    return "\n".join(",".join(f"{v:.9g}" for v in r) for r in rows) + "\n"


def test_formats_lists_every_format_and_its_tools(run_cli: Any, tmp_path: Path) -> None:
    code, out, err = run_cli(["formats", "--json"], cwd=tmp_path)  # no project needed
    assert code == 0, err
    rows = {r["id"]: r for r in json.loads(out)}
    assert list(rows) == ["c", "arduino", "cmake", "eim", "linux", "wasm"]
    for fmt in ("eim", "linux"):
        assert rows[fmt]["archs"] == ["x86_64", "aarch64"] and rows[fmt]["output"] == "executable"
        need = rows[fmt]["needs"]["aarch64"][0]
        assert need["tool"] == "aarch64-linux-gnu-gcc" and need["debian_package"] == "gcc-aarch64-linux-gnu"
        assert need["present"] is (shutil.which("aarch64-linux-gnu-gcc") is not None)
    assert rows["wasm"]["needs"]["any"][0]["debian_package"] == "emscripten"
    assert rows["c"]["needs"] == {} and rows["arduino"]["output"] == "folder or .zip"
    code, out, _ = run_cli(["formats"], cwd=tmp_path)
    assert code == 0 and "gcc-aarch64-linux-gnu" in out and "emscripten" in out


def test_eim_answers_the_official_python_client(project: Path, engine: Any) -> None:
    from edge_impulse_linux.runner import ImpulseRunner

    r = json.loads(_eml(["compile", "--model", "models:/motion/1", "--format", "eim", "-o", "out/motion.eim",
                         "--json"], project))
    exe = project / "out" / "motion.eim"
    assert r["kind"] == "executable" and r["arch"] == "x86_64" and r["out"] == str(exe)
    assert stat.S_IMODE(exe.stat().st_mode) == 0o755
    pp = json.loads((project / "out" / "motion.eim.postprocess.json").read_text())
    assert pp["source"] == "defaults" and pp["setting"]["thresholds"] == [0.6] * 4
    runner = ImpulseRunner(str(exe))
    try:
        info = runner.init()
        assert info["project"]["name"] == "proj" and info["project"]["owner"] == "tester"
        assert info["project"]["deploy_version"] == 1 and isinstance(info["project"]["id"], int)
        assert info["model_parameters"]["labels"] == LABELS
        window = _rows("walking.01")[:20]
        got = runner.classify(window.reshape(-1).tolist())["result"]["classification"]
    finally:
        runner.stop()
    want = engine.classify(window).scores
    assert [got[lb] for lb in LABELS] == pytest.approx(want.tolist(), abs=1e-7)
    last = json.loads(_eml(["audit", "log", "--json"], project))[-1]
    assert last["action"] == "runtime.build" and last["artifacts"]["format"] == "eim"


def _run_lines(cmd: list[str], stdin: str) -> list[dict[str, Any]]:
    proc = subprocess.run(cmd, input=stdin, capture_output=True, text=True, timeout=120, check=False)
    assert proc.returncode == 0, proc.stderr
    return [json.loads(line) for line in proc.stdout.splitlines()]


def test_linux_runner_x86_64_and_aarch64(project: Path, engine: Any) -> None:
    rows = np.concatenate([_rows("running.01")[:40], _rows("standing.01")[:40]])
    want = [engine.classify(rows[i:i + 20]).scores.tolist() for i in range(0, 80, 20)]
    _eml(["compile", "--model", "models:/motion/1", "--format", "linux", "-o", "run/motion-x86"], project)
    x86 = _run_lines([str(project / "run" / "motion-x86"), "--json", "-"], _csv(rows))
    np.testing.assert_allclose([[r["classification"][lb] for lb in LABELS] for r in x86], want, atol=1e-7)
    assert [r["label"] for r in x86] == [LABELS[int(np.argmax(w))] for w in want]
    qemu = shutil.which("qemu-aarch64")
    assert qemu is not None, "qemu-aarch64 is missing (Debian: qemu-user)"
    _eml(["compile", "--model", "models:/motion/1", "--format", "linux", "--arch", "aarch64", "-o",
          "run/motion-arm"], project)
    arm = _run_lines([qemu, str(project / "run" / "motion-arm"), "--json", "-"], _csv(rows))
    assert arm == x86  # the same int8 outputs, so the same text


def test_wasm_folder_classifies_under_node(project: Path, engine: Any) -> None:
    r = json.loads(_eml(["compile", "--model", "models:/motion/1", "--format", "wasm", "-o", "web", "--json"],
                        project))
    web = project / "web"
    assert r["kind"] == "folder" and {"motion.wasm", "motion.mjs", "index.html", "postprocess.json"} <= set(r["files"])
    window = _rows("badminton.01")[20:40]
    script = ("import fs from 'node:fs'; const m = await import(process.argv[1]); "
              "const model = await m.load(fs.readFileSync(process.argv[2])); "
              "console.log(JSON.stringify(model.classify(new Float32Array(JSON.parse(process.argv[3])))));")
    proc = subprocess.run(["node", "--input-type=module", "-e", script, (web / "motion.mjs").as_uri(),
                           str(web / "motion.wasm"), json.dumps(window.reshape(-1).tolist())],
                          capture_output=True, text=True, timeout=120, check=False)
    assert proc.returncode == 0, proc.stderr
    got = json.loads(proc.stdout)
    assert [got[lb] for lb in LABELS] == pytest.approx(engine.classify(window).scores.tolist(), abs=1e-7)


ARDUINO_SHIM = """#ifndef ARDUINO_H
#define ARDUINO_H
#include <stdio.h>
class SerialShim {
public:
    void begin(long) {}
    int available() { int c = getchar(); if (c == EOF) return 0; ungetc(c, stdin); return 1; }
    int read() { return getchar(); }
    void print(const char *s) { fputs(s, stdout); }
    void print(double v, int digits) { printf("%.*f", digits, v); }
    void println(const char *s) { puts(s); }
    void println() { putchar('\\n'); }
};
extern SerialShim Serial;
#endif
"""
ARDUINO_MAIN = """#include "Arduino.h"
SerialShim Serial;
void setup();
void loop();
int main() { setup(); loop(); return 0; }
"""


def _sketch(lib: Path, work: Path, mode: int, name: str = "motion") -> Path:
    """The example sketch compiled as C++ (warnings as errors) against the Arduino.h shim, linked with src/."""
    work.mkdir(exist_ok=True)
    (work / "Arduino.h").write_text(ARDUINO_SHIM)
    (work / "main.cpp").write_text(ARDUINO_MAIN)
    flags = ["-Wall", "-Wextra", "-Werror", "-I", str(work), "-I", str(lib / "src")]
    objs = []
    for c in sorted((lib / "src").glob("*.c")):
        objs.append(work / f"{c.stem}.o")
        subprocess.run(["gcc", "-std=c99", *flags, "-c", str(c), "-o", str(objs[-1])], check=True)
    ino = lib / "examples" / f"{name}_classify" / f"{name}_classify.ino"
    exe = work / f"sketch{mode}"
    subprocess.run(["g++", "-std=c++11", *flags, f"-DEML_SKETCH_MODE={mode}", "-x", "c++", str(ino), "-x", "none",
                    str(work / "main.cpp"), *map(str, objs), "-o", str(exe), "-lm"], check=True)
    return exe


def _scores(line: str) -> list[float]:
    fields = dict(f.split("=", 1) for f in line.split() if "=" in f)
    return [float(fields[lb]) for lb in LABELS]


def test_arduino_library_and_sketch(project: Path, engine: Any, tmp_path: Path) -> None:
    r = json.loads(_eml(["compile", "--model", "models:/motion/1", "--format", "arduino", "-o", "ard.zip", "--json"],
                        project))
    with zipfile.ZipFile(project / "ard.zip") as zf:
        names = set(zf.namelist())
        zf.extractall(tmp_path)
    assert r["kind"] == "zip" and names == set(r["files"])
    assert {"ard/library.properties", "ard/src/eml_model.h", "ard/src/eml_stream.c", "ard/src/eml_postprocess.c",
            "ard/examples/motion_classify/motion_classify.ino", "ard/postprocess.json"} <= names
    lib = tmp_path / "ard"
    props = dict(line.split("=", 1) for line in (lib / "library.properties").read_text().splitlines())
    assert props["name"] == "motion" and props["includes"] == "eml_model.h"
    # mode 0: windows as CSV from Serial (with a header line, which is skipped)
    rows = np.concatenate([_rows("walking.01"), _rows("badminton.01")])
    lines = subprocess.run([str(_sketch(lib, tmp_path / "b", 0))], input="accX,accY\n" + _csv(rows[:40]),
                           capture_output=True, text=True, check=True, timeout=60).stdout.splitlines()
    want = [engine.classify(rows[i:i + 20]).scores.tolist() for i in (0, 20)]
    np.testing.assert_allclose([_scores(x) for x in lines], want, atol=6e-6)
    assert [x.split("top=")[1] for x in lines] == ["walking", "walking"]
    # mode 1: continuous, with the shipped post-processing (defaults: 3 windows, 0.6, suppression 4 steps)
    lines = subprocess.run([str(_sketch(lib, tmp_path / "b", 1))], input=_csv(rows), capture_output=True,
                           text=True, check=True, timeout=60).stdout.splitlines()
    ref = engine.stream(rows)
    assert [int(x.split()[0].removeprefix("row=")) for x in lines] == ref.end_rows.tolist()
    np.testing.assert_allclose([_scores(x) for x in lines], ref.averages, atol=6e-6)
    cfg = PostprocessConfig.default(LABELS, 4)
    want_det = detections(ref.codes, cfg, engine.shape.output_scale, engine.shape.output_zero_point)
    got_det = [LABELS.index(x.split("detected=")[1]) if "detected=" in x else -1 for x in lines]
    assert got_det == want_det.tolist() and {LABELS[i] for i in got_det if i >= 0} == {"walking", "badminton"}
    # mode 2: the static buffer compiles and classifies once
    out = subprocess.run([str(_sketch(lib, tmp_path / "b", 2))], capture_output=True, text=True, check=True,
                         timeout=60).stdout
    assert out.startswith("result:") and out.count("\n") == 1


def test_cmake_project_builds_the_library_and_runner(project: Path, engine: Any, tmp_path: Path) -> None:
    _eml(["compile", "--model", "models:/motion/1", "--format", "cmake", "-o", "cm"], project)
    src = project / "cm"
    assert (src / "CMakeLists.txt").is_file() and (src / "examples/linux_runner/linux_main.c").is_file()
    build = tmp_path / "build"
    if shutil.which("cmake"):  # installed here (Debian: cmake); otherwise the same sources through gcc
        subprocess.run(["cmake", "-S", str(src), "-B", str(build)], check=True, capture_output=True)
        subprocess.run(["cmake", "--build", str(build)], check=True, capture_output=True)
        assert (build / "libmotion.a").is_file()
        exe = build / "motion_runner"
    else:
        build.mkdir()
        exe = build / "motion_runner"
        sources = [*(src / "src").glob("*.c"), *(src / "examples/linux_runner").glob("*.c")]
        subprocess.run(["gcc", "-std=c99", "-D_POSIX_C_SOURCE=200809L", "-I", str(src / "src"), "-I",
                        str(src / "examples/linux_runner"), *map(str, sources), "-o", str(exe), "-lm"], check=True)
    rows = _rows("running.01")[:20]
    got = _run_lines([str(exe), "--json", "-"], _csv(rows))
    assert [got[0]["classification"][lb] for lb in LABELS] == pytest.approx(engine.classify(rows).scores.tolist(),
                                                                              abs=1e-7)


def test_calibrated_setting_is_shipped(project: Path, tmp_path: Path) -> None:
    """The setting ``eml calibrate`` chose is compiled in (eml_model.h) and recorded in postprocess.json."""
    root = tmp_path / "proj"
    shutil.copytree(project, root)  # calibrating changes what later builds of the shared project ship
    cal = json.loads(_eml(["calibrate", "models:/motion/1", "--hours", "0.05", "--background", "standing", "--json"],
                          root))
    chosen = cal["chosen"]["postprocess"]
    assert chosen["thresholds"][LABELS.index("standing")] > 1  # background: never detected
    _eml(["compile", "--model", "models:/motion/1", "--format", "cmake", "-o", "calibrated"], root)
    pp = json.loads((root / "calibrated" / "postprocess.json").read_text())
    assert pp["source"] == f"calibration #{cal['id']}" and pp["setting"] == chosen
    header = (root / "calibrated" / "src" / "eml_model.h").read_text()
    assert f"#define EML_PP_AVERAGE_WINDOWS {chosen['average_windows']}" in header
    assert f"#define EML_PP_SUPPRESSION_STEPS {chosen['suppression_steps']}" in header
    assert chosen != PostprocessConfig.default(LABELS, 4).to_dict()  # else this test could not tell them apart


def test_anomaly_only_library_builds_as_runner_and_sketch(project: Path, tmp_path: Path) -> None:
    """Every format serves an anomaly-only library too ('eml formats' says so): the runner and the sketch print
    the anomaly score the library computes."""
    from crisp_eml.runtime.engine import Engine

    root = project
    _eml(["compile", "--model", "models:/motion_ad/1", "-o", "adlib", "--vectors", "0"], root)
    assert all(r["supports_anomaly_only"] for r in json.loads(_eml(["formats", "--json"], root)))
    rows = np.concatenate([_rows("walking.01")[:20], _rows("badminton.01")[:20]])
    with Engine(root / "adlib") as e:
        want = [e.classify(rows[i:i + 20]).anomaly for i in (0, 20)]
    assert want[1] > want[0]  # badminton is not one of the normal labels
    _eml(["compile", "--model", "models:/motion_ad/1", "--format", "linux", "-o", "ad-run"], root)
    got = _run_lines([str(root / "ad-run"), "--json", "-"], _csv(rows))
    assert [r["anomaly"] for r in got] == pytest.approx(want, abs=1e-6) and got[0]["label"] is None
    _eml(["compile", "--model", "models:/motion_ad/1", "--format", "arduino", "-o", "ad-ard"], root)
    sketch = _sketch(root / "ad-ard", tmp_path / "b", 0, "motion_ad")
    lines = subprocess.run([str(sketch)], input=_csv(rows), capture_output=True, text=True, check=True,
                           timeout=60).stdout.splitlines()
    assert [float(x.split("anomaly=")[1]) for x in lines] == pytest.approx(want, abs=6e-6)


def test_deploy_ships_the_format_in_a_signed_bundle(project: Path, run_cli: Any) -> None:
    plain = json.loads(_eml(["deploy", "models:/motion/1", "--target", "cortex-m4", "-o", "c.zip", "--json"],
                            project))
    assert plain["format"] == "c" and plain["arch"] is None
    with zipfile.ZipFile(project / "c.zip") as zf:
        c_names = set(zf.namelist())
        assert "deployment" not in json.loads(zf.read("BUNDLE.json"))
    assert all(n.startswith("library/") for n in c_names - {"BUNDLE.json", "BUNDLE.sig", "MANIFEST.json",
                                                          "model.tflite"})
    r = json.loads(_eml(["deploy", "models:/motion/1", "--target", "cortex-m4", "-o", "eim.zip", "--format", "eim",
                         "--json"], project))
    assert r["format"] == "eim" and r["arch"] == "x86_64"
    check = json.loads(_eml(["bundle", "verify", "eim.zip", "--json"], project))
    assert check["ok"] and check["signature"] == "valid"
    assert check["info"]["deployment"] == {"format": "eim", "arch": "x86_64", "postprocess": "defaults",
                                           "files": ["eim/motion.eim", "eim/postprocess.json"]}
    with zipfile.ZipFile(project / "eim.zip") as zf:
        names = set(zf.namelist())
        exe = zf.read("eim/motion.eim")
    assert names == c_names | {"eim/motion.eim", "eim/postprocess.json"}
    dev = json.loads(_eml(["compile", "--model", "models:/motion/1", "--format", "eim", "-o", "dev.eim", "--json"],
                          project))
    assert exe[:4] == b"\x7fELF" and exe == Path(dev["out"]).read_bytes()  # the same build as the dev one
    code, _, err = run_cli(["deploy", "models:/motion/1", "--target", "cortex-m4", "-o", "bad.zip", "--format", "vhdl"],
                           cwd=project)
    assert code == 2 and "field 'format'" in err and "c, arduino, cmake, eim, linux, wasm" in err
    assert not (project / "bad.zip").exists()


def test_bad_format_arch_and_missing_tool(project: Path, run_cli: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    base = ["compile", "--model", "models:/motion/1", "-o", "nope/x"]
    for extra, field, why in ((["--format", "vhdl"], "format", "c, arduino, cmake, eim, linux, wasm"),
                              (["--format", "eim", "--arch", "sparc"], "arch", "x86_64, aarch64"),
                              (["--format", "wasm", "--arch", "aarch64"], "arch", "applies to eim, linux"),
                              (["--arch", "aarch64"], "arch", "applies to eim, linux")):
        code, _, err = run_cli([*base, *extra], cwd=project)
        assert code == 2 and f"field '{field}'" in err and why in err and "Traceback" not in err, (extra, err)
    import crisp_eml.runtime.formats as formats

    real = shutil.which
    monkeypatch.setattr(formats.shutil, "which", lambda exe: None if exe == "aarch64-linux-gnu-gcc" else real(exe))
    code, _, err = run_cli([*base, "--format", "linux", "--arch", "aarch64"], cwd=project)
    assert code == 7 and "apt-get install gcc-aarch64-linux-gnu" in err
    code, _, err = run_cli(["deploy", "models:/motion/1", "--target", "cortex-m4", "-o", "nope/b.zip", "--format",
                            "eim", "--arch", "aarch64"], cwd=project)
    assert code == 7 and "gcc-aarch64-linux-gnu" in err
    assert not (project / "nope").exists()


def test_run_on_a_registered_model_equals_its_library_and_leaves_no_compile_record(project: Path,
                                                                                    tmp_path: Path) -> None:
    """``eml run models:/...`` builds a scratch library: same results as the compiled one, and no
    ``compiler.compile`` entry pointing at a folder that is deleted afterwards."""
    rows = np.vstack([_rows("walking.01"), _rows("standing.01"), _rows("running.01")])
    (tmp_path / "in.csv").write_text(_csv(rows))
    before = [e["action"] for e in json.loads(_eml(["audit", "log", "--json"], project))]
    args = ["--input", str(tmp_path / "in.csv"), "--continuous", "--json"]
    by_uri = _eml(["run", "models:/motion/1", *args], project).splitlines()
    by_lib = _eml(["run", str(project / "lib"), *args], project).splitlines()
    assert len(by_uri) > 10 and by_uri == by_lib
    after = [e["action"] for e in json.loads(_eml(["audit", "log", "--json"], project))]
    assert after.count("compiler.compile") == before.count("compiler.compile")
