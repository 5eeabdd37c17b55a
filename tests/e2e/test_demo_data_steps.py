"""The data steps of ``make demo``: fresh project, synthetic motion data, ingest, summary rows."""

from __future__ import annotations

from pathlib import Path

from crisp_eml.data.samples import list_samples
from crisp_eml.demo import DemoState, step_create_project, step_ingest, step_synthesize


def test_demo_data_steps(tmp_path: Path) -> None:
    st = DemoState(root=tmp_path / "demo-project")
    st.root.mkdir()
    (st.root / "stale.txt").write_text("from an earlier run")
    for step in (step_create_project, step_synthesize, step_ingest):
        step(st)
    assert not (st.root / "stale.txt").exists()  # fresh each run
    samples = list_samples(st.proj)
    assert len(samples) == 120 and {s.label for s in samples} == {"idle", "wave", "circle", "updown"}
    assert {s.metadata["subject"] for s in samples} == {f"s0{i}" for i in range(1, 6)}
    assert dict(st.summary)["samples"] == "120"
