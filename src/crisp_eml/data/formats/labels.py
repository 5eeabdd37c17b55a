"""Labels and categories from file and folder names, the way data-collection tools name files.

- ``idle.01.csv``, ``idle.3f2a.json`` -> label ``idle`` (everything before the first dot, when the
  name has the ``<label>.<anything>.<ext>`` shape);
- ``yes/clip.wav`` -> label ``yes`` (the nearest folder below the ingested root that is not a
  category folder), when the file name itself carries no label;
- ``idle.csv`` -> ``idle`` (the stem) otherwise;
- a folder named ``training`` or ``testing`` on the way from the root sets the category.
"""

from __future__ import annotations

from pathlib import PurePath

CATEGORY_FOLDERS = {"training": "training", "testing": "testing", "train": "training", "test": "testing"}


def label_from_filename(filename: str) -> str | None:
    """``idle.01.csv`` -> ``idle``; ``None`` when the name has fewer than two dots."""
    base = PurePath(filename).name
    parts = base.split(".")
    if len(parts) >= 3 and parts[0]:
        return parts[0]
    return None


def stem_label(filename: str) -> str:
    base = PurePath(filename).name
    return base.split(".")[0] or base


def category_from_folders(relative: PurePath) -> str | None:
    """The category named by the nearest ``training``/``testing`` folder in ``relative``'s parents."""
    for part in reversed(relative.parent.parts):
        cat = CATEGORY_FOLDERS.get(part.lower())
        if cat:
            return cat
    return None


def label_from_folders(relative: PurePath) -> str | None:
    """The nearest parent folder of ``relative`` that is not a category folder."""
    for part in reversed(relative.parent.parts):
        if part.lower() not in CATEGORY_FOLDERS and part not in ("", ".", ".."):
            return part
    return None


def infer_label(relative: PurePath) -> str:
    """File-name label first, then folder label, then the file stem."""
    return label_from_filename(relative.name) or label_from_folders(relative) or stem_label(relative.name)


def sample_name(filename: str) -> str:
    """The sample's display name: the file name without its extension."""
    base = PurePath(filename).name
    return base.rsplit(".", 1)[0] if "." in base else base
