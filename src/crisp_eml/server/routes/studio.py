"""The Studio's routes at the server root: its pages, its static files, signing in and signing out.

- ``GET /login?token=eml_l_...`` exchanges a one-time login link (``eml serve`` prints one, ``eml members
  login-url`` makes one) for a session; ``GET /login`` shows a form to sign in with a member API token
  instead (``POST /login``). Either sets two cookies, both ``SameSite=Strict``: ``eml_session`` (HttpOnly, the
  session secret) and ``eml_csrf`` (readable by the page, sent back as ``X-CSRF-Token`` on every request
  that changes state).
- ``POST /logout`` ends the session (CSRF token required) and clears the cookies.
- ``GET /`` and each page path of :data:`crisp_eml.studio.PAGES` answer the page shell, or send a browser
  without a live session to ``/login``. The shell loads ``/static/js/app.js``, which renders the page.
- ``GET /static/...`` serves the Studio's files and ``/static/vendor/plotly.min.js`` from the ``plotly``
  package.
"""

from __future__ import annotations

import hmac
import html
import mimetypes
from importlib import resources
from pathlib import Path
from typing import Annotated

from fastapi import APIRouter, Form, Query, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import FileResponse, HTMLResponse, RedirectResponse, Response

from crisp_eml.server.auth import CSRF_COOKIE, CSRF_HEADER, SESSION_COOKIE, context
from crisp_eml.server.errors import ApiError
from crisp_eml.studio import PAGES
from crisp_eml.workspace.credentials import authenticate
from crisp_eml.workspace.studio_sessions import (
    SESSION_TTL,
    StudioSession,
    authenticate_session,
    csrf_token,
    end_session,
    exchange_login,
    start_with_token,
)

router = APIRouter(include_in_schema=False)
STATIC = Path(str(resources.files("crisp_eml.studio"))) / "static"
# Scripts only from this server; Plotly sets inline styles; images, audio and downloads may be blobs.
CSP = ("default-src 'self'; script-src 'self'; style-src 'self' 'unsafe-inline'; img-src 'self' data: blob:; "
       "media-src 'self' blob:; connect-src 'self'; frame-ancestors 'none'; base-uri 'none'; form-action 'self'")
HEADERS = {"Content-Security-Policy": CSP, "X-Content-Type-Options": "nosniff", "Referrer-Policy": "no-referrer",
           "Cache-Control": "no-store"}


def _secure(request: Request) -> bool:
    return request.url.scheme == "https"


def _signed_in(request: Request, session: StudioSession, to: str = "/") -> RedirectResponse:
    resp = RedirectResponse(to if to in PAGES else "/", status_code=303, headers=HEADERS)
    age = int(SESSION_TTL.total_seconds())
    resp.set_cookie(SESSION_COOKIE, session.secret, max_age=age, httponly=True, samesite="strict",
                    secure=_secure(request), path="/")
    resp.set_cookie(CSRF_COOKIE, session.csrf, max_age=age, httponly=False, samesite="strict",
                    secure=_secure(request), path="/")
    return resp


def _login_page(message: str = "", status: int = 200, next_page: str = "/") -> HTMLResponse:
    text = (STATIC / "login.html").read_text(encoding="utf-8")
    note = f'<p class="error" role="alert">{html.escape(message)}</p>' if message else ""
    text = text.replace("{{message}}", note).replace("{{next}}", html.escape(next_page if next_page in PAGES else "/"))
    return HTMLResponse(text, status_code=status, headers=HEADERS)


@router.get("/login", response_class=HTMLResponse)
async def login(request: Request, token: Annotated[str | None, Query(max_length=256)] = None,
                next_page: Annotated[str, Query(alias="next", max_length=64)] = "/") -> Response:
    """Exchange a one-time login link for a session, or show the sign-in form."""
    if not token:
        return _login_page(next_page=next_page)
    ctx = context(request)
    client = request.client.host if request.client else "unknown"
    if ctx.failed_logins.blocked(client):
        return _login_page("Too many failed sign-ins from this address; wait a minute.", 429)
    session = await run_in_threadpool(exchange_login, ctx.project, token)
    if session is None:
        ctx.failed_logins.fail(client)
        return _login_page("This sign-in link is unknown, already used or expired. Ask for a new one "
                           "(eml members login-url NAME) or sign in with an API token.", 401)
    return _signed_in(request, session, next_page)


@router.post("/login", response_class=HTMLResponse)
async def login_with_token(request: Request, token: Annotated[str, Form(max_length=256)] = "",
                           next_page: Annotated[str, Form(alias="next", max_length=64)] = "/") -> Response:
    """Sign in with a member API token (``eml members token create``); the session keeps its scopes."""
    ctx = context(request)
    client = request.client.host if request.client else "unknown"
    if ctx.failed_logins.blocked(client):
        return _login_page("Too many failed sign-ins from this address; wait a minute.", 429)
    cred = authenticate(ctx.project, token.strip()) if token.strip() else None
    if cred is None or cred.kind != "token":
        ctx.failed_logins.fail(client)
        return _login_page("That is not a valid member API token (eml members token create NAME).", 401)
    session = await run_in_threadpool(start_with_token, ctx.project, cred)
    return _signed_in(request, session, next_page)


@router.post("/logout")
async def logout(request: Request) -> Response:
    """End the session (the CSRF token is required) and clear the cookies."""
    secret = request.cookies.get(SESSION_COOKIE, "")
    if secret:
        sent = request.headers.get(CSRF_HEADER, "")
        if not sent or not hmac.compare_digest(sent, csrf_token(secret)):
            raise ApiError(403, "missing or wrong CSRF token", field=CSRF_HEADER)
        await run_in_threadpool(end_session, context(request).project, secret)
    resp = Response(status_code=204, headers=HEADERS)
    resp.delete_cookie(SESSION_COOKIE, path="/", samesite="strict", httponly=True)
    resp.delete_cookie(CSRF_COOKIE, path="/", samesite="strict")
    return resp


def _shell(request: Request) -> Response:
    secret = request.cookies.get(SESSION_COOKIE)
    if not secret or authenticate_session(context(request).project, secret) is None:
        return RedirectResponse(f"/login?next={request.url.path}", status_code=303, headers=HEADERS)
    return HTMLResponse((STATIC / "index.html").read_text(encoding="utf-8"), headers=HEADERS)


for _path in PAGES:
    router.add_api_route(_path, _shell, methods=["GET"], response_class=HTMLResponse,
                         name=f"studio_page_{_path.strip('/') or 'home'}")


@router.get("/static/{path:path}")
async def static(path: str) -> Response:
    """The Studio's own files, and plotly.min.js from the installed plotly package."""
    if path == "vendor/plotly.min.js":
        import plotly

        file = Path(plotly.__file__).parent / "package_data" / "plotly.min.js"
    else:
        file = (STATIC / path).resolve()
        if not file.is_relative_to(STATIC.resolve()) or not file.is_file() or file.name.endswith(".html"):
            raise ApiError(404, f"no such file: {path}")
    kind = mimetypes.guess_type(file.name)[0] or "application/octet-stream"
    if file.suffix == ".js":
        kind = "text/javascript"
    return FileResponse(file, media_type=kind, headers={"Cache-Control": "no-cache",
                                                        "X-Content-Type-Options": "nosniff"})
