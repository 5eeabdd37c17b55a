"""Helpers every CLI module shares: JSON output, tables, opening the project, progress bars."""

from __future__ import annotations

import contextlib
import json
import sys
from collections.abc import Callable, Iterable, Iterator, Sequence
from pathlib import Path
from typing import Any

from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table

from crisp_eml.store.project import Project

console = Console()
err_console = Console(stderr=True)


def open_project(project_dir: Path | None = None) -> Project:
    return Project.open(project_dir)


def print_json(obj: Any) -> None:
    """Machine-readable output on stdout, nothing else."""
    sys.stdout.write(json.dumps(obj, indent=2, default=str, sort_keys=False) + "\n")


def print_table(title: str | None, columns: Sequence[str], rows: Iterable[Sequence[Any]]) -> None:
    table = Table(title=title)
    for c in columns:
        table.add_column(c)
    for r in rows:
        table.add_row(*["" if v is None else str(v) for v in r])
    console.print(table)


def progress(disable: bool = False) -> Progress:
    """A Rich progress bar on stderr (so ``--json`` stdout stays clean)."""
    return Progress(
        TextColumn("[progress.description]{task.description}"), BarColumn(), MofNCompleteColumn(),
        TimeElapsedColumn(), console=err_console, disable=disable or not err_console.is_terminal,
        transient=False,
    )


@contextlib.contextmanager
def progress_tick(label: str, disable: bool = False) -> Iterator[Callable[[int, int, str], None]]:
    """A :func:`progress` bar with one task, as the ``on_progress(done, total, name)`` callback use cases take."""
    with progress(disable=disable) as bar:
        task = bar.add_task(label, total=None)

        def tick(done: int, total: int, _name: str) -> None:
            bar.update(task, completed=done, total=total)

        yield tick
