"""The Edge Impulse export's ``info.labels`` parser: every label type, the NDJSON variant, the label-range
check against a sample's length, and malformed files each refused with the field they break."""

from __future__ import annotations

import json
from typing import Any

import pytest

from crisp_eml.core.errors import InputError
from crisp_eml.data.formats.ei_info_labels import check_ranges, parse_info_labels


def entry(**over: Any) -> dict[str, Any]:
    e: dict[str, Any] = {"path": "training/idle.01.json", "name": "01", "category": "training",
                         "label": {"type": "label", "label": "idle"}}
    e.update(over)
    return e


def doc(*files: dict[str, Any], **top: Any) -> str:
    return json.dumps({"version": 1, "files": list(files), **top})


def test_every_label_type_and_its_mapping() -> None:
    info = parse_info_labels(doc(
        entry(metadata={"subject": "s1", "take": 3}),
        entry(path="testing/x.wav", name=None, category="testing", label={"type": "unlabeled"}),
        entry(path="a.csv", category="split", label={"type": "multi-label", "labels": [
            {"startIndex": 0, "endIndex": 4, "label": "idle"}, {"startIndex": 5, "endIndex": 9, "label": "wave"}]}),
        entry(path="b.csv", category="validation", label={"type": "multi-label", "labels": [
            {"startIndex": 0, "endIndex": 9, "label": "idle"}]}),
        entry(path="c.csv", category="post-processing", label={"type": "keyvalue-labels",
                                                              "labels": {"speed": "fast", "mood": "ok"}}),
        entry(path="d.jpg", boundingBoxes=[{"label": "cat", "x": 1, "y": 2, "width": 3, "height": 4}],
              attachments=["d.txt"]),
    ))
    assert info.version == 1 and [e.index for e in info.files] == [0, 1, 2, 3, 4, 5]
    plain, unlabeled, multi, single, keyvalue, boxed = info.files
    assert (plain.sample_label, plain.category_hint, plain.name) == ("idle", "training", "01")
    assert plain.sample_metadata() == {"subject": "s1", "take": 3} and plain.unmapped() == []
    assert (unlabeled.sample_label, unlabeled.category_hint, unlabeled.name) == (None, "testing", None)
    assert unlabeled.unmapped() == []
    # several labels: no single label, the ranges kept in metadata and reported as not mapped
    assert multi.sample_label is None and multi.category_hint is None  # split: our hash split decides
    assert json.loads(multi.sample_metadata()["ei_structured_labels"]) == [
        {"startIndex": 0, "endIndex": 4, "label": "idle"}, {"startIndex": 5, "endIndex": 9, "label": "wave"}]
    assert len(multi.unmapped()) == 1 and "idle, wave" in multi.unmapped()[0]
    # one label over the whole sample: exactly that label, nothing else to keep
    assert single.sample_label == "idle" and single.category_hint == "testing"
    assert single.sample_metadata() == {"ei_category": "validation"} and single.unmapped() == []
    assert keyvalue.sample_label is None and keyvalue.category_hint == "testing"
    meta = keyvalue.sample_metadata()
    assert meta["ei_category"] == "post-processing"
    assert json.loads(meta["ei_keyvalue_labels"]) == {"speed": "fast", "mood": "ok"}
    assert any("key-value" in n for n in keyvalue.unmapped())
    meta = boxed.sample_metadata()
    assert json.loads(meta["ei_bounding_boxes"]) == [{"label": "cat", "x": 1, "y": 2, "width": 3, "height": 4}]
    assert json.loads(meta["ei_attachments"]) == ["d.txt"] and len(boxed.unmapped()) == 2


def test_label_map_on_a_single_label_keeps_the_label_and_the_ranges() -> None:
    (e,) = parse_info_labels(doc(entry(label={"type": "multi-label", "labels": [
        {"startIndex": 0, "endIndex": 3, "label": "idle", "labelMap": {"k": "a"}}]}))).files
    assert e.sample_label == "idle"
    assert json.loads(e.sample_metadata()["ei_structured_labels"])[0]["labelMap"] == {"k": "a"}
    assert any("labelMap" in n for n in e.unmapped())


def test_python_sdk_export_without_version_and_with_empty_boxes() -> None:
    text = json.dumps({"files": [{"boundingBoxes": [], "category": "testing", "label": {"label": "diode",
                                  "type": "label"}, "name": "14_8.png.x", "path": "testing/diode.14_8.png.x.jpg"}]})
    info = parse_info_labels(text.encode("utf-8-sig"))
    assert info.version is None
    (e,) = info.files
    assert (e.sample_label, e.category_hint, e.bounding_boxes, e.sample_metadata()) == ("diode", "testing", (), {})


def compact(obj: Any) -> str:
    """JSON as Edge Impulse's exporter writes it (no spaces), which its NDJSON marker relies on."""
    return json.dumps(obj, separators=(",", ":"))


def test_ndjson_variant() -> None:
    lines = [compact({"__ndjson": True, "version": 1}),
             compact({"__key": "files", "__item": entry()}),
             "",
             compact({"__key": "other", "__item": {"ignored": True}}),
             compact({"__key": "files", "__item": entry(path="testing/b.csv", category="testing",
                                                        label={"type": "unlabeled"})})]
    text = "\r\n".join(lines)
    assert text.startswith('{"__ndjson":true,')
    info = parse_info_labels(text)
    assert info.version == 1
    assert [(e.path, e.sample_label, e.line) for e in info.files] == [
        ("training/idle.01.json", "idle", 2), ("testing/b.csv", None, 5)]
    bad = "\n".join([lines[0], lines[1], compact({"__key": "files", "__item": entry(path="x.csv", label={})})])
    with pytest.raises(InputError) as err:
        parse_info_labels(bad)
    assert err.value.field == "files.1.label.type" and "line 3" in str(err.value)
    with pytest.raises(InputError) as err:
        parse_info_labels(lines[0] + "\n[1, 2]")
    assert "line 2" in str(err.value)
    with pytest.raises(InputError) as err:
        parse_info_labels(compact({"__ndjson": True, "version": 2}))
    assert err.value.field == "version"


def test_json_text_that_only_looks_like_ndjson_later_is_plain_json() -> None:
    text = json.dumps({"version": 1, "files": [entry()], "__ndjson": True})  # marker not at the start
    assert len(parse_info_labels(text).files) == 1


def test_ranges_must_cover_the_sample_without_gaps() -> None:
    (e,) = parse_info_labels(doc(entry(label={"type": "multi-label", "labels": [
        {"startIndex": 5, "endIndex": 9, "label": "b"}, {"startIndex": 0, "endIndex": 6, "label": "a"}]}))).files
    check_ranges(e, 10)  # overlapping, unordered, complete
    with pytest.raises(InputError) as err:
        check_ranges(e, 12)
    assert err.value.field == "files.0.label.labels" and "index 10" in str(err.value)
    assert err.value.source == "info.labels"
    with pytest.raises(InputError) as err:
        check_ranges(e, 8)
    assert err.value.field == "files.0.label.labels.0.endIndex"
    (gap,) = parse_info_labels(doc(entry(label={"type": "multi-label", "labels": [
        {"startIndex": 0, "endIndex": 2, "label": "a"}, {"startIndex": 4, "endIndex": 9, "label": "b"}]}))).files
    with pytest.raises(InputError) as err:
        check_ranges(gap, 10)
    assert "index 3" in str(err.value)
    (plain,) = parse_info_labels(doc(entry())).files
    check_ranges(plain, 1)  # nothing to check


BAD: list[tuple[str, str | None]] = [
    ("{not json", None),
    ("[]", None),
    (json.dumps({"version": 2, "files": []}), "version"),
    (json.dumps({"version": "1", "files": []}), "version"),
    (json.dumps({"version": True, "files": []}), "version"),
    (json.dumps({"version": 1}), "files"),
    (json.dumps({"version": 1, "files": {}}), "files"),
    (json.dumps({"version": 1, "files": [entry(), "x"]}), "files.1"),
    (doc(entry(), entry(path="b.csv"), {k: v for k, v in entry(path="c.csv").items() if k != "path"}),
     "files.2.path"),
    (doc(entry(path="")), "files.0.path"),
    (doc(entry(path="/etc/passwd.csv")), "files.0.path"),
    (doc(entry(path="../outside.csv")), "files.0.path"),
    (doc(entry(path="C:\\data\\a.csv")), "files.0.path"),
    (doc(entry(), entry(path="./training/idle.01.json")), "files.1.path"),
    (doc(entry(name=5)), "files.0.name"),
    (doc(entry(category="anomaly")), "files.0.category"),
    (doc({k: v for k, v in entry().items() if k != "category"}), "files.0.category"),
    (doc({k: v for k, v in entry().items() if k != "label"}), "files.0.label"),
    (doc(entry(label="idle")), "files.0.label"),
    (doc(entry(), entry(path="b.csv"), entry(path="c.csv"), entry(path="d.csv", label={"type": "bogus"})),
     "files.3.label.type"),
    (doc(entry(label={"type": "label"})), "files.0.label.label"),
    (doc(entry(label={"type": "label", "label": ""})), "files.0.label.label"),
    (doc(entry(label={"type": "label", "label": "x" * 257})), "files.0.label.label"),
    (doc(entry(label={"type": "label", "label": "a\nb"})), "files.0.label.label"),
    (doc(entry(name="n" * 513)), "files.0.name"),
    (doc(entry(label={"type": "multi-label", "labels": []})), "files.0.label.labels"),
    (doc(entry(label={"type": "multi-label", "labels": [{"startIndex": 0, "label": "a"}]})),
     "files.0.label.labels.0.endIndex"),
    (doc(entry(label={"type": "multi-label", "labels": [{"startIndex": -1, "endIndex": 2, "label": "a"}]})),
     "files.0.label.labels.0.startIndex"),
    (doc(entry(label={"type": "multi-label", "labels": [{"startIndex": 0.5, "endIndex": 2, "label": "a"}]})),
     "files.0.label.labels.0.startIndex"),
    (doc(entry(label={"type": "multi-label", "labels": [{"startIndex": 3, "endIndex": 2, "label": "a"}]})),
     "files.0.label.labels.0.endIndex"),
    (doc(entry(label={"type": "multi-label", "labels": [{"startIndex": 0, "endIndex": 2, "label": 7}]})),
     "files.0.label.labels.0.label"),
    (doc(entry(label={"type": "multi-label", "labels": [
        {"startIndex": 0, "endIndex": 2, "label": "a", "labelMap": {"k": 1}}]})), "files.0.label.labels.0.labelMap.k"),
    (doc(entry(label={"type": "keyvalue-labels", "labels": ["a"]})), "files.0.label.labels"),
    (doc(entry(label={"type": "keyvalue-labels", "labels": {"k": 1}})), "files.0.label.labels.k"),
    (doc(entry(metadata=["a"])), "files.0.metadata"),
    (doc(entry(metadata={"k": {"nested": 1}})), "files.0.metadata.k"),
    (doc(entry(boundingBoxes={})), "files.0.boundingBoxes"),
    (doc(entry(boundingBoxes=[{"label": "a", "x": 0, "y": 0, "width": "3", "height": 1}])),
     "files.0.boundingBoxes.0.width"),
    (doc(entry(attachments=[3])), "files.0.attachments.0"),
]


@pytest.mark.parametrize(("text", "field"), BAD)
def test_malformed_info_labels_names_the_field(text: str, field: str | None) -> None:
    with pytest.raises(InputError) as err:
        parse_info_labels(text, "export/info.labels")
    assert err.value.source == "export/info.labels"
    assert err.value.field == field
    assert str(err.value).startswith("export/info.labels: ")


def test_bytes_that_are_not_utf8() -> None:
    with pytest.raises(InputError) as err:
        parse_info_labels(b'{"files": ["\xff"]}')
    assert "UTF-8" in str(err.value) and err.value.source == "info.labels"
