"""Reading and writing ``eml.toml``, the project's settings file.

Python ships a TOML reader (tomllib) but no writer; the settings are a flat two-level table of
strings, numbers and booleans, so a small writer is enough and keeps the file human-editable.
"""

from __future__ import annotations

import json
import os
import threading
import tomllib
from pathlib import Path
from typing import Any

from crisp_eml.core.errors import ProjectError

CONFIG_NAME = "eml.toml"


#: Tables of ``eml.toml`` and, for each, the keys whose values must be strings.
SECTIONS: dict[str, tuple[str, ...]] = {
    "project": ("name", "id"), "store": ("metadata_url", "blob_url"), "actor": ("member",),
    "audit": ("public_key",),
}


def read_config(path: Path) -> dict[str, Any]:
    try:
        with path.open("rb") as fh:
            cfg = tomllib.load(fh)
    except FileNotFoundError as exc:
        raise ProjectError(f"{path}: no project settings file") from exc
    except (tomllib.TOMLDecodeError, UnicodeDecodeError) as exc:
        raise ProjectError(f"{path}: invalid TOML: {exc}") from exc
    except OSError as exc:
        raise ProjectError(f"{path}: cannot read the project settings: {exc.strerror or exc}") from exc
    for section, keys in SECTIONS.items():
        table = cfg.get(section, {})
        if not isinstance(table, dict):
            raise ProjectError(f"{path}: '{section}' must be a table ([{section}]), got {table!r}")
        for key in keys:
            if key in table and not isinstance(table[key], str):
                raise ProjectError(f"{path}: [{section}] {key} must be a string, got {table[key]!r}")
    return cfg


def _value(v: Any) -> str:
    if isinstance(v, bool):
        return "true" if v else "false"
    if isinstance(v, int | float):
        return repr(v)
    if isinstance(v, str):
        return json.dumps(v)  # JSON string escapes are valid TOML basic strings
    if isinstance(v, list):
        return "[" + ", ".join(_value(x) for x in v) + "]"
    raise TypeError(f"cannot write {type(v).__name__} to TOML")


def dumps_config(cfg: dict[str, Any]) -> str:
    lines: list[str] = []
    for section, table in cfg.items():
        if not isinstance(table, dict):
            raise TypeError("top-level TOML values must be tables")
        lines.append(f"[{section}]")
        for key, v in table.items():
            lines.append(f"{key} = {_value(v)}")
        lines.append("")
    return "\n".join(lines)


def write_config(path: Path, cfg: dict[str, Any]) -> None:
    tmp = path.with_name(f".{path.name}.{os.getpid()}.{threading.get_ident()}.tmp")  # concurrent writers
    tmp.write_text(dumps_config(cfg), encoding="utf-8")
    tmp.replace(path)
