"""The uniform model API (``eml_model.h`` / ``eml_model.c``) that every deployment runtime is written against.

A generated library names its API after the model (``motion_run``, ``MOTION_RAW_INPUT_LEN``) and comes in two
kinds (classifier, anomaly scorer). The ``.eim`` server, the command-line runner, the stream driver, the
WebAssembly exports and the ctypes engine are written once, against ``eml_model_*``; this module renders the
adapter from the library's ``MANIFEST.json`` plus what a deployment adds: the project it comes from (the
``.eim`` hello) and the post-processing setting it ships (calibrated, else the defaults).
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from crisp_eml.compiler.render import _float_lit, c_string
from crisp_eml.core.errors import InputError
from crisp_eml.core.impulse import ImpulseSpec
from crisp_eml.core.postprocess import PostprocessConfig

#: Results per window length in continuous mode (Edge Impulse's default slices per model window).
DEFAULT_SLICES_PER_WINDOW = 4
#: Edge Impulse's sensor codes (EI_CLASSIFIER_SENSOR_*), as its runner reports them in the hello.
SENSOR_CODES = {"microphone": 1, "accelerometer": 2, "camera": 3, "positional": 4, "environmental": 5,
                "fusion": 6}
#: Edge Impulse's inferencing-engine code for "none of ours" (EI_CLASSIFIER_NONE); ``engine`` names ours.
INFERENCING_ENGINE_NONE = 255
AUDIO_BLOCKS = frozenset({"mfcc", "mfe", "spectrogram", "audio-mfcc", "audio-mfe"})


@dataclass(frozen=True)
class ModelShape:
    """What a runtime needs to know about a library, read from its manifest."""

    name: str
    is_classifier: bool
    labels: tuple[str, ...]
    raw_len: int
    n_axes: int
    window_rows: int
    variable_length: bool
    frequency_hz: float
    dsp_in_c: bool
    slices_per_window: int
    slice_rows: int
    output_scale: float
    output_zero_point: int
    sensor: str
    image: tuple[int, int, int]  # width, height, channels (zeros for time series)

    @property
    def scores(self) -> int:
        return max(1, len(self.labels))

    @property
    def step_ms(self) -> float:
        return 1000.0 * self.slice_rows / self.frequency_hz if self.frequency_hz > 0 else 0.0


def read_manifest(lib_dir: Path) -> dict[str, Any]:
    path = lib_dir / "MANIFEST.json"
    try:
        manifest = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        raise InputError(f"not a library compiled by crisp-eml: {exc}", source=str(path)) from exc
    if not isinstance(manifest, dict) or not isinstance(manifest.get("name"), str):
        raise InputError("not a library compiled by crisp-eml (no name)", source=str(path))
    return manifest


def _sensor(spec: dict[str, Any] | None) -> str:
    if not spec:
        return "fusion"
    inp = spec.get("input") or {}
    if inp.get("type") == "image":
        return "camera"
    blocks = {str(b.get("type")) for b in spec.get("blocks") or []}
    if blocks & AUDIO_BLOCKS:
        return "microphone"
    axes = [str(a).lower() for a in inp.get("axes") or []]
    if axes and all(a.startswith(("acc", "a", "x", "y", "z", "gyr")) for a in axes):
        return "accelerometer"
    return "fusion"


def model_shape(lib_dir: Path, slices_per_window: int | None = None) -> ModelShape:
    """The library's input/output shape for runtimes (raises InputError for what they cannot serve)."""
    m = read_manifest(lib_dir)
    try:
        return _shape(m, slices_per_window)
    except (KeyError, IndexError, TypeError, ValueError) as exc:
        raise InputError(f"not a library compiled by crisp-eml: MANIFEST.json lacks what a runtime needs "
                         f"({type(exc).__name__}: {exc})",
                         source=str(lib_dir / "MANIFEST.json")) from exc


def _shape(m: dict[str, Any], slices_per_window: int | None) -> ModelShape:
    name = str(m["name"])
    is_classifier = m.get("kind") != "anomaly"
    labels = tuple(str(x) for x in m.get("labels") or ()) if is_classifier else ()
    spec = m.get("dsp") if m.get("dsp_in_c") else None
    inp = (spec or {}).get("input") or {}
    image = (0, 0, 0)
    if spec and inp.get("type") == "image":
        width, height = int(inp["width"]), int(inp["height"])
        image = (width, height, len(ImpulseSpec.from_dict(spec).input.axes))
        raw_len = window_rows = width * height * image[2]
        n_axes, freq, variable = 1, 0.0, False
    elif spec:
        ts = ImpulseSpec.from_dict(spec).input
        n_axes, window_rows, freq = len(ts.axes), ts.window_len, float(ts.frequency_hz)  # type: ignore[union-attr]
        raw_len, variable = n_axes * window_rows, ts.length_mode in ("pad", "resample")  # type: ignore[union-attr]
    else:
        if is_classifier:
            raw_len = int(math.prod(m["inputs"][0]["shape"]))
        else:
            raw_len = int((m.get("anomaly") or {}).get("features") or m["inputs"][0]["shape"][-1])
        n_axes, window_rows, freq, variable = 1, raw_len, 0.0, False
    if is_classifier and not labels:
        labels = tuple(f"class{i}" for i in range(int(math.prod(m["outputs"][0]["shape"]))))
    slices = slices_per_window or DEFAULT_SLICES_PER_WINDOW
    if not 1 <= slices <= window_rows:
        raise InputError(f"must be between 1 and the window's {window_rows} rows, got {slices}",
                         field="slices_per_window")
    out = (m.get("outputs") or [{}])[0]
    return ModelShape(name, is_classifier, labels, raw_len, n_axes, window_rows, variable, freq,
                      bool(m.get("dsp_in_c")), slices, max(1, window_rows // slices),
                      float(out.get("scale") or 1.0) if is_classifier else 1.0,
                      int(out.get("zero_point") or 0) if is_classifier else 0, _sensor(spec), image)


def default_postprocess(shape: ModelShape) -> PostprocessConfig:
    return PostprocessConfig.default(shape.labels or ("anomaly",), shape.slices_per_window)


def parameters_json(shape: ModelShape) -> str:
    """The static fields of the ``.eim`` hello ``model_parameters`` (no braces, no thresholds)."""
    interval = 1000.0 / shape.frequency_hz if shape.frequency_hz > 0 else 0.0
    fields = {
        "axis_count": shape.n_axes, "frequency": shape.frequency_hz, "has_anomaly": 0 if shape.is_classifier else 1,
        # an image model takes one packed pixel ((R << 16) | (G << 8) | B) per feature, as Edge Impulse's image
        # clients send them; image_channel_count is the frame's channels (1: the client sends gray pixels)
        "input_features_count": shape.image[0] * shape.image[1] if shape.image[0] else shape.raw_len,
        "interval_ms": interval, "label_count": len(shape.labels),
        "labels": list(shape.labels),
        "model_type": "classification" if shape.is_classifier else "anomaly_detection",
        # Edge Impulse's clients read the sensor as its integer code; the name is ours (the Node SDK's sensorType)
        "sensor": SENSOR_CODES.get(shape.sensor, -1), "sensor_type": shape.sensor, "slice_size": shape.slice_rows,
        "use_continuous_mode": shape.sensor == "microphone",
        "image_input_width": shape.image[0], "image_input_height": shape.image[1],
        "image_channel_count": shape.image[2], "image_input_frames": 1 if shape.image[0] else 0,
        "image_resize_mode": "none", "inferencing_engine": INFERENCING_ENGINE_NONE, "engine": "crisp-eml",
        "slices_per_model_window": shape.slices_per_window, "window_rows": shape.window_rows,
        "variable_length": shape.variable_length,
    }
    return json.dumps(fields, separators=(",", ":"), ensure_ascii=False)[1:-1]


def render_glue(lib_dir: Path, *, project: dict[str, Any] | None = None,
                postprocess: PostprocessConfig | None = None, slices_per_window: int | None = None
                ) -> dict[str, str]:
    """``eml_model.h`` and ``eml_model.c`` for the library in ``lib_dir``."""
    shape = model_shape(lib_dir, slices_per_window)
    pp = postprocess or default_postprocess(shape)
    if len(pp.thresholds) != shape.scores:
        raise InputError(f"the post-processing setting has {len(pp.thresholds)} thresholds for "
                         f"{shape.scores} model outputs", field="postprocess")
    name, up = shape.name, shape.name.upper()
    proj = {"name": name, "owner": "crisp-eml", "id": 0, "deploy_version": 1, **(project or {})}
    labels = ", ".join(c_string(lb) for lb in shape.labels) or c_string("anomaly")
    kind = str((read_manifest(lib_dir).get("anomaly") or {}).get("kind") or "")
    anomaly_type = f"anomaly_{kind}" if not shape.is_classifier and kind else ""
    threshold = f"{up}_THRESHOLD" if not shape.is_classifier else "0.0f"
    thresholds = ", ".join(_float_lit(t) for t in pp.thresholds)
    header = f"""/* eml_model.h - generated by crisp-eml; do not edit. The uniform API of the '{name}' model that the
 * deployment runtimes (.eim server, command-line runner, stream driver, WebAssembly exports) are written
 * against. */
#ifndef EML_MODEL_H
#define EML_MODEL_H

#include <stddef.h>
#include <stdint.h>

#define EML_MODEL_NAME {c_string(name)}
#define EML_MODEL_IS_CLASSIFIER {int(shape.is_classifier)}
#define EML_MODEL_HAS_ANOMALY {int(not shape.is_classifier)}
#define EML_MODEL_LABEL_COUNT {len(shape.labels)}
#define EML_MODEL_SCORES {shape.scores}
#define EML_MODEL_RAW_LEN {shape.raw_len}
#define EML_MODEL_N_AXES {shape.n_axes}
#define EML_MODEL_WINDOW_ROWS {shape.window_rows}
#define EML_MODEL_VARIABLE_LENGTH {int(shape.variable_length)}
#define EML_MODEL_FREQUENCY_HZ {_float_lit(shape.frequency_hz)}
#define EML_MODEL_DSP_IN_C {int(shape.dsp_in_c)}
#define EML_MODEL_SLICES_PER_WINDOW {shape.slices_per_window}
#define EML_MODEL_SLICE_ROWS {shape.slice_rows}
#define EML_MODEL_OUTPUT_SCALE {_float_lit(shape.output_scale)}
#define EML_MODEL_OUTPUT_ZERO_POINT ({shape.output_zero_point})
/* image models: the frame's size in pixels and values per pixel in the raw input (RAW_LEN = W x H x C,
 * interleaved, 0..255; RGB 3, grayscale 1); all 0 for a time-series or features-in model */
#define EML_MODEL_IMAGE_WIDTH {shape.image[0]}
#define EML_MODEL_IMAGE_HEIGHT {shape.image[1]}
#define EML_MODEL_IMAGE_INPUT_CHANNELS {shape.image[2]}

typedef struct {{
    float scores[EML_MODEL_SCORES];  /* dequantized outputs */
    int8_t codes[EML_MODEL_SCORES];  /* int8 outputs as the model computed them */
    float anomaly;                   /* anomaly score (0 when EML_MODEL_HAS_ANOMALY is 0) */
    int32_t label_index;             /* argmax, -1 for an anomaly scorer */
}} eml_model_output_t;

extern const char *const eml_model_labels[EML_MODEL_SCORES];
/* static fields of the .eim hello "model_parameters": a JSON object body without braces or thresholds */
extern const char eml_model_parameters_json[];
extern const char eml_model_project_json[];

int eml_model_init(void);
int eml_model_classify(const float *raw, size_t len, eml_model_output_t *out);
const char *eml_model_status_str(int status);

/* an anomaly scorer's threshold (score > threshold = anomaly) and its Edge Impulse threshold type */
#define EML_MODEL_ANOMALY_TYPE {c_string(anomaly_type)}
extern const float eml_model_anomaly_threshold;

/* post-processing shipped with this build ({"calibrated" if postprocess else "defaults"}) */
#define EML_PP_AVERAGE_WINDOWS {pp.average_windows}
#define EML_PP_SUPPRESSION_STEPS {pp.suppression_steps}
extern const float eml_pp_thresholds[EML_MODEL_SCORES];

#endif /* EML_MODEL_H */
"""
    if shape.is_classifier:
        body = f"""    {name}_result_t r;
    int32_t i;
    int status = (int){name}_run(raw, len, &r);
    if (status != 0) {{
        return status;
    }}
    for (i = 0; i < EML_MODEL_SCORES; ++i) {{
        out->scores[i] = r.scores[i];
        out->codes[i] = r.raw[i];
    }}
    out->anomaly = 0.0f;
    out->label_index = r.label_index;
    return 0;"""
    else:
        body = f"""    {name}_result_t r;
    int status = (int){name}_run(raw, len, &r);
    if (status != 0) {{
        return status;
    }}
    out->scores[0] = 0.0f;
    out->codes[0] = 0;
    out->anomaly = r.score;
    out->label_index = -1;
    return 0;"""
    source = f"""/* eml_model.c - generated by crisp-eml; do not edit. Adapts the '{name}' library to eml_model.h. */
#include "eml_model.h"
#include "{name}.h"

#if EML_MODEL_IS_CLASSIFIER && {up}_OUTPUT_SIZE != EML_MODEL_SCORES
#error "eml_model.h and {name}.h disagree on the output count"
#endif
#if {up}_RAW_INPUT_LEN != EML_MODEL_RAW_LEN
#error "eml_model.h and {name}.h disagree on the input length"
#endif
#if EML_MODEL_IMAGE_WIDTH > 0 && \
    EML_MODEL_IMAGE_WIDTH * EML_MODEL_IMAGE_HEIGHT * EML_MODEL_IMAGE_INPUT_CHANNELS != EML_MODEL_RAW_LEN
#error "eml_model.h's image size disagrees with the input length"
#endif

const char *const eml_model_labels[EML_MODEL_SCORES] = {{{labels}}};
const char eml_model_parameters_json[] = {c_string(parameters_json(shape))};
const char eml_model_project_json[] = {c_string(json.dumps(proj, separators=(",", ":"), ensure_ascii=False))};
const float eml_pp_thresholds[EML_MODEL_SCORES] = {{{thresholds}}};
const float eml_model_anomaly_threshold = {threshold};

int eml_model_init(void)
{{
    return (int){name}_init();
}}

int eml_model_classify(const float *raw, size_t len, eml_model_output_t *out)
{{
{body}
}}

const char *eml_model_status_str(int status)
{{
    return {name}_status_str(({name}_status_t)status);
}}
"""
    return {"eml_model.h": header, "eml_model.c": source}
