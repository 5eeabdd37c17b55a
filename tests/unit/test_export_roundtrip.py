"""Export -> ingest round trips give identical samples for every format applicable to each kind."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from crisp_eml.core.errors import NotFoundError
from crisp_eml.core.sample import Sample
from crisp_eml.data.formats.wav import write_wav
from crisp_eml.data.samples import list_samples
from crisp_eml.data.synth import write_motion
from crisp_eml.store.project import Project
from crisp_eml.store.tables.data import DatasetVersionItemRow, DatasetVersionRow
from crisp_eml.workspace.export import export_dataset
from crisp_eml.workspace.ingest import ingest_paths
from crisp_eml.workspace.remove_sample import remove_sample


def key(s: Sample) -> tuple[object, ...]:
    return (s.hash, s.label, s.category, s.kind, s.sensors, s.frequency_hz, s.shape)


@pytest.fixture()
def mixed(project: Project, tmp_path: Path) -> Project:
    src = tmp_path / "src"
    write_motion(src / "motion", subjects=2, per_subject=1)
    rng = np.random.default_rng(5)
    (src / "training").mkdir()
    pcm = np.round(rng.normal(0, 0.2, (400, 1)) * 32768).clip(-32768, 32767) / 32768
    (src / "training" / "yes.1.wav").write_bytes(write_wav(pcm.astype(np.float32), 16000))
    (src / "training" / "stereo.2.wav").write_bytes(write_wav(rng.normal(0, 0.3, (300, 2)).astype(np.float32), 44100))
    (src / "testing").mkdir()
    Image.fromarray(rng.integers(0, 256, (5, 7, 3), dtype=np.uint8)).save(src / "testing" / "cat.1.png")
    Image.fromarray(rng.integers(0, 256, (5, 7), dtype=np.uint8)).save(src / "testing" / "gray.1.png")
    assert ingest_paths(project, [src]).ok
    return project


@pytest.mark.parametrize(("fmt", "kinds"), [("ei-json", {"timeseries", "audio"}), ("ei-cbor", {"timeseries", "audio"}),
                                            ("csv", {"timeseries"}), ("wav", {"audio"}), ("png", {"image"})])
def test_round_trip(mixed: Project, tmp_path: Path, fmt: str, kinds: set[str]) -> None:
    out = tmp_path / f"out-{fmt}"
    report = export_dataset(mixed, out, fmt)
    original = [s for s in list_samples(mixed) if s.kind in kinds]
    assert len(report.written) == len(original) > 0
    assert len(report.skipped) == len(list_samples(mixed)) - len(original)
    assert all(p.split("/")[0] in ("training", "testing") for p in report.written)
    fresh = Project.init(tmp_path / f"fresh-{fmt}", "fresh", member="tester")
    r = ingest_paths(fresh, [out])
    assert r.ok, r.failures
    assert sorted(map(key, list_samples(fresh))) == sorted(map(key, original))
    if fmt == "ei-json":  # metadata (subject) travels in the crisp-eml payload.metadata extension
        subjects = {s.metadata.get("subject") for s in list_samples(fresh) if s.kind == "timeseries"}
        assert subjects == {"s01", "s02"}


def test_export_version_uses_snapshot_labels(mixed: Project, tmp_path: Path) -> None:
    samples = [s for s in list_samples(mixed) if s.kind == "timeseries"]
    with mixed.session() as s:
        v = DatasetVersionRow(message="v1", digest="0" * 64, author="tester")
        s.add(v)
        s.flush()
        for smp in samples:
            s.add(DatasetVersionItemRow(version_id=v.id, sample_id=smp.id, hash=smp.hash, name=smp.name,
                                        label="relabeled", category=smp.category))
        vid = v.id
    remove_sample(mixed, samples[0].id)
    r = export_dataset(mixed, tmp_path / "v", "csv", version=vid)
    assert len(r.written) == len(samples) - 1  # the removed sample's rate/sensors are gone with its row
    assert r.skipped == [{"id": samples[0].id, "reason": "no sample row describes this content any more"}]
    assert all(Path(p).name.startswith("relabeled.") for p in r.written)
    with pytest.raises(NotFoundError):
        export_dataset(mixed, tmp_path / "v2", "csv", version=999)
