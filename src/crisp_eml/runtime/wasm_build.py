"""The ``wasm`` deployment: a generated library built with Debian's emscripten into a standalone ``.wasm`` (no JS
glue, no malloc), an ES module around it, a static demo page and a README.

The ``.wasm`` is the library, its ``eml_model`` glue, the stream driver (sliding window, slices, the shipped
post-processing) and ``runtime/c/wasm_api.c`` (the exports). It is built with ``-msimd128 -msse2``: the kernels'
SSE2 paths compile to WebAssembly SIMD (every current browser and Node >= 16 run it), about three times faster
than the portable loops and bit-identical to them. ``simd=False`` builds the portable C instead.

The output folder is written all at once (``compiler.build.publish_tree``: a hidden sibling renamed into place,
replacing a previous build), so a failed build leaves nothing half-written.
"""

from __future__ import annotations

import hashlib
import html
import json
import os
import shutil
import subprocess
import tempfile
from importlib import resources
from pathlib import Path
from typing import Any

from crisp_eml.compiler.build import publish_tree
from crisp_eml.core.errors import InputError, ToolMissingError, VerificationError
from crisp_eml.core.postprocess import PostprocessConfig
from crisp_eml.runtime.build import runtime_source, stage_sources
from crisp_eml.runtime.glue import default_postprocess, model_shape, read_manifest

#: Warnings are errors as in the native builds; clang (unlike gcc) also flags the unused ``static inline`` helpers of
#: the kernels a model does not use, which is harmless.
EMCC_FLAGS = ("-std=c99", "-O2", "-Wall", "-Wextra", "-Werror", "-Wno-unused-function", "--no-entry",
              "-sSTANDALONE_WASM", "-sFILESYSTEM=0", "-sALLOW_MEMORY_GROWTH=0")
SIMD_FLAGS = ("-msimd128", "-msse2")
#: The demo page's static files (crisp_eml/runtime/web), copied as they are.
DEMO_FILES = ("demo.js", "demo.css")
#: emcc's errors that mean its cache (prebuilt system libraries) is not usable where it is.
CACHE_ERRORS = ("FROZEN_CACHE", "cache.lock", "Permission denied", "Read-only file system")


def emcc() -> str:
    path = shutil.which("emcc")
    if path is None:
        raise ToolMissingError("emcc is not installed (Debian: apt-get install emscripten)")
    return path


def _web(name: str) -> str:
    return resources.files("crisp_eml.runtime").joinpath("web", name).read_text(encoding="utf-8")


def user_cache_dir() -> Path:
    """A writable emscripten cache, used when the system one (Debian: /usr/share/emscripten/cache) is not."""
    base = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(base) / "crisp-eml" / "emscripten"


def _run_emcc(cmd: list[str], env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    try:
        return subprocess.run(cmd, capture_output=True, text=True, check=False, env=env, timeout=1800)
    except subprocess.TimeoutExpired as exc:
        raise VerificationError("emcc timed out after 30 minutes") from exc


def compile_wasm(sources: list[Path], include: Path, out: Path, *, simd: bool = True) -> None:
    """emcc the staged sources into ``out``. When emcc cannot use its cache (not writable and missing a system
    library, or locked read-only) and EM_CACHE is not set, retry once with a writable per-user cache."""
    cmd = [emcc(), *EMCC_FLAGS, *(SIMD_FLAGS if simd else ()), "-I", str(include), *map(str, sources),
           "-o", str(out)]
    env = dict(os.environ)
    proc = _run_emcc(cmd, env)
    text = proc.stderr or proc.stdout
    if proc.returncode != 0 and "EM_CACHE" not in os.environ and any(m in text for m in CACHE_ERRORS):
        cache = user_cache_dir()
        cache.mkdir(parents=True, exist_ok=True)
        proc = _run_emcc(cmd, {**env, "EM_CACHE": str(cache), "EM_FROZEN_CACHE": ""})
        text = proc.stderr or proc.stdout
    if proc.returncode != 0 or not out.is_file():
        raise VerificationError(f"building the WebAssembly module failed: {text[-2000:]}")


def _live_sentence(info: dict[str, Any]) -> str:
    if not info["dsp_in_c"] or not info["frequency_hz"]:
        return "The model takes computed features, so the page has no live sensor."
    hz = f"{info['frequency_hz']:g} Hz"
    if info["sensor"] == "microphone":
        return f"The page listens to the microphone (resampled to {hz}) when the browser allows it."
    if info["sensor"] == "accelerometer":
        return f"The page reads the device's motion sensor (DeviceMotionEvent, sampled at {hz}) when there is one."
    return "The page has no live sensor for this model's inputs."


def _file_sentence(info: dict[str, Any]) -> str:
    if not info["dsp_in_c"]:
        return f"a CSV file with one window of {info['raw_len']} features per line"
    return (f"a CSV file (one reading per row, {info['axes']} value(s); a leading timestamp column is dropped) or a "
            "WAV file, streamed through the model")


def _readme(name: str, shape_info: dict[str, Any]) -> str:
    first_label = json.dumps((shape_info["labels"] or ["anomaly"])[0])
    return f"""# {name} - WebAssembly build (crisp-eml)

Files: `{name}.wasm` (the model's C library, bit-exact with the native build), `{name}.mjs` (ES module, no
dependencies), `index.html` + `demo.js` + `demo.css` (demo page), `MANIFEST.json` (what was built).

## Try the demo page

    python3 -m http.server 8000 --bind 127.0.0.1
    # open http://127.0.0.1:8000/ (browsers allow the microphone and motion sensors on localhost or https)

{_live_sentence(shape_info)} It also classifies an uploaded file: {_file_sentence(shape_info)}. The page sets a
strict Content-Security-Policy (no inline script or style, no CDN); WebAssembly needs `'wasm-unsafe-eval'` in
`script-src` when you serve it under your own policy.

## Use it from JavaScript

```js
import {{ load }} from "./{name}.mjs";
const model = await load();                  // browser: fetches {name}.wasm next to the module
// Node: await load(new URL("./{name}.wasm", import.meta.url)) or load(fs.readFileSync("{name}.wasm"))
model.info;        // frequency, axes, windowRows, sliceRows, rawLength, sensor, ...
model.classify(new Float32Array(model.info.rawLength));   // {{label: score, ...}} (+ anomaly)
model.run(window);                           // also the int8 codes and the top label
model.stream.push(rows);                     // [{{t, endRow, classification, average, detection}}, ...]
model.stream.setThreshold({first_label}, 0.8);  // a label's detection threshold; reset() restarts
```

Windows are {shape_info['raw_len']} floats ({shape_info['window_rows']} rows of {shape_info['axes']} value(s),
axes interleaved). The stream classifies the last window every {shape_info['slice_rows']} rows and applies
the shipped post-processing (average over {shape_info['average_windows']} windows, per-label thresholds,
{shape_info['suppression_steps']} steps of suppression after a detection), with the same results as
`eml run --continuous`.
"""


def _index_html(name: str) -> str:
    return _web("index.html").replace("__EML_NAME_ATTR__", html.escape(name, quote=True)).replace(
        "__EML_NAME_TEXT__", html.escape(name, quote=False))


def build_wasm(lib_dir: Path, out_dir: Path, *, project: dict[str, Any] | None = None,
               postprocess: PostprocessConfig | None = None, slices_per_window: int | None = None,
               simd: bool = True) -> dict[str, Any]:
    """Build the ``wasm`` deployment of the library in ``lib_dir`` into ``out_dir`` (created or replaced).

    Returns ``{"out_dir", "files" (names written), "wasm" (path), "wasm_bytes", "simd", "model"}``.
    """
    lib_dir, out_dir = Path(lib_dir), Path(out_dir).resolve()
    emcc()  # fail fast, naming the Debian package
    manifest = read_manifest(lib_dir)
    shape = model_shape(lib_dir, slices_per_window)
    name = shape.name
    if not name.replace("_", "").isalnum():
        raise InputError(f"library name {name!r} is not a C identifier", source=str(lib_dir / "MANIFEST.json"))
    if shape.image[0]:
        raise InputError("image models have no wasm deployment yet (the demo page takes sensor streams)",
                         source=str(lib_dir))
    pp = postprocess
    with tempfile.TemporaryDirectory(prefix="eml-wasm-") as tmp:
        work = Path(tmp) / "src"
        sources = stage_sources(lib_dir, work, project=project, postprocess=pp, slices_per_window=slices_per_window)
        (work / "wasm_api.c").write_text(runtime_source("wasm_api.c"), encoding="utf-8")
        built = Path(tmp) / f"{name}.wasm"
        compile_wasm([*sources, work / "wasm_api.c"], work, built, simd=simd)
        wasm_bytes = built.read_bytes()
    setting = pp or default_postprocess(shape)
    info = {"name": name, "sensor": shape.sensor, "frequency_hz": shape.frequency_hz, "axes": shape.n_axes,
            "raw_len": shape.raw_len, "window_rows": shape.window_rows, "slice_rows": shape.slice_rows,
            "slices_per_window": shape.slices_per_window, "labels": list(shape.labels),
            "is_classifier": shape.is_classifier, "dsp_in_c": shape.dsp_in_c,
            "average_windows": setting.average_windows, "suppression_steps": setting.suppression_steps,
            "thresholds": list(setting.thresholds), "postprocess_calibrated": pp is not None}
    texts = {
        f"{name}.mjs": _web("model.mjs").replace("__EML_WASM_FILE__", f"{name}.wasm").replace("__EML_NAME__", name),
        "index.html": _index_html(name),
        **{f: _web(f) for f in DEMO_FILES},
        "README.md": _readme(name, info),
    }
    files = sorted([*texts, f"{name}.wasm", "MANIFEST.json"])
    summary = {"format": "wasm", "simd": simd, "model": info, "files": files,
               "wasm_sha256": hashlib.sha256(wasm_bytes).hexdigest(),
               "library": {k: manifest[k] for k in ("name", "kind", "generator", "model_sha256", "sources_sha256",
                                                     "arena_bytes", "weights_bytes") if k in manifest},
               "project": project or {}}
    texts["MANIFEST.json"] = json.dumps(summary, indent=2) + "\n"
    publish_tree(texts, {f"{name}.wasm": wasm_bytes}, out_dir)
    return {"out_dir": str(out_dir), "files": files, "wasm": str(out_dir / f"{name}.wasm"),
            "wasm_bytes": len(wasm_bytes), "simd": simd, "model": info}
