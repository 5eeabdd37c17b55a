"""The ``eml`` command: registers each capability's sub-commands and maps errors to exit codes."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Annotated

import typer

from crisp_eml import __version__
from crisp_eml.cli.common import err_console, print_json
from crisp_eml.core.errors import EmlError
from crisp_eml.store.db import dispose_engines

app = typer.Typer(
    name="eml", help="crisp-eml: local-first embedded ML, from sensor data to a bit-exact C library.",
    no_args_is_help=True, add_completion=False, pretty_exceptions_enable=False,
)


@app.command()
def init(
    directory: Annotated[Path, typer.Argument(help="Folder for the new project (created if missing).")] = Path("."),
    name: Annotated[str | None, typer.Option(help="Project name (default: folder name).")] = None,
    member: Annotated[str | None, typer.Option(help="Owner member name (default: your user name).")] = None,
    persona: Annotated[str, typer.Option(help="Owner's CRISP-EML persona.")] = "ml-platform-developer",
    metadata_url: Annotated[str | None, typer.Option(help="SQLAlchemy URL (default: SQLite in .eml/).")] = None,
    blob_url: Annotated[str | None, typer.Option(help="Blob store folder or fsspec URL.")] = None,
    json_out: Annotated[bool, typer.Option("--json", help="Print JSON.")] = False,
) -> None:
    """Create a project: eml.toml, metadata database and content-addressed blob store."""
    from crisp_eml.store.project import Project

    p = Project.init(directory, name, member=member, persona=persona, metadata_url=metadata_url,
                     blob_url=blob_url)
    info = {"root": str(p.root), "name": p.name, "metadata_url": p.metadata_url, "blob_url": p.blob_url,
            "owner": p.actor.name}
    if json_out:
        print_json(info)
    else:
        typer.echo(f"Created project '{p.name}' in {p.root}")


@app.command()
def version(json_out: Annotated[bool, typer.Option("--json", help="Print JSON.")] = False) -> None:
    """Print the crisp-eml version."""
    if json_out:
        print_json({"version": __version__})
    else:
        typer.echo(__version__)


_registered = False


def _register() -> None:
    """Attach every capability's sub-commands once. Each module exposes ``register(app)``."""
    global _registered
    if _registered:
        return
    _registered = True
    from importlib import import_module

    for mod in ("data", "lifecycle", "compiler", "impulse", "features", "learn", "models", "inspect", "fleet"):
        import_module(f"crisp_eml.cli.{mod}").register(app)


def main(argv: list[str] | None = None) -> None:
    """Run the CLI: EmlError -> its exit code and one line; usage errors -> 2; anything else -> 70."""
    import os

    from rich.markup import escape
    from typer.exceptions import Abort, TyperException

    _register()
    try:
        try:
            rc = app(args=argv, standalone_mode=False)
        finally:
            dispose_engines()
    except EmlError as exc:
        err_console.print(f"[bold red]error:[/] {escape(str(exc))}", highlight=False, soft_wrap=True)
        sys.exit(exc.exit_code)
    except (KeyboardInterrupt, Abort):
        err_console.print("interrupted")
        sys.exit(130)
    except SystemExit:
        raise
    except TyperException as exc:  # click usage errors (bad option, missing argument)
        show = getattr(exc, "show", None)
        if callable(show):
            show()
        else:
            err_console.print(f"[bold red]error:[/] {escape(str(exc))}")
        sys.exit(int(getattr(exc, "exit_code", 2)))
    except Exception as exc:
        if os.environ.get("EML_DEBUG"):
            raise
        err_console.print(
            f"[bold red]internal error:[/] {type(exc).__name__}: {escape(str(exc))}\n"
            "This is a bug in crisp-eml; run again with EML_DEBUG=1 for the traceback.",
            highlight=False, soft_wrap=True,
        )
        sys.exit(70)
    sys.exit(rc if isinstance(rc, int) else 0)


if __name__ == "__main__":
    main()
