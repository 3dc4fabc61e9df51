"""What every handler of the UI shares: the UI server's own client, the Application hub, the
access reviews, the session codec and the templates; and :func:`viewer`, which turns a request
into the signed-in user or None."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import parse_qsl

import jinja2
from starlette.requests import Request
from starlette.templating import Jinja2Templates

from clew.cluster import Cluster, ClusterError
from clew.report.audit import AuditRecorder
from clew.ui.access import Access, User
from clew.ui.hub import AppHub
from clew.ui.session import COOKIE, Session, SessionCodec

__all__ = ["TEMPLATES", "Ui", "Viewer", "form_of", "ui_of", "viewer"]

HERE = Path(__file__).parent
# Autoescaping on for every template: commit subjects, reasons and names are user data.
TEMPLATES = Jinja2Templates(
    env=jinja2.Environment(
        loader=jinja2.FileSystemLoader(HERE / "templates"), autoescape=True, auto_reload=False
    )
)


@dataclass
class Ui:
    cluster: Cluster  # the UI server's identity: reviews, the shared watch, Events, audit
    hub: AppHub
    access: Access
    sessions: SessionCodec
    read_only: bool = False
    secure_cookies: bool = False  # set Secure on cookies (when served over HTTPS)
    # One recorder for the server's life: it keeps each trail it wrote with its version, so a
    # later action's record is one version-checked PATCH, not a GET and a write.
    audit: AuditRecorder = field(init=False)

    def __post_init__(self) -> None:
        self.audit = AuditRecorder(self.cluster)


@dataclass(frozen=True, slots=True)
class Viewer:
    user: User
    session: Session


def ui_of(request: Request) -> Ui:
    ui: Ui = request.app.state.ui
    return ui


async def viewer(request: Request) -> Viewer | None:
    """The signed-in user: a valid session cookie whose token the API server still accepts.
    Checked on every request (TokenReview, briefly cached), so a revoked token ends the
    session."""
    ui = ui_of(request)
    session = ui.sessions.open(request.cookies.get(COOKIE))
    if session is None:
        return None
    try:
        user = await ui.access.user(session.token)
    except ClusterError:
        return None
    return Viewer(user, session) if user is not None else None


_MAX_FORM = 64 * 1024  # a bearer token is a few KiB; nothing the UI posts is larger


async def form_of(request: Request) -> dict[str, str]:
    """An ``application/x-www-form-urlencoded`` body (the only kind the pages send), without
    python-multipart; a larger body than any form of the UI reads as empty."""
    body = await request.body()
    if len(body) > _MAX_FORM:
        return {}
    pairs = parse_qsl(body.decode("utf-8", "replace"), keep_blank_values=True)
    return dict(pairs)
