"""C sources of the generated runtime, kept as package data and cut into sections.

``eml_kernels.c`` and ``eml_kernels.h`` are split by ``/* @section NAME */ ... /* @end */`` markers so the
renderer emits only the kernels a model uses (plus ``common`` and the header's ``tail``).
"""

from __future__ import annotations

import re
from functools import cache
from importlib import resources

_SECTION = re.compile(r"/\* @section (\w+) \*/\n(.*?)/\* @end \*/\n", re.S)


@cache
def _sections(filename: str) -> tuple[str, dict[str, str]]:
    text = resources.files(__name__).joinpath(filename).read_text(encoding="utf-8")
    first = text.index("/* @section")
    return text[:first], {m.group(1): m.group(2) for m in _SECTION.finditer(text)}


def kernel_source(filename: str, sections: list[str]) -> str:
    """The file's banner plus ``common``, the named sections (in file order) and ``tail``; markers removed."""
    banner, parts = _sections(filename)
    wanted = {"common", "tail", *sections}
    unknown = set(sections) - set(parts)
    if unknown:
        raise KeyError(f"no section(s) {sorted(unknown)} in {filename}")
    return banner + "".join(body for name, body in parts.items() if name in wanted)


#: Whole files every classifier library carries next to its kernels (continuous-stream post-processing).
POSTPROCESS_FILES = ("eml_postprocess.h", "eml_postprocess.c")


def whole_source(filename: str) -> str:
    """A package C file as it is (no sections)."""
    return resources.files(__name__).joinpath(filename).read_text(encoding="utf-8")
