"""Request size limits, enforced before a route reads the body: a clear 413, never a half-read upload.

A declared ``Content-Length`` over the limit is refused at once; a chunked body is counted as it streams and
cut off with 413 as soon as it passes the limit (the route then never sees it).
"""

from __future__ import annotations

import json
from typing import Any

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from crisp_eml.server.errors import body


class _TooLarge(Exception):
    pass


class BodyLimit:
    """ASGI middleware: bodies over ``max_bytes`` get ``413`` with the JSON error shape."""

    def __init__(self, app: ASGIApp, max_bytes: int) -> None:
        self.app, self.max_bytes = app, max_bytes

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        declared = dict(scope.get("headers") or []).get(b"content-length")
        if declared is not None:
            try:
                size = int(declared)
            except ValueError:
                await _send_error(send, 400, "bad_request", "Content-Length is not a number")
                return
            if size > self.max_bytes:
                await _send_error(send, 413, "payload_too_large", _message(self.max_bytes))
                return
        seen = 0
        started = False

        async def counted() -> Message:
            nonlocal seen
            message = await receive()
            if message["type"] == "http.request":
                seen += len(message.get("body", b""))
                if seen > self.max_bytes:
                    raise _TooLarge
            return message

        async def tracking_send(message: Message) -> None:
            nonlocal started
            if message["type"] == "http.response.start":
                started = True
            await send(message)

        try:
            await self.app(scope, counted, tracking_send)
        except _TooLarge:
            if not started:
                await _send_error(send, 413, "payload_too_large", _message(self.max_bytes))


def _message(limit: int) -> str:
    return f"request body larger than the server's limit of {limit} bytes"


async def _send_error(send: Send, status: int, code: str, message: str, field: Any = None) -> None:
    payload = json.dumps(body(code, message, field)).encode()
    await send({"type": "http.response.start", "status": status,
                "headers": [(b"content-type", b"application/json"), (b"content-length", str(len(payload)).encode()),
                            (b"connection", b"close")]})
    await send({"type": "http.response.body", "body": payload})
