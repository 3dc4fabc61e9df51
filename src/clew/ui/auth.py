"""Signing in and out. The sign-in form takes a bearer token (a ServiceAccount token or an OIDC
id token the API server accepts); a TokenReview decides, and the token goes into the encrypted
session cookie (:mod:`clew.ui.session`). The form itself is protected by a double-submit CSRF
token, so another site cannot sign a browser in under someone else's token."""

from __future__ import annotations

import secrets

from starlette.requests import Request
from starlette.responses import RedirectResponse, Response

from clew.cluster import ClusterError
from clew.ui.session import COOKIE, csrf_matches
from clew.ui.state import TEMPLATES, form_of, ui_of, viewer

__all__ = ["login_form", "login_submit", "logout"]

LOGIN_CSRF = "clew_login_csrf"


def _form(request: Request, error: str = "", status: int = 200) -> Response:
    token = secrets.token_urlsafe(32)
    ui = ui_of(request)
    response = TEMPLATES.TemplateResponse(
        request,
        "login.html",
        {"csrf": token, "error": error, "viewer": None, "read_only": ui.read_only},
        status_code=status,
    )
    response.set_cookie(
        LOGIN_CSRF, token, httponly=True, samesite="strict", secure=ui.secure_cookies
    )
    return response


async def login_form(request: Request) -> Response:
    if await viewer(request) is not None:
        return RedirectResponse("/", status_code=303)
    return _form(request)


async def login_submit(request: Request) -> Response:
    ui = ui_of(request)
    form = await form_of(request)
    sent = str(form.get("csrf") or "")
    expected = request.cookies.get(LOGIN_CSRF) or ""
    if not expected or not secrets.compare_digest(sent.encode(), expected.encode()):
        return _form(request, "The form expired; please sign in again.", 403)
    token = str(form.get("token") or "").strip()
    if not token:
        return _form(request, "Paste a bearer token to sign in.", 400)
    try:
        user = await ui.access.user(token)
    except ClusterError:
        return _form(request, "The API server could not be asked; try again.", 503)
    if user is None:
        # Never echo the token: it may be valid somewhere else.
        return _form(request, "The API server does not accept this token.", 401)
    _, cookie = ui.sessions.new(token)
    response = RedirectResponse("/", status_code=303)
    response.set_cookie(
        COOKIE,
        cookie,
        max_age=ui.sessions.ttl,
        httponly=True,
        samesite="strict",
        secure=ui.secure_cookies,
    )
    response.delete_cookie(LOGIN_CSRF)
    return response


async def logout(request: Request) -> Response:
    current = await viewer(request)
    form = await form_of(request)
    if current is not None and not csrf_matches(current.session, str(form.get("csrf") or "")):
        return Response("CSRF token missing or wrong", status_code=403)
    response = RedirectResponse("/login", status_code=303)
    response.delete_cookie(COOKIE)
    return response
