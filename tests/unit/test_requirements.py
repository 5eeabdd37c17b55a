"""Requirements as data: parsing, validation, versioning and auditing."""

from __future__ import annotations

import pytest

from crisp_eml.core.errors import InputError
from crisp_eml.core.requirements import KPIS, apply_changes, parse_assignments, parse_value, split_key
from crisp_eml.store.project import Project
from crisp_eml.workspace.requirements import history, set_requirements, show


def test_values_are_normalised() -> None:
    assert parse_value(KPIS["min_accuracy"], "90%") == pytest.approx(0.9)
    assert parse_value(KPIS["min_accuracy"], "0.75") == pytest.approx(0.75)
    assert parse_value(KPIS["max_ram_bytes"], "64k") == 65536
    assert parse_value(KPIS["max_flash_bytes"], "1MiB") == 1048576
    assert parse_value(KPIS["min_samples_per_class"], "12") == 12
    kpi, cls = split_key("min_f1.walking")
    assert kpi.name == "min_f1" and cls == "walking"
    assert split_key("max_ram")[0].name == "max_ram_bytes"


@pytest.mark.parametrize(("key", "value", "needle"), [
    ("min_accuracy", "1.5", "between 0 and 1"),
    ("min_accuracy", "abc", "expected a number"),
    ("max_ram", "lots", "byte count"),
    ("min_quality_score", "120", "between 0 and 100"),
    ("max_latency_ms.x", "3", "not a per-class KPI"),
    ("max_speed", "3", "unknown KPI"),
])
def test_bad_values_name_the_field(key: str, value: str, needle: str) -> None:
    with pytest.raises(InputError, match=needle) as exc:
        apply_changes({}, None, {key: value})
    assert exc.value.field == key


def test_assignments_need_key_value() -> None:
    with pytest.raises(InputError, match="KEY=VALUE"):
        parse_assignments(["min_accuracy"])
    with pytest.raises(InputError, match="expected KEY=VALUE, got '>=3'"):
        parse_assignments([">=3"])


@pytest.mark.parametrize(("item", "needle"), [
    ("min_accuracy>=0.9", r"\(min_accuracy means measured >= VALUE\): use min_accuracy=0.9, not 'min_accuracy>=0.9'"),
    ("max_ram<=64k", r"\(max_ram_bytes means measured <= VALUE\): use max_ram=64k, not 'max_ram<=64k'"),
    ("min_f1.walking!=0.7", "use min_f1.walking=0.7, not 'min_f1.walking!=0.7'"),
    ("min_accuracy==0.9", "use min_accuracy=0.9, not 'min_accuracy==0.9'"),
    ("min_accuracy > 0.9", "use min_accuracy=0.9, not 'min_accuracy > 0.9'"),
    ("nosuchkpi>=3", "'nosuchkpi' is not a known KPI either.*use nosuchkpi=3, not 'nosuchkpi>=3'"),
])
def test_comparison_operators_are_refused_with_the_spelling_to_use(item: str, needle: str) -> None:
    """Requirements are KEY=VALUE; the KPI gives the direction, so '>=' is refused, not read as key 'min_accuracy>'."""
    with pytest.raises(InputError, match=needle) as exc:
        parse_assignments([item])
    assert exc.value.field == "requirements" and "requirements are KEY=VALUE" in exc.value.reason
    with pytest.raises(InputError, match="nothing to set"):
        parse_assignments([])


def test_every_change_is_a_new_audited_version(project: Project) -> None:
    r1 = set_requirements(project, ["target=cortex-m4f-80mhz", "min_accuracy=0.8", "max_ram=64k"], "first")
    r2 = set_requirements(project, ["max_ram=32k", "min_f1.walking=0.7"], "tighter")
    r3 = set_requirements(project, ["min_f1.walking="])  # removal
    same = set_requirements(project, ["max_ram=32k"])  # no change -> no new version
    assert (r1.version, r2.version, r3.version, same.version) == (1, 2, 3, 3)
    assert r2.kpis == {"max_ram_bytes": 32768, "min_accuracy": 0.8, "min_f1.walking": 0.7}
    assert "min_f1.walking" not in r3.kpis and r3.target == "cortex-m4f-80mhz"
    assert [v.version for v in history(project)] == [1, 2, 3]
    assert show(project).version == 3
    acts = [e.action for e in project.audit_entries()]
    assert acts.count("requirements.set") == 3


def test_invalid_change_writes_nothing(project: Project) -> None:
    set_requirements(project, ["min_accuracy=0.8"])
    n = len(project.audit_entries())
    with pytest.raises(InputError):
        set_requirements(project, ["max_ram=64k", "min_accuracy=2"])
    assert show(project).kpis == {"min_accuracy": 0.8}
    assert len(project.audit_entries()) == n


def test_target_is_checked_against_the_catalog(project: Project) -> None:
    assert set_requirements(project, ["target=cortex-m4"]).target == "cortex-m4f-80mhz"
    with pytest.raises(InputError, match="unknown target device 'pdp-11'") as exc:
        set_requirements(project, ["target=pdp-11"])
    assert exc.value.field == "target" and show(project).target == "cortex-m4f-80mhz"
