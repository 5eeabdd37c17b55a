"""CLI for the team server: ``eml serve``, ``eml members token ...``, ``eml members login-url`` and ``eml ingest-key``.

Thin: parse options, call :mod:`crisp_eml.server.serve` or the credential use cases, print a table or JSON.
A token or key secret is printed once, when it is made; listings never show it.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any

import typer

from crisp_eml.cli.common import open_project, print_json, print_table

JSON = Annotated[bool, typer.Option("--json", help="Print JSON.")]
token_app = typer.Typer(help="Member API tokens for the server (Authorization: Bearer).", no_args_is_help=True)
ingest_key_app = typer.Typer(help="Project ingestion keys (x-api-key): they may only add samples.",
                             no_args_is_help=True)


def serve(
    host: Annotated[str, typer.Option(help="Address to bind; anything but loopback needs TLS or --insecure.")]
    = "127.0.0.1",
    port: Annotated[int, typer.Option(help="TCP port.")] = 4800,
    workers: Annotated[int, typer.Option(help="Server processes.")] = 1,
    tls_cert: Annotated[Path | None, typer.Option("--tls-cert", help="TLS certificate (PEM).")] = None,
    tls_key: Annotated[Path | None, typer.Option("--tls-key", help="TLS private key (PEM).")] = None,
    insecure: Annotated[bool, typer.Option("--insecure", help="Allow a non-loopback address without TLS "
                                                              "(behind a TLS-terminating proxy).")] = False,
    log_level: Annotated[str, typer.Option(help="uvicorn log level.")] = "info",
    json_out: Annotated[bool, typer.Option("--json", help="Print where it listens as one JSON line on stdout, "
                                                          "before serving (for scripts).")] = False,
) -> None:
    """Serve this project's Studio, REST API, job runner and Edge Impulse compatible ingestion (docs/server.md).
    Prints a one-time Studio sign-in URL for the member running it."""
    import os
    import sys

    from crisp_eml.server.serve import serve as run
    from crisp_eml.store.project import find_root
    from crisp_eml.workspace.studio_sessions import create_login_link

    root = find_root()

    def announce(url: str) -> None:
        project = open_project()
        link = create_login_link(project, project.actor.name)
        login = f"{url}/login?token={link['token']}"
        if json_out:
            import json

            sys.stdout.write(json.dumps({"url": url, "pid": os.getpid(), "project": str(root), "login_url": login,
                                         "member": link["member"], "login_expires_at": link["expires_at"]}) + "\n")
        else:
            sys.stdout.write(f"crisp-eml Studio for {link['member']} (single use, until {link['expires_at']} UTC):"
                             f"\n    {login}\n")
        sys.stdout.flush()

    run(root, host=host, port=port, workers=workers, tls_cert=tls_cert, tls_key=tls_key, insecure=insecure,
        log_level=log_level, on_ready=announce)


def login_url(
    name: Annotated[str, typer.Argument(help="The member who will sign in.")],
    url: Annotated[str, typer.Option(help="Where the Studio is served.")] = "http://127.0.0.1:4800",
    ttl: Annotated[float, typer.Option(help="Seconds the link stays valid (it works once).")] = 600,
    json_out: JSON = False,
) -> None:
    """A one-time Studio sign-in URL for a member (your own, or anyone's with manage-members)."""
    from crisp_eml.workspace.studio_sessions import create_login_link

    link = create_login_link(open_project(), name, ttl_s=ttl)
    out = {**link, "login_url": f"{url.rstrip('/')}/login?token={link['token']}"}
    if json_out:
        print_json(out)
    else:
        typer.echo(f"Studio sign-in for {name} (single use, until {link['expires_at']} UTC):\n{out['login_url']}")


def _token_rows(items: list[dict[str, Any]]) -> list[list[Any]]:
    return [[t["id"], t["member"], ", ".join(t["scopes"]) or "all", t["state"], t["created_at"],
             t["expires_at"] or "never", t["last_used_at"] or ""] for t in items]


@token_app.command("create")
def token_create(
    name: Annotated[str, typer.Argument(help="The member the token acts as.")],
    scope: Annotated[list[str] | None, typer.Option("--scope", help="Limit the token to these permissions "
                                                                     "(repeatable; default: all of the persona's).")]
    = None,
    expires: Annotated[float | None, typer.Option(help="Days until it expires (default: never).")] = None,
    note: Annotated[str, typer.Option(help="What the token is for.")] = "",
    json_out: JSON = False,
) -> None:
    """Make an API token for a member (your own, or anyone's with manage-members). Shown once."""
    from crisp_eml.workspace.credentials import create_token

    t = create_token(open_project(), name, scopes=scope, expires_days=expires, note=note)
    if json_out:
        print_json(t)
    else:
        typer.echo(f"Token {t['id']} for {t['member']} (shown once, keep it secret):\n{t['token']}")


@token_app.command("ls")
def token_ls(member: Annotated[str | None, typer.Option(help="This member's tokens (needs manage-members for "
                                                             "someone else's).")] = None,
             all_members: Annotated[bool, typer.Option("--all", help="Every member's tokens (needs "
                                                                     "manage-members).")] = False,
             json_out: JSON = False) -> None:
    """List API tokens (never their secrets): yours by default."""
    from crisp_eml.workspace.credentials import list_tokens

    items = list_tokens(open_project(), member, all_members=all_members)
    if json_out:
        print_json(items)
        return
    print_table("API tokens", ["id", "member", "scopes", "state", "created", "expires", "last used"],
                _token_rows(items))


@token_app.command("revoke")
def token_revoke(token_id: Annotated[str, typer.Argument(help="Token id (or the whole token).")],
                 json_out: JSON = False) -> None:
    """Revoke a token at once."""
    from crisp_eml.workspace.credentials import revoke_token

    t = revoke_token(open_project(), token_id)
    if json_out:
        print_json(t)
    else:
        typer.echo(f"Revoked token {t['id']} of {t['member']}")


@ingest_key_app.command("create")
def key_create(name: Annotated[str, typer.Option(help="What the key is for (a device, a script).")] = "ingestion",
               json_out: JSON = False) -> None:
    """Make an ingestion key for devices and scripts (x-api-key). Shown once."""
    from crisp_eml.workspace.credentials import create_ingest_key

    k = create_ingest_key(open_project(), name)
    if json_out:
        print_json(k)
    else:
        typer.echo(f"Ingestion key {k['id']} ({k['name']}; shown once, keep it secret):\n{k['key']}")


@ingest_key_app.command("ls")
def key_ls(json_out: JSON = False) -> None:
    """List ingestion keys (never their secrets)."""
    from crisp_eml.workspace.credentials import list_ingest_keys

    items = list_ingest_keys(open_project())
    if json_out:
        print_json(items)
        return
    print_table("Ingestion keys", ["id", "name", "created by", "created", "state"],
                [[k["id"], k["name"], k["created_by"], k["created_at"], k["state"]] for k in items])


@ingest_key_app.command("revoke")
def key_revoke(key_id: Annotated[str, typer.Argument(help="Key id (or the whole key).")],
               json_out: JSON = False) -> None:
    """Revoke an ingestion key at once."""
    from crisp_eml.workspace.credentials import revoke_ingest_key

    k = revoke_ingest_key(open_project(), key_id)
    if json_out:
        print_json(k)
    else:
        typer.echo(f"Revoked ingestion key {k['id']}")


@ingest_key_app.command("hmac")
def key_hmac(rotate: Annotated[bool, typer.Option("--rotate", help="Make a new HMAC key (old signatures then "
                                                                   "fail).")] = False,
             json_out: JSON = False) -> None:
    """The project's HMAC key: signed acquisition files uploaded to the server are checked with it."""
    from crisp_eml.workspace.credentials import hmac_key

    key = hmac_key(open_project(), rotate=rotate)
    if json_out:
        print_json({"hmac_key": key})
    else:
        typer.echo(key)


def register(app: typer.Typer) -> None:
    app.command("serve")(serve)
    app.add_typer(ingest_key_app, name="ingest-key")
