"""Labels and categories from file and folder names."""

from __future__ import annotations

from pathlib import PurePath

from crisp_eml.data.formats.labels import (
    category_from_folders,
    infer_label,
    label_from_filename,
    sample_name,
)


def test_label_from_file_name() -> None:
    assert label_from_filename("idle.01.csv") == "idle"
    assert label_from_filename("idle.3f2a.json") == "idle"
    assert label_from_filename("idle.csv") is None
    assert label_from_filename(".hidden.x.csv") is None


def test_infer_label_precedence() -> None:
    assert infer_label(PurePath("walk/idle.01.csv")) == "idle"
    assert infer_label(PurePath("yes/clip.wav")) == "yes"
    assert infer_label(PurePath("training/yes/clip.wav")) == "yes"
    assert infer_label(PurePath("testing/clip.wav")) == "clip"
    assert infer_label(PurePath("updown.csv")) == "updown"


def test_category_from_folders_nearest_wins() -> None:
    assert category_from_folders(PurePath("training/a/x.csv")) == "training"
    assert category_from_folders(PurePath("testing/training/x.csv")) == "training"
    assert category_from_folders(PurePath("data/x.csv")) is None


def test_sample_name() -> None:
    assert sample_name("idle.01.csv") == "idle.01"
    assert sample_name("noext") == "noext"


def test_parent_references_are_not_labels() -> None:
    """A path that climbs out of the root (``../clip.wav``) has no folder label: the stem is used."""
    assert infer_label(PurePath("../clip.wav")) == "clip"
    assert infer_label(PurePath("../yes/clip.wav")) == "yes"
