"""The ``info.labels`` file of an Edge Impulse dataset export: which files the export holds and, for each,
its category, label(s) and metadata. Pure: it parses given text and checks one file's label ranges against
a sample length; reading the folder and ingesting the files is :mod:`crisp_eml.workspace.ingest_info_labels`.

Shape (version 1; see docs/data.md): ``{"version": 1, "files": [{"path", "name"?, "category", "label",
"metadata"?, "boundingBoxes"?, "attachments"?}]}``, ``label`` being ``{"type": "label", "label": "x"}``,
``{"type": "unlabeled"}``, ``{"type": "multi-label", "labels": [{"startIndex", "endIndex", "label",
"labelMap"?}]}`` (value indices, ``endIndex`` inclusive) or ``{"type": "keyvalue-labels", "labels": {..}}``.
A very large export is NDJSON instead: the text starts with ``{"__ndjson":true,``, that first line holds
the top-level keys and each further line one ``{"__key": "files", "__item": <file entry>}`` (lines with
another ``__key`` are ignored, as Edge Impulse's uploader does).

Our rules beside Edge Impulse's: a missing ``version`` is accepted (the Python SDK's exports have none),
another version is refused; a path must stay inside the export folder (no absolute path, no ``..``) and
be listed once. Every error is an ``InputError`` naming ``info.labels`` and the field, e.g.
``files.3.label.type``.
"""

from __future__ import annotations

import json
import math
import unicodedata
from dataclasses import dataclass, field
from typing import Any

from crisp_eml.core.errors import InputError
from crisp_eml.data.formats.parsed import short_repr

INFO_LABELS = "info.labels"
NDJSON_MARKER = '{"__ndjson":true,'
#: Edge Impulse category -> (our category or None for the hash split, metadata ``ei_category`` kept or None)
CATEGORIES: dict[str, tuple[str | None, str | None]] = {
    "training": ("training", None), "testing": ("testing", None), "split": (None, None),
    "validation": ("testing", "validation"), "post-processing": ("testing", "post-processing"),
}
LABEL_TYPES = ("label", "unlabeled", "multi-label", "keyvalue-labels")
MAX_LABEL = 256  # characters: the samples table's label column
MAX_NAME = 512  # characters: the samples table's name column
BOX_FIELDS = ("x", "y", "width", "height")


@dataclass(frozen=True)
class LabelRange:
    """One labelled span of a multi-label sample: value indices ``start`` to ``end``, both included."""

    start: int
    end: int
    label: str
    label_map: dict[str, str] | None = None

    def to_dict(self) -> dict[str, Any]:
        d: dict[str, Any] = {"startIndex": self.start, "endIndex": self.end, "label": self.label}
        if self.label_map is not None:
            d["labelMap"] = dict(self.label_map)
        return d


@dataclass(frozen=True)
class InfoEntry:
    """One file of the export, as ``info.labels`` describes it (``index``: its place in ``files``)."""

    index: int
    path: str
    category: str  # as Edge Impulse wrote it (one of CATEGORIES)
    label_type: str  # one of LABEL_TYPES
    name: str | None = None
    label: str | None = None  # type "label"
    ranges: tuple[LabelRange, ...] = ()  # type "multi-label"
    key_values: dict[str, str] = field(default_factory=dict)  # type "keyvalue-labels"
    metadata: dict[str, Any] = field(default_factory=dict)
    bounding_boxes: tuple[dict[str, Any], ...] = ()
    attachments: tuple[str, ...] = ()
    line: int | None = None  # NDJSON: the line it came from
    source: str = INFO_LABELS  # the labels file, as errors name it

    @property
    def where(self) -> str:
        return f"files.{self.index}"

    @property
    def category_hint(self) -> str | None:
        """Our category (``None``: the hash split decides)."""
        return CATEGORIES[self.category][0]

    @property
    def sample_label(self) -> str | None:
        """The one label our sample gets: the label, or a multi-label file's label when all its ranges carry
        the same one; ``None`` otherwise (unlabeled, key-value labels, several labels)."""
        if self.label_type == "label":
            return self.label
        if self.label_type == "multi-label":
            labels = {r.label for r in self.ranges}
            return labels.pop() if len(labels) == 1 else None
        return None

    def sample_metadata(self) -> dict[str, Any]:
        """The entry's metadata plus, as JSON text under ``ei_*`` keys, what our samples cannot hold as such:
        the original category when it is not training/testing/split, several labelled ranges or their label
        maps, key-value labels, bounding boxes and attachment paths."""
        meta = dict(self.metadata)
        origin = CATEGORIES[self.category][1]
        if origin is not None:
            meta["ei_category"] = origin
        if self.label_type == "multi-label" and (self.sample_label is None
                                                 or any(r.label_map is not None for r in self.ranges)):
            meta["ei_structured_labels"] = json.dumps([r.to_dict() for r in self.ranges])
        if self.label_type == "keyvalue-labels":
            meta["ei_keyvalue_labels"] = json.dumps(self.key_values, sort_keys=True)
        if self.bounding_boxes:
            meta["ei_bounding_boxes"] = json.dumps(list(self.bounding_boxes))
        if self.attachments:
            meta["ei_attachments"] = json.dumps(list(self.attachments))
        return meta

    def unmapped(self) -> list[str]:
        """What of this entry our sample does not hold as Edge Impulse does (kept only in metadata)."""
        out: list[str] = []
        if self.label_type == "multi-label" and self.sample_label is None:
            names = sorted({r.label for r in self.ranges})
            out.append(f"{len(self.ranges)} labelled ranges with {len(names)} labels ({', '.join(names)[:120]}): "
                       "a sample holds one label, so it is stored unlabeled with the ranges in metadata "
                       "'ei_structured_labels'")
        elif self.label_type == "multi-label" and any(r.label_map is not None for r in self.ranges):
            out.append("the ranges' labelMap values are kept only in metadata 'ei_structured_labels'")
        if self.label_type == "keyvalue-labels":
            out.append("key-value labels: stored unlabeled, the labels kept in metadata 'ei_keyvalue_labels'")
        if self.bounding_boxes:
            out.append(f"{len(self.bounding_boxes)} bounding box(es) kept only in metadata 'ei_bounding_boxes'")
        if self.attachments:
            out.append(f"{len(self.attachments)} attachment(s) not ingested (paths in metadata 'ei_attachments')")
        return out


@dataclass(frozen=True)
class InfoLabels:
    version: int | None
    files: tuple[InfoEntry, ...]


def parse_info_labels(text: str | bytes, source: str = INFO_LABELS) -> InfoLabels:
    """Parse and check an ``info.labels`` file (JSON or Edge Impulse's NDJSON variant)."""
    if isinstance(text, bytes):
        try:
            text = text.decode("utf-8-sig")
        except UnicodeDecodeError as exc:
            raise InputError(f"not UTF-8 text: {exc.reason} at byte {exc.start}", source=source) from exc
    text = text.removeprefix("\ufeff")
    items: list[tuple[Any, int | None]]
    if text[:64].startswith(NDJSON_MARKER):
        top, items = _read_ndjson(text, source)
    else:
        top = _json(text, source, None)
        if not isinstance(top, dict):
            raise InputError(f"must be a JSON object, got {_kind(top)}", source=source)
        raw = top.get("files")
        if not isinstance(raw, list):
            raise InputError(f"must be a list of file entries, got {_kind(raw)}", source=source, field="files")
        items = [(item, None) for item in raw]
    version = top.get("version")
    if version is not None and (isinstance(version, bool) or version != 1):
        raise InputError(f"unsupported version {short_repr(version)} (only version 1 is known)", source=source,
                         field="version")
    entries: list[InfoEntry] = []
    seen: dict[str, int] = {}
    for i, (item, line) in enumerate(items):
        entry = _entry(item, i, line, source)
        key = _path_key(entry.path)
        if key in seen:
            raise _error(source, f"files.{i}.path", f"{entry.path!r} is listed twice (also files.{seen[key]})", line)
        seen[key] = i
        entries.append(entry)
    return InfoLabels(None if version is None else 1, tuple(entries))


def check_ranges(entry: InfoEntry, length: int) -> None:
    """A multi-label entry's ranges must lie inside the sample's ``length`` values and cover every one of
    them (as Edge Impulse requires); overlaps are allowed."""
    if entry.label_type != "multi-label":
        return
    source = entry.source
    where = f"{entry.where}.label.labels"
    covered = 0  # every index below this is covered
    for k, r in sorted(enumerate(entry.ranges), key=lambda kr: kr[1].start):
        if r.end >= length:
            raise _error(source, f"{where}.{k}.endIndex", f"{r.end} is out of bounds: the file {entry.path!r} has "
                                                          f"{length} values (last index {length - 1})", entry.line)
        if r.start > covered:
            break
        covered = max(covered, r.end + 1)
    if covered < length:
        raise _error(source, where, f"index {covered} of {entry.path!r} has no label: the ranges must cover all "
                                    f"{length} values, without gaps", entry.line)


def _read_ndjson(text: str, source: str) -> tuple[dict[str, Any], list[tuple[Any, int | None]]]:
    top: dict[str, Any] = {}
    items: list[tuple[Any, int | None]] = []
    first = True
    for n, raw_line in enumerate(text.splitlines(), start=1):
        line = raw_line.strip()
        if not line:
            continue
        obj = _json(line, source, n)
        if not isinstance(obj, dict):
            raise InputError(f"line {n}: each line must be a JSON object, got {_kind(obj)}", source=source)
        is_item = "__key" in obj and "__item" in obj
        if first and not is_item:
            top = {k: v for k, v in obj.items() if k != "__ndjson"}
        elif not is_item:
            raise InputError(f"line {n}: expected an object with '__key' and '__item'", source=source)
        elif obj["__key"] == "files":
            items.append((obj["__item"], n))
        first = False
    if "files" in top:
        raise InputError("the NDJSON header line must not hold 'files' (one line per file entry)", source=source,
                         field="files")
    return top, items


def _entry(item: Any, i: int, line: int | None, source: str) -> InfoEntry:
    w = f"files.{i}"
    if not isinstance(item, dict):
        raise _error(source, w, f"must be an object, got {_kind(item)}", line)
    path = item.get("path")
    if not isinstance(path, str) or not path.strip():
        raise _error(source, f"{w}.path", f"must be a non-empty relative path, got {_kind(path)}", line)
    parts = path.replace("\\", "/").split("/")
    if path.startswith(("/", "\\")) or (len(path) > 1 and path[1] == ":") or ".." in parts or "\0" in path:
        raise _error(source, f"{w}.path", f"{path!r} must be a path inside the export folder (no absolute path, "
                                          "no '..')", line)
    name = item.get("name")
    if name is not None and (not isinstance(name, str) or not name.strip()):
        raise _error(source, f"{w}.name", f"must be a non-empty text when given, got {_kind(name)}", line)
    if name is not None and len(name) > MAX_NAME:
        raise _error(source, f"{w}.name", f"is {len(name)} characters, more than {MAX_NAME}", line)
    category = item.get("category")
    if category not in CATEGORIES:
        raise _error(source, f"{w}.category", f"must be one of {', '.join(CATEGORIES)}, got {_short(category)}", line)
    label_type, label, ranges, key_values = _label(item.get("label"), f"{w}.label", line, source)
    return InfoEntry(
        index=i, path=path, category=category, label_type=label_type, name=name, label=label, ranges=ranges,
        key_values=key_values, metadata=_metadata(item.get("metadata"), f"{w}.metadata", line, source),
        bounding_boxes=_boxes(item.get("boundingBoxes"), f"{w}.boundingBoxes", line, source),
        attachments=_attachments(item.get("attachments"), f"{w}.attachments", line, source), line=line,
        source=source,
    )


def _label(
    raw: Any, w: str, line: int | None, source: str,
) -> tuple[str, str | None, tuple[LabelRange, ...], dict[str, str]]:
    if not isinstance(raw, dict):
        raise _error(source, w, f"must be an object with a 'type', got {_kind(raw)}", line)
    kind = raw.get("type")
    if kind not in LABEL_TYPES:
        raise _error(source, f"{w}.type", f"must be one of {', '.join(LABEL_TYPES)}, got {_short(kind)}", line)
    if kind == "label":
        return kind, _label_text(raw.get("label"), f"{w}.label", line, source), (), {}
    if kind == "unlabeled":
        return kind, None, (), {}
    labels = raw.get("labels")
    if kind == "keyvalue-labels":
        if not isinstance(labels, dict):
            raise _error(source, f"{w}.labels", f"must be an object of text values, got {_kind(labels)}", line)
        for k, v in labels.items():
            if not isinstance(v, str):
                raise _error(source, f"{w}.labels.{k}", f"must be text, got {_kind(v)}", line)
        return kind, None, (), dict(labels)
    if not isinstance(labels, list) or not labels:
        raise _error(source, f"{w}.labels", f"must be a non-empty list of ranges, got {_kind(labels)}", line)
    return kind, None, tuple(_range(r, f"{w}.labels.{k}", line, source) for k, r in enumerate(labels)), {}


def _range(raw: Any, w: str, line: int | None, source: str) -> LabelRange:
    if not isinstance(raw, dict):
        raise _error(source, w, f"must be an object with startIndex, endIndex and label, got {_kind(raw)}", line)
    bounds: list[int] = []
    for key in ("startIndex", "endIndex"):
        v = raw.get(key)
        if isinstance(v, float) and v.is_integer():
            v = int(v)
        if isinstance(v, bool) or not isinstance(v, int) or v < 0:
            raise _error(source, f"{w}.{key}", f"must be a whole number >= 0, got {_short(v)}", line)
        bounds.append(v)
    if bounds[0] > bounds[1]:
        raise _error(source, f"{w}.endIndex", f"{bounds[1]} is before startIndex {bounds[0]}", line)
    label_map = raw.get("labelMap")
    if label_map is not None:
        if not isinstance(label_map, dict):
            raise _error(source, f"{w}.labelMap", f"must be an object of text values, got {_kind(label_map)}", line)
        for k, v in label_map.items():
            if not isinstance(v, str):
                raise _error(source, f"{w}.labelMap.{k}", f"must be text, got {_kind(v)}", line)
        label_map = dict(label_map)
    return LabelRange(bounds[0], bounds[1], _label_text(raw.get("label"), f"{w}.label", line, source), label_map)


def _label_text(v: Any, w: str, line: int | None, source: str) -> str:
    if not isinstance(v, str) or not v.strip():
        raise _error(source, w, f"must be a non-empty text, got {_kind(v)}", line)
    if len(v) > MAX_LABEL:
        raise _error(source, w, f"is {len(v)} characters, more than {MAX_LABEL}", line)
    if any(unicodedata.category(c) == "Cc" for c in v):
        raise _error(source, w, f"must not hold control characters, got {short_repr(v)}", line)
    return v


def _metadata(raw: Any, w: str, line: int | None, source: str) -> dict[str, Any]:
    if raw is None:
        return {}
    if not isinstance(raw, dict):
        raise _error(source, w, f"must be an object, got {_kind(raw)}", line)
    for k, v in raw.items():
        if not k.strip():
            raise _error(source, w, "keys must not be empty", line)
        scalar = v is None or isinstance(v, str | bool | int) or (isinstance(v, float) and math.isfinite(v))
        if not scalar:
            raise _error(source, f"{w}.{k}", f"must be text, a number, true/false or null, got {_kind(v)}", line)
    return dict(raw)


def _boxes(raw: Any, w: str, line: int | None, source: str) -> tuple[dict[str, Any], ...]:
    if raw is None:
        return ()
    if not isinstance(raw, list):
        raise _error(source, w, f"must be a list, got {_kind(raw)}", line)
    for k, box in enumerate(raw):
        if not isinstance(box, dict):
            raise _error(source, f"{w}.{k}", f"must be an object, got {_kind(box)}", line)
        if not isinstance(box.get("label"), str):
            raise _error(source, f"{w}.{k}.label", f"must be text, got {_kind(box.get('label'))}", line)
        for key in BOX_FIELDS:
            v = box.get(key)
            if isinstance(v, bool) or not isinstance(v, int | float) or not math.isfinite(v):
                raise _error(source, f"{w}.{k}.{key}", f"must be a number, got {_kind(v)}", line)
    return tuple(dict(b) for b in raw)


def _attachments(raw: Any, w: str, line: int | None, source: str) -> tuple[str, ...]:
    if raw is None:
        return ()
    if not isinstance(raw, list):
        raise _error(source, w, f"must be a list of paths, got {_kind(raw)}", line)
    for k, v in enumerate(raw):
        if not isinstance(v, str) or not v:
            raise _error(source, f"{w}.{k}", f"must be a path, got {_kind(v)}", line)
    return tuple(raw)


def _json(text: str, source: str, line: int | None) -> Any:
    try:
        return json.loads(text)
    except (ValueError, RecursionError) as exc:
        at = f"line {line}: " if line is not None else ""
        raise InputError(f"{at}bad JSON: {str(exc)[:160]}", source=source) from exc


def _path_key(path: str) -> str:
    return "/".join(p for p in path.replace("\\", "/").split("/") if p not in ("", "."))


def _error(source: str, w: str, reason: str, line: int | None) -> InputError:
    return InputError(f"{reason} (line {line})" if line is not None else reason, source=source, field=w)


def _kind(v: Any) -> str:
    if v is None:
        return "nothing"
    if v == [] or v == {}:
        return f"an empty {type(v).__name__}"
    return type(v).__name__ if isinstance(v, dict | list) else short_repr(v)


def _short(v: Any) -> str:
    return "nothing" if v is None else short_repr(v)
