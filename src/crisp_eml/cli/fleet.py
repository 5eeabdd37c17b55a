"""CLI for deployment: ``eml deploy``, ``eml formats``, ``eml bundle verify`` and ``eml keys show`` (thin: parse,
call, render)."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from crisp_eml.cli.common import open_project, print_json, print_table
from crisp_eml.core.errors import VerificationError

JSON = Annotated[bool, typer.Option("--json", help="Print JSON.")]
bundle_app = typer.Typer(help="Signed deployable bundles.", no_args_is_help=True)
keys_app = typer.Typer(help="The project's bundle-signing key.", no_args_is_help=True)


def deploy(
    model: Annotated[str, typer.Argument(help="Model version, e.g. models:/motion@production or models:/motion/3.")],
    target: Annotated[str, typer.Option("--target", help="Catalog target id, e.g. cortex-m4f-80mhz.")],
    out: Annotated[Path, typer.Option("-o", "--out", help="Bundle file to write (.zip).")],
    library: Annotated[Path | None, typer.Option("--library", help="Compiled library folder to ship "
                                                 "(default: the latest 'eml compile' of the model, or compile now).")]
    = None,
    force: Annotated[bool, typer.Option("--force", help="Replace an existing bundle file.")] = False,
    fmt: Annotated[str, typer.Option("--format", help="Deployment format shipped in the bundle besides the C "
                                     "library (see 'eml formats'): c, arduino, cmake, eim, linux, wasm.")] = "c",
    arch: Annotated[str | None, typer.Option("--arch", help="CPU architecture for eim/linux: x86_64 (default) or "
                                             "aarch64.")] = None,
    json_out: JSON = False,
) -> None:
    """Build a signed bundle (C library, int8 model, manifest, and the --format build) of a model whose gate
    passed for the target."""
    from crisp_eml.workspace.deploy import deploy as run_deploy

    r = run_deploy(open_project(), model, target, out, library=library, force=force, fmt=fmt, arch=arch)
    if json_out:
        print_json(r.to_dict())
        return
    how = "compiled now" if r.compiled_now else "existing library"
    shipped = "" if r.format == "c" else f", format {r.format}" + (f" ({r.arch})" if r.arch else "")
    typer.echo(f"Wrote bundle {r.bundle} ({r.size_bytes} B, sha256 {r.bundle_sha256[:16]}): {r.model} for "
               f"{r.target}, gate #{r.gate}, library '{r.library}' ({how}){shipped}, signed by key "
               f"{r.key_fingerprint}")


def formats(json_out: JSON = False) -> None:
    """List the deployment formats, what each needs here (Debian packages) and whether it is installed."""
    from crisp_eml.runtime.formats import FORMATS

    rows = [f.to_dict() for f in FORMATS.values()]
    if json_out:
        print_json(rows)
        return

    def needs(r: dict[str, object]) -> str:
        table = r["needs"]
        assert isinstance(table, dict)
        return "; ".join(f"{arch}: " + ", ".join(f"{t['tool']} ({t['debian_package']}"
                                                  f"{'' if t['present'] else ', MISSING'})" for t in tools)
                         for arch, tools in table.items()) or "-"

    print_table("deployment formats", ["format", "output", "archs", "needs here", "on the device", "description"],
                [[r["id"], r["output"], ", ".join(r["archs"]) or "any", needs(r),  # type: ignore[arg-type]
                  r["on_device"], r["description"]] for r in rows])


@bundle_app.command("verify")
def bundle_verify(
    path: Annotated[Path, typer.Argument(help="Bundle .zip written by 'eml deploy'.")],
    public_key: Annotated[Path | None, typer.Option("--key", "--public-key", help="The signer's public key file "
                                                    "(hex as 'eml keys show' prints, or PEM); default: the "
                                                    "project's key when run inside the project.")] = None,
    allow_unpinned: Annotated[bool, typer.Option("--allow-unpinned", help="Without --key or a project key, "
                                                 "accept the key the bundle names itself (proves integrity, not "
                                                 "who signed it; warns).")] = False,
    json_out: JSON = False,
) -> None:
    """Check the zip, the signature (pinned key) and every file's sha256; exit non-zero naming what is wrong."""
    from crisp_eml.workspace.verify_bundle import verify_bundle

    r = verify_bundle(path, public_key, allow_unpinned=allow_unpinned)
    if not r.pinned and allow_unpinned:
        typer.echo(f"warning: {path}: signature checked with key {r.key_fingerprint}, which the bundle names "
                   "itself: this proves the files are intact, NOT who signed them (--allow-unpinned)", err=True)
    if json_out:
        print_json(r.to_dict())
    else:
        model, gate = ({} if not isinstance(v, dict) else v for v in (r.info.get("model"), r.info.get("gate")))
        print_table(f"bundle {path.name}", ["check", "result"], [
            ["signature", f"{r.signature} (key {r.key_fingerprint})"], ["key from", r.key_source],
            ["pinned", "yes" if r.pinned else "NO"],
            ["files", f"{sum(f['ok'] for f in r.files)}/{len(r.files)} match"],
            ["model", f"{model.get('uri')} sha256 {str(model.get('sha256'))[:12]}"],
            ["target", r.info.get("target")], ["gate", gate.get("id")],
            *([["format", f"{dep.get('format')} ({dep.get('arch') or 'any arch'}), post-processing "
                          f"{dep.get('postprocess')}"]] if isinstance(dep := r.info.get("deployment"), dict) else [])])
    if not r.ok:
        raise VerificationError(f"bundle {path} failed verification: {'; '.join(r.problems)}")


@keys_app.command("show")
def keys_show(json_out: JSON = False) -> None:
    """Print the project's bundle-signing public key (generated on first use)."""
    from crisp_eml.workspace.keys import show_key

    r = show_key(open_project())
    if json_out:
        print_json(r)
        return
    if r["created"]:
        typer.echo(f"Generated a new signing key in {r['private_key_file']}", err=True)
    typer.echo(r["public_key"])
    typer.echo(f"ed25519 fingerprint {r['fingerprint']} ({r['public_key_file']})", err=True)


def register(app: typer.Typer) -> None:
    if not any(c.callback is deploy for c in app.registered_commands):
        app.command("deploy")(deploy)
    if not any(c.callback is formats for c in app.registered_commands):
        app.command("formats")(formats)
    if not any(g.typer_instance is bundle_app for g in app.registered_groups):
        app.add_typer(bundle_app, name="bundle")
    if not any(g.typer_instance is keys_app for g in app.registered_groups):
        app.add_typer(keys_app, name="keys")
