"""``eml dsp serve``: serve a built-in processing block over Edge Impulse's DSP-block HTTP contract; ``eml dsp
blocks``: the blocks and their implementation versions (thin)."""

from __future__ import annotations

from typing import Annotated

import typer

dsp_app = typer.Typer(help="Processing (DSP) blocks over Edge Impulse's HTTP contract.", no_args_is_help=True)

_BLOCKS = "spectral-analysis, spectrogram, mfe, mfcc, raw or flatten"


@dsp_app.command("serve")
def serve(
    block: Annotated[str, typer.Argument(help=f"The block to serve: {_BLOCKS}.")],
    host: Annotated[str, typer.Option(help="Address to bind (loopback by default; the server has no "
                                           "authentication).")] = "127.0.0.1",
    port: Annotated[int, typer.Option(help="TCP port (Edge Impulse's blocks use 4446).")] = 4446,
    json_out: Annotated[bool, typer.Option("--json", help="Print where it listens as one JSON line on stdout, "
                                                          "before serving (for scripts).")] = False,
) -> None:
    """Serve one built-in block as an Edge Impulse DSP block server (GET /, GET /parameters, POST /run,
    POST /batch) until Ctrl-C; Edge Impulse's tools or 'eml impulse create --block-url' can use it."""
    import json
    import os
    import sys

    from crisp_eml.server.dsp_block_app import serve_block
    from crisp_eml.server.serve import is_loopback

    def announce(url: str) -> None:
        if not is_loopback(host):
            from crisp_eml.cli.common import err_console

            err_console.print(f"Warning: {host} is not a loopback address: whoever reaches it can use the block "
                              "(the DSP block server has no authentication, as Edge Impulse's)", highlight=False)
        if json_out:
            sys.stdout.write(json.dumps({"url": url, "block": block, "pid": os.getpid()}) + "\n")
        else:
            sys.stdout.write(f"Edge Impulse DSP block '{block}' at {url} (Ctrl-C stops it)\n")
        sys.stdout.flush()

    serve_block(block, host=host, port=port, on_ready=announce)


@dsp_app.command("blocks")
def blocks(json_out: Annotated[bool, typer.Option("--json", help="Print JSON.")] = False) -> None:
    """List the processing blocks, their implementation versions (Edge Impulse's numbers, then crisp-eml's own
    variant "crisp") and the version new impulses take."""
    from crisp_eml.cli.common import print_json, print_table
    from crisp_eml.dsp.registry import block_class, block_types, block_versions, latest_version

    types = [t for t in block_types() if t != "external"]  # an external block is its server's
    if json_out:
        print_json([{"type": t, "versions": block_versions(t), "latest_version": latest_version(t),
                     "parameters": sorted(block_class(t, latest_version(t)).defaults)} for t in types])
        return
    print_table(None, ["block", "versions", "new impulses", "parameters (latest)"],
                [(t, ", ".join(map(str, block_versions(t))), str(latest_version(t)),
                  ", ".join(sorted(block_class(t, latest_version(t)).defaults))) for t in types])


def register(app: typer.Typer) -> None:
    app.add_typer(dsp_app, name="dsp")
