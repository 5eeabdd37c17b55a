"""The ``eml`` command: registers each capability's sub-commands and maps errors to exit codes."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

from crisp_eml import __version__
from crisp_eml.cli.common import err_console, print_json
from crisp_eml.core.errors import EmlError

if TYPE_CHECKING:
    from typer.models import CommandInfo, TyperInfo

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
    force: Annotated[bool, typer.Option("--force", help="Create the project even inside another project's "
                                                        "folder (refused by default).")] = False,
    json_out: Annotated[bool, typer.Option("--json", help="Print JSON.")] = False,
) -> None:
    """Create a project: eml.toml, metadata database and content-addressed blob store."""
    from crisp_eml.store.project import Project

    p = Project.init(directory, name, member=member, persona=persona, metadata_url=metadata_url,
                     blob_url=blob_url, nested=force)
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


# The modules under crisp_eml.cli that attach sub-commands (each exposes ``register(app)``), in `eml --help` order.
_MODULES = ("data", "capture", "lifecycle", "compiler", "impulse", "dsp", "features", "learn", "models", "inspect",
            "fleet", "server", "jobs", "calibrate", "run", "devices", "agent")
# Top-level command or group name -> the module that registers it, so a command imports only its own module and
# Typer builds only its options (start-up time). A name missing here still works: main() then registers every
# module, only slower. tests/unit/test_cli_startup.py checks that this matches what the modules register.
_COMMAND_MODULES: dict[str, str] = {
    "ingest": "data", "data": "data", "capture": "capture",
    "gate": "lifecycle", "status": "lifecycle", "whoami": "lifecycle", "report": "lifecycle",
    "requirements": "lifecycle", "members": "lifecycle", "audit": "lifecycle",
    "compile": "compiler", "verify": "compiler", "profile": "compiler", "targets": "compiler",
    "impulse": "impulse", "dsp": "dsp", "features": "features",
    "train": "learn", "test": "learn", "runs": "learn",
    "models": "models", "inspect": "inspect",
    "deploy": "fleet", "formats": "fleet", "bundle": "fleet", "keys": "fleet",
    "serve": "server", "ingest-key": "server",
    "jobs": "jobs", "calibrate": "calibrate", "run": "run", "devices": "devices", "agent": "agent",
}
# module -> (commands, groups) it added to ``app``; a module registers at most once per process
_added: dict[str, tuple[list[CommandInfo], list[TyperInfo]]] = {}


def _register_module(mod: str) -> None:
    """Import ``crisp_eml.cli.<mod>`` and attach its sub-commands, once."""
    if mod in _added:
        return
    from importlib import import_module

    commands, groups = list(app.registered_commands), list(app.registered_groups)
    import_module(f"crisp_eml.cli.{mod}").register(app)
    _added[mod] = ([c for c in app.registered_commands if not any(c is o for o in commands)],
                   [g for g in app.registered_groups if not any(g is o for o in groups)])


def _register() -> None:
    """Attach every capability's sub-commands once, in :data:`_MODULES` order whatever ran before in-process."""
    for mod in _MODULES:
        _register_module(mod)
    added = [_added[m] for m in _MODULES]
    own_ids = {id(x) for cs, gs in added for x in (*cs, *gs)}
    app.registered_commands[:] = [c for c in app.registered_commands if id(c) not in own_ids] + [
        c for cs, _ in added for c in cs]
    app.registered_groups[:] = [g for g in app.registered_groups if id(g) not in own_ids] + [
        g for _, gs in added for g in gs]


def _register_for(args: list[str]) -> None:
    """Register only what ``eml ARGS`` needs: nothing for ``init``/``version``, one module for a known command,
    everything for ``eml``, ``eml --help`` or an unknown name (so the usage error lists every command)."""
    name = next((a for a in args if not a.startswith("-")), None)
    if name in ("init", "version"):
        return
    mod = _COMMAND_MODULES.get(name) if name is not None else None
    if mod is None:
        _register()
    else:
        _register_module(mod)


def _dispose_engines() -> None:
    """Close the engines a command made; a command that never opened the store (SQLAlchemy) has none."""
    db = sys.modules.get("crisp_eml.store.db")
    if db is not None:
        db.dispose_engines()


def main(argv: list[str] | None = None) -> None:
    """Run the CLI: EmlError -> its exit code and one line; usage errors -> 2; anything else -> 70."""
    import os

    from rich.markup import escape
    from typer.exceptions import Abort, TyperException

    _register_for(sys.argv[1:] if argv is None else argv)
    try:
        try:
            rc = app(args=argv, standalone_mode=False)
        finally:
            _dispose_engines()
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
