"""``eml serve``: run the app under uvicorn, on loopback unless TLS (or an explicit ``--insecure``) is given.

Uvicorn handles SIGTERM/SIGINT gracefully: it stops accepting connections and lets in-flight requests finish
(each use case commits or rolls back as a whole, so nothing is half-written) before the job runner stops.
With ``--workers N`` uvicorn starts N processes that each build the app from :mod:`crisp_eml.server.asgi`.
After a graceful shutdown uvicorn raises the signal it caught again, which would kill the process by that signal
(exit status -15 for SIGTERM); :func:`serve` turns that into a clean exit with status 0 instead.
"""

from __future__ import annotations

import ipaddress
import os
import signal
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

from crisp_eml.core.errors import InputError

ROOT_ENV = "EML_SERVER_ROOT"
GRACEFUL_S = 30


def is_loopback(host: str) -> bool:
    if host.lower() == "localhost":
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False


def check_bind(host: str, *, tls_cert: Path | None, tls_key: Path | None, insecure: bool) -> None:
    """Refuse a non-loopback address without TLS (unless ``insecure``), and half a TLS setting."""
    if (tls_cert is None) != (tls_key is None):
        raise InputError("give both --tls-cert and --tls-key, or neither", field="--tls-key" if tls_cert else
                         "--tls-cert")
    for opt, path in (("--tls-cert", tls_cert), ("--tls-key", tls_key)):
        if path is not None and not path.is_file():
            raise InputError(f"{path}: no such file", field=opt)
    if not is_loopback(host) and tls_cert is None and not insecure:
        raise InputError(f"{host} is not a loopback address: tokens would cross the network in clear text. "
                         "Give --tls-cert and --tls-key, or --insecure if a TLS proxy sits in front", field="--host")


@contextmanager
def _exit_cleanly_on_stop_signals() -> Iterator[None]:
    """While uvicorn runs it handles SIGTERM/SIGINT itself; before it starts and after it has shut down (when it
    raises the caught signal again), either one ends the process with status 0: the shutdown was the one asked."""
    if threading.current_thread() is not threading.main_thread():  # only the main thread may set handlers
        yield
        return

    def stop(_sig: int, _frame: object) -> None:
        raise SystemExit(0)

    previous = {sig: signal.signal(sig, stop) for sig in (signal.SIGTERM, signal.SIGINT)}
    try:
        yield
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)


def serve(root: Path, *, host: str = "127.0.0.1", port: int = 4800, workers: int = 1, tls_cert: Path | None = None,
          tls_key: Path | None = None, insecure: bool = False, log_level: str = "info",
          on_ready: Callable[[str], None] | None = None) -> None:
    """Serve the project at ``root`` until SIGTERM/SIGINT; ``on_ready(url)`` is called once the checks pass."""
    import uvicorn

    check_bind(host, tls_cert=tls_cert, tls_key=tls_key, insecure=insecure)
    if not 1 <= workers <= 64:
        raise InputError(f"must be between 1 and 64, got {workers}", field="--workers")
    if not 0 <= port <= 65535:
        raise InputError(f"must be between 0 and 65535, got {port}", field="--port")
    from crisp_eml.store.project import Project

    Project.open(root)  # a missing or unusable project fails here, with its own message, before binding
    os.environ[ROOT_ENV] = str(root)
    if on_ready is not None:
        shown = f"[{host}]" if ":" in host else host
        on_ready(f"{'https' if tls_cert else 'http'}://{shown}:{port}")
    with _exit_cleanly_on_stop_signals():
        uvicorn.run("crisp_eml.server.asgi:factory", factory=True, host=host, port=port, workers=workers,
                    ssl_certfile=str(tls_cert) if tls_cert else None,
                    ssl_keyfile=str(tls_key) if tls_key else None, timeout_graceful_shutdown=GRACEFUL_S,
                    log_level=log_level, proxy_headers=False)
