"""Refresh the Studio screenshots of docs/studio.md from the ones the browser tests save.

Run ``.venv/bin/python -m pytest tests/studio`` first (it writes full-page PNGs into ``test-output/studio/``),
then this script: it keeps the top of a few of them, scales them to 960 px wide and stores them as small
palette PNGs in ``docs/studio/``.
"""

from __future__ import annotations

import sys
from pathlib import Path

from PIL import Image

REPO = Path(__file__).resolve().parents[1]
SOURCE = REPO / "test-output" / "studio"
TARGET = REPO / "docs" / "studio"
WIDTH, MAX_HEIGHT = 960, 900  # px after scaling
SHOTS = {  # docs file -> (screenshot saved by a test, how many source pixels from the top to keep)
    "home.png": ("test_every_page_renders_the_demo_without_errors[1280]-1280-home.png", 1150),
    "data-viewer.png": ("test_viewer_plays_audio_with_its_spectrogram_and_shows_images-viewer-audio.png", 2250),
    "training.png": ("test_data_scientist_goes_from_an_empty_project_to_a_tested_model-trained.png", 1200),
    "testing.png": ("test_data_scientist_goes_from_an_empty_project_to_a_tested_model-tested.png", 1400),
    "development.png": ("test_embedded_developer_compiles_verifies_profiles_and_downloads_the_library-development.png",
                        1200),
    "gate-failed.png": ("test_business_leader_sets_requirements_and_sees_the_gate_fail_then_pass-business-gate-failed"
                        ".png", 1400),
    "narrow-home.png": ("test_every_page_renders_the_demo_without_errors[390]-390-home.png", 1100),
}


def main() -> int:
    TARGET.mkdir(parents=True, exist_ok=True)
    missing = [src for src, _ in SHOTS.values() if not (SOURCE / src).is_file()]
    if missing:
        print(f"missing in {SOURCE} (run pytest tests/studio first): {missing}", file=sys.stderr)
        return 1
    for name, (src, keep) in SHOTS.items():
        img = Image.open(SOURCE / src).convert("RGB")
        img = img.crop((0, 0, img.width, min(img.height, keep)))
        scale = min(1.0, WIDTH / img.width, MAX_HEIGHT / img.height)
        img = img.resize((round(img.width * scale), round(img.height * scale)), Image.Resampling.LANCZOS)
        img.quantize(colors=96, method=Image.Quantize.MEDIANCUT).save(TARGET / name, optimize=True)
        print(f"{TARGET / name}: {(TARGET / name).stat().st_size // 1024} KiB")
    return 0


if __name__ == "__main__":
    sys.exit(main())
