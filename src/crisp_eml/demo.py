"""``make demo`` (``python -m crisp_eml.demo``): the lifecycle on built-in data, one numbered step at a time.

It creates a fresh project in ``./demo-project``, synthesizes the motion dataset, ingests it and prints a
summary table. Later capabilities append their steps (quality report, training, compiling, ...) to
``STEPS``; each step takes the shared :class:`DemoState` and prints one line about what it did.
"""

from __future__ import annotations

import shutil
import sys
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from rich.console import Console
from rich.table import Table

from crisp_eml.core.errors import EmlError
from crisp_eml.store.project import Project

console = Console()


@dataclass
class DemoState:
    root: Path
    project: Project | None = None
    data_dir: Path | None = None
    summary: list[tuple[str, str]] = field(default_factory=list)  # (what, value) rows for the final table
    extra: dict[str, Any] = field(default_factory=dict)  # for later steps

    @property
    def proj(self) -> Project:
        if self.project is None:
            raise RuntimeError("the project step has not run")
        return self.project


def step_create_project(st: DemoState) -> None:
    if st.root.exists():
        shutil.rmtree(st.root)
    st.project = Project.init(st.root, "demo", member="demo", persona="data-scientist")
    st.summary.append(("project", str(st.root)))
    console.print(f"created project in {st.root}")


def step_synthesize(st: DemoState) -> None:
    from crisp_eml.workspace.synth import synthesize

    st.data_dir = st.root / "synthetic-motion"
    files = synthesize(st.data_dir, kind="motion", seed=0)
    st.summary.append(("synthetic files", f"{len(files)} Edge Impulse JSON files in {st.data_dir.name}/"))
    console.print(f"synthesized {len(files)} motion recordings (idle, wave, circle, updown; 5 subjects)")


def step_ingest(st: DemoState) -> None:
    from crisp_eml.data.samples import list_samples
    from crisp_eml.workspace.ingest import ingest_paths

    assert st.data_dir is not None
    report = ingest_paths(st.proj, [st.data_dir])
    if report.failures:
        raise EmlError(f"demo ingest failed: {report.failures[0].reason}")
    samples = list_samples(st.proj)
    labels = Counter(s.label for s in samples)
    cats = Counter(s.category for s in samples)
    st.summary += [
        ("samples", str(len(samples))),
        ("labels", ", ".join(f"{k} {v}" for k, v in sorted(labels.items()))),
        ("split", ", ".join(f"{k} {v}" for k, v in sorted(cats.items()))),
        ("axes / rate", f"{', '.join(samples[0].axes)} @ {samples[0].frequency_hz:g} Hz"),
    ]
    console.print(f"ingested {len(report.samples)} samples")


STEPS: list[tuple[str, Callable[[DemoState], None]]] = [
    ("create project", step_create_project),
    ("synthesize data", step_synthesize),
    ("ingest", step_ingest),
]


def run(root: Path = Path("demo-project")) -> DemoState:
    st = DemoState(root=root.resolve())
    for i, (title, fn) in enumerate(STEPS, 1):
        console.rule(f"[bold]{i}. {title}")
        fn(st)
    table = Table(title="crisp-eml demo")
    table.add_column("what")
    table.add_column("value")
    for what, value in st.summary:
        table.add_row(what, value)
    console.print(table)
    return st


def main() -> int:
    try:
        run()
    except EmlError as exc:
        console.print(f"[bold red]error:[/] {exc}")
        return exc.exit_code
    return 0


if __name__ == "__main__":
    sys.exit(main())
