"""``eml ingest`` and ``eml data ...``: placeholder registration filled in by the data capability."""

from __future__ import annotations

import typer

data_app = typer.Typer(help="Samples, dataset versions, quality and export.", no_args_is_help=True)


def register(app: typer.Typer) -> None:
    app.add_typer(data_app, name="data")
