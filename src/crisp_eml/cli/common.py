"""Helpers every CLI module shares: JSON output, tables, opening the project, progress bars."""

from __future__ import annotations

import contextlib
import json
import sys
from collections.abc import Callable, Iterable, Iterator, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer
from rich.console import Console

if TYPE_CHECKING:  # imported where used, to keep `eml` start-up fast (the store pulls in SQLAlchemy and Alembic)
    from rich.progress import Progress

    from crisp_eml.store.project import Project

#: ``--background`` of the commands that can run as a job (train, test, features generate, compile, profile, report)
BACKGROUND = Annotated[bool, typer.Option("--background", help="Run as a background job: print the job id and "
                                                               "return at once (see 'eml jobs').")]

console = Console()
err_console = Console(stderr=True)
PIPE_MAX_WIDTH = 10_000  # widest table printed when stdout is not a terminal


def open_project(project_dir: Path | None = None) -> Project:
    from crisp_eml.store.project import Project

    return Project.open(project_dir)


def print_json(obj: Any) -> None:
    """Machine-readable output on stdout, nothing else."""
    sys.stdout.write(json.dumps(obj, indent=2, default=str, sort_keys=False) + "\n")


def print_table(title: str | None, columns: Sequence[str], rows: Iterable[Sequence[Any]]) -> None:
    from rich.table import Table

    table = Table(title=title)
    for c in columns:
        table.add_column(c)
    for r in rows:
        table.add_row(*["" if v is None else str(v) for v in r])
    if console.is_terminal:
        console.print(table)
        return
    # Piped or redirected: no terminal width to respect, so print the table at its natural width (ids, names and
    # numbers whole) instead of cutting it at 80 columns.
    from rich.measure import Measurement

    width = Measurement.get(console, console.options.update_width(PIPE_MAX_WIDTH), table).maximum
    Console(file=console.file, width=max(1, min(width, PIPE_MAX_WIDTH))).print(table)


def pct(value: Any) -> str:
    """A fraction as a percentage with two decimals ("98.24%"), "-" when unknown: how every table shows
    accuracies (JSON keeps the raw fraction)."""
    return "-" if value is None else f"{100 * float(value):.2f}%"


def progress(disable: bool = False) -> Progress:
    """A Rich progress bar on stderr (so ``--json`` stdout stays clean)."""
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

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
