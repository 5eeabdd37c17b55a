"""Image models in the ``.eim`` runner, driven by Edge Impulse's own image client (``ImageImpulseRunner``).

The official client sends one number per pixel, ``(R << 16) | (G << 8) | B`` (a gray pixel ``g`` as ``g`` in all
three), ``width x height`` of them, and reads ``image_input_width/height`` and ``image_channel_count`` from the
hello (``image_channel_count == 1``: it converts the picture to gray first). A generated image library takes the
raw frame as ``width x height x channels`` floats 0..255; the runner unpacks the pixels into it. Three small
int8 CNNs (two trained for a few epochs on synthetic pictures, 12 x 10 pixels so that row/column order matters)
are compiled with an image impulse: RGB in and out, grayscale in, and RGB in converted to gray by the image
block. Every picture's scores through the client must be the library's own (the same C through ctypes, fed the
HWC frame the client's pixels stand for): identical floats. The library's own frame layout is accepted too, and
wrong counts or values that are no packed pixel are error replies after which the runner keeps serving.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pytest

W, H = 12, 10  # not square: a swapped width/height or row/column order changes the scores
LABELS = ["red", "green", "blue"]
CASES: dict[str, tuple[str, dict[str, Any], int]] = {  # name: (input channels, image block params, model channels)
    "rgb": ("RGB", {}, 3),
    "gray": ("Grayscale", {}, 1),
    "rgb2gray": ("RGB", {"channels": "Grayscale"}, 1),
}


@dataclass(frozen=True)
class ImageLib:
    lib: Path
    eim: Path
    raw_channels: int  # values per pixel in the library's raw frame
    model: bytes       # its int8 TFLite model


def _pictures(n: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """``[n, H, W, 3]`` uint8 noise with one channel raised (the label), so the scores spread over the labels."""
    rng = np.random.default_rng(seed)
    y = rng.integers(0, 3, n)
    pics = rng.integers(0, 160, (n, H, W, 3))
    pics[np.arange(n), :, :, y] += rng.integers(0, 96, (n, H, W))
    return pics.astype(np.uint8), y


def _train(channels: int) -> bytes:
    from crisp_eml.learn.quantize import to_int8
    from crisp_eml.learn.tf_setup import tf_modules

    _, keras = tf_modules()
    pics, y = _pictures(240, seed=channels)
    x = pics.astype(np.float32) / 255.0
    if channels == 1:  # a gray model learns brightness terciles of its own gray frames
        x = x.mean(axis=-1, keepdims=True)
        y = np.digitize(x.mean(axis=(1, 2, 3)), np.quantile(x.mean(axis=(1, 2, 3)), [1 / 3, 2 / 3]))
    keras.utils.set_random_seed(3)
    inp = keras.Input((H, W, channels))
    hid = keras.layers.Conv2D(4, 3, strides=2, activation="relu")(inp)
    out = keras.layers.Dense(3, activation="softmax")(keras.layers.Flatten()(hid))
    model = keras.Model(inp, out)
    model.compile("adam", "sparse_categorical_crossentropy")
    model.fit(x, y, epochs=3, batch_size=32, verbose=0)
    return to_int8(model, x[:64])


@pytest.fixture(scope="module")
def image_libs(tmp_path_factory: pytest.TempPathFactory) -> dict[str, ImageLib]:
    from crisp_eml.compiler.build import write_tree
    from crisp_eml.compiler.planner import plan_memory
    from crisp_eml.compiler.reader import read_tflite
    from crisp_eml.compiler.render import RenderOptions, render_library
    from crisp_eml.runtime.build import build_program

    root = tmp_path_factory.mktemp("eim-image")
    models = {c: _train(c) for c in (3, 1)}
    libs = {}
    for name, (channels, params, model_channels) in CASES.items():
        spec = {"input": {"type": "image", "width": W, "height": H, "channels": channels},
                "blocks": [{"type": "image", "params": params}]}
        g = read_tflite(models[model_channels])
        files = render_library(g, plan_memory(g), RenderOptions(name=f"cam_{name}", labels=LABELS, dsp=spec))
        assert json.loads(files["MANIFEST.json"])["dsp_in_c"] is True
        write_tree(files, root / name)
        eim = build_program(root / name, "eim", root / f"{name}.eim")
        libs[name] = ImageLib(root / name, eim, 3 if channels == "RGB" else 1, models[model_channels])
    return libs


Client = tuple[Any, dict[str, Any]]  # the official image client, started, and its hello reply


@pytest.fixture(params=sorted(CASES))
def client(request: pytest.FixtureRequest, image_libs: dict[str, ImageLib]) -> Iterator[tuple[ImageLib, Client]]:
    from edge_impulse_linux.image import ImageImpulseRunner

    lib = image_libs[request.param]
    r = ImageImpulseRunner(str(lib.eim))
    info = r.init()
    yield lib, (r, info)
    proc = r._runner
    r.stop()  # SIGINT, as the client does
    assert proc is not None and proc.wait(timeout=30) == 0


def _scores(reply: dict[str, Any]) -> np.ndarray:
    cls = reply["result"]["classification"]
    assert list(cls) == LABELS
    return np.array([cls[k] for k in LABELS], np.float32)


def _frame_for(lib: ImageLib, features: list[int]) -> np.ndarray:
    """The library's HWC frame that the client's packed pixels stand for."""
    px = np.array(features, np.int64).reshape(H, W)
    rgb = np.stack([(px >> 16) & 255, (px >> 8) & 255, px & 255], axis=-1).astype(np.float32)
    if lib.raw_channels == 1:
        assert (rgb[..., 0] == rgb[..., 1]).all() and (rgb[..., 1] == rgb[..., 2]).all()  # the client sent gray
        return rgb[..., :1]
    return rgb


def test_hello_describes_the_image(client: tuple[ImageLib, Client]) -> None:
    lib, (r, info) = client
    mp = info["model_parameters"]
    assert (mp["image_input_width"], mp["image_input_height"], mp["image_input_frames"]) == (W, H, 1)
    assert mp["image_channel_count"] == lib.raw_channels and r.isGrayscale == (lib.raw_channels == 1)
    assert mp["input_features_count"] == W * H  # one packed pixel per feature, as the client sends
    assert mp["sensor"] == 3 and mp["labels"] == LABELS and r.dim == (W, H)


def test_official_client_scores_are_the_librarys(client: tuple[ImageLib, Client]) -> None:
    from crisp_eml.runtime.engine import Engine

    lib, (r, _) = client
    pics, _ = _pictures(12, seed=99)
    pics[0] = 255  # the extremes: packed 0xFFFFFF and 0
    pics[1] = 0
    got, want = [], []
    with Engine(lib.lib) as engine:
        for pic in pics:
            features, cropped = r.get_features_from_image(pic)
            assert len(features) == W * H and cropped.shape[:2] == (H, W)
            if lib.raw_channels == 3:
                assert (cropped == pic).all()  # already at the model's size: no resizing or cropping
            frame = _frame_for(lib, features)
            got.append(_scores(r.classify(features)))
            want.append(engine.classify(frame).scores)
            # the library's own frame layout gives the same reply
            assert np.array_equal(_scores(r.classify(frame.ravel().tolist())), got[-1])
    got_a, want_a = np.stack(got), np.stack(want)
    assert np.array_equal(got_a, want_a)  # identical floats
    assert len({tuple(s) for s in got_a}) >= 4  # the pictures are told apart, not one saturated answer


def test_bad_image_requests_are_error_replies(client: tuple[ImageLib, Client]) -> None:
    lib, (r, _) = client
    good = r.get_features_from_image(np.full((H, W, 3), 77, np.uint8))[0]
    with pytest.raises(Exception, match=rf"takes {W * H} packed pixels .* or {W * H * lib.raw_channels} values"):
        r.classify(good + [0])
    with pytest.raises(Exception, match=rf"got {W * H - 1}"):
        r.classify(good[1:])
    for bad in (1.5e6 + 0.5, 16777216, -65793):
        with pytest.raises(Exception, match="pixel 3 is not a packed RGB value"):
            r.classify(good[:3] + [bad] + good[4:])
    ok = _scores(r.classify(good))  # still serving
    assert np.array_equal(ok, _scores(r.classify([77] * (W * H * lib.raw_channels))))


def test_glue_states_the_image_size(image_libs: dict[str, ImageLib], tmp_path: Path) -> None:
    from crisp_eml.compiler.build import write_tree
    from crisp_eml.compiler.planner import plan_memory
    from crisp_eml.compiler.reader import read_tflite
    from crisp_eml.compiler.render import RenderOptions, render_library
    from crisp_eml.runtime.glue import render_glue

    for name, lib in image_libs.items():
        header = render_glue(lib.lib)["eml_model.h"]
        for line in (f"#define EML_MODEL_IMAGE_WIDTH {W}\n", f"#define EML_MODEL_IMAGE_HEIGHT {H}\n",
                     f"#define EML_MODEL_IMAGE_INPUT_CHANNELS {lib.raw_channels}\n"):
            assert line in header, (name, line)
    # a features-in library (no impulse) is no image model
    g = read_tflite(image_libs["rgb"].model)
    write_tree(render_library(g, plan_memory(g), RenderOptions(name="feats", labels=LABELS)), tmp_path / "f")
    header = render_glue(tmp_path / "f")["eml_model.h"]
    assert "#define EML_MODEL_IMAGE_WIDTH 0\n" in header and "#define EML_MODEL_IMAGE_INPUT_CHANNELS 0\n" in header
