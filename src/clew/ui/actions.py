"""Actions from the Application page: reconcile now, suspend, resume, roll back to a revision
(pin) and roll back by a revert commit. Each is the code of the matching ``clew`` command
(:mod:`clew.cli.apps_ops`, :mod:`clew.cli.apps_rollback`, :mod:`clew.cli.apps_revert`), run with
the signed-in user's own token, so the API server itself enforces their RBAC; before that the UI
refuses, with a clear answer, a request without the session's CSRF token, in read-only mode, or
from a user a SubjectAccessReview says may not ``patch`` the Application.

Who did it is recorded with the UI server's identity: an Event on the Application
(``reportingInstance: clew-ui``, the user's name in the note and in the
``clew.dev/requested-by`` annotation) and a record in the audit trail (``docs/audit.md``).
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable
from typing import Any

from starlette.requests import Request
from starlette.responses import JSONResponse, Response

from clew.cli import apps_ops as ops
from clew.cli import apps_view as view
from clew.cli.apps_revert import Identity, revert
from clew.cli.apps_rollback import pin_target
from clew.cluster import Cluster, ClusterError, Forbidden
from clew.controller.api.spec import GROUP, PLURAL, parse
from clew.controller.reconcile import credentials as app_credentials
from clew.model import ClewError
from clew.report import audit
from clew.report.events import EventRecorder
from clew.ui.session import csrf_matches
from clew.ui.state import Ui, Viewer, form_of, ui_of, viewer

__all__ = ["ACTIONS", "REQUESTED_BY", "act"]

REQUESTED_BY = "clew.dev/requested-by"
REVERT_EMAIL = "clew-ui@localhost"
_log = logging.getLogger(__name__)

Handler = Callable[[Cluster, str, str, dict[str, str], Viewer], Awaitable[str]]


async def _reconcile(cluster: Cluster, ns: str, name: str, _: dict[str, str], __: Viewer) -> str:
    app = await ops.request_reconcile(cluster, ns, name, view.reconcile_timestamp())
    if (app.get("spec") or {}).get("suspend"):
        return "reconcile requested, but it is suspended: resume it to apply"
    return "reconcile requested"


async def _suspend(cluster: Cluster, ns: str, name: str, _: dict[str, str], __: Viewer) -> str:
    await ops.patch_spec(cluster, ns, name, {"suspend": True})
    return "suspended: nothing changes until it is resumed"


async def _resume(cluster: Cluster, ns: str, name: str, _: dict[str, str], __: Viewer) -> str:
    app = await ops.get_app(cluster, ns, name)
    pin = str(((app.get("spec") or {}).get("pin") or {}).get("revision") or "")
    patch: dict[str, Any] = {"suspend": False}
    if pin:
        patch["pin"] = None
    await ops.patch_spec(cluster, ns, name, patch)
    return f"resumed; the pin to {pin[:12]} was removed" if pin else "resumed"


async def _pin(cluster: Cluster, ns: str, name: str, form: dict[str, str], _: Viewer) -> str:
    app = await ops.get_app(cluster, ns, name)
    entry = pin_target(app, form.get("revision") or None, force=False)
    revision = str(entry["revision"])
    patch: dict[str, Any] = {"pin": {"revision": revision}}
    if (app.get("spec") or {}).get("suspend"):
        patch["suspend"] = False
    await ops.patch_spec(cluster, ns, name, patch)
    return f"pinned to {revision[:12]}: resume to follow the branch again"


async def _revert(cluster: Cluster, ns: str, name: str, _: dict[str, str], who: Viewer) -> str:
    app = await ops.get_app(cluster, ns, name)
    spec = parse(app, namespace=ns)
    if spec.source.verify_secret_name:
        raise ClewError("the Application only accepts signed commits; clew cannot sign a revert")
    applied = str((app.get("status") or {}).get("lastAppliedRevision") or "")
    if not applied:
        raise ClewError("no revision applied yet: nothing to revert")
    creds = await app_credentials.credentials(cluster, ns, spec.source.secret_name)
    author = Identity(who.user.name or "clew-ui", REVERT_EMAIL)
    result = await revert(
        spec.source.repo_url, spec.source.ref, creds, applied, to=None, author=author
    )
    await ops.request_reconcile(cluster, ns, name, view.reconcile_timestamp())
    return f"pushed {result.commit[:12]} reverting {applied[:12]}; reconcile requested"


# action → (handler, Event reason, what the Event says was done)
ACTIONS: dict[str, tuple[Handler, str, str]] = {
    "reconcile": (_reconcile, "ReconcileRequested", "reconcile requested"),
    "suspend": (_suspend, "Suspended", "suspended"),
    "resume": (_resume, "Resumed", "resumed"),
    "rollback": (_pin, "RolledBack", "rolled back (pin)"),
    "revert": (_revert, "Reverted", "rolled back by a revert commit"),
}


def _refuse(status: int, message: str) -> Response:
    return JSONResponse({"ok": False, "error": message}, status_code=status)


async def act(request: Request) -> Response:
    ui = ui_of(request)
    who = await viewer(request)
    if who is None:
        return _refuse(401, "sign in first")
    form = await form_of(request)
    if not csrf_matches(who.session, request.headers.get("X-CSRF-Token") or form.get("csrf")):
        return _refuse(403, "CSRF token missing or wrong: reload the page")
    if ui.read_only:
        return _refuse(403, "this UI is read-only")
    action = request.path_params["action"]
    if action not in ACTIONS:
        return _refuse(404, f"no action {action!r}")
    ns, name = request.path_params["namespace"], request.path_params["name"]
    if not await ui.access.allowed(who.user, "patch", PLURAL, group=GROUP, namespace=ns, name=name):
        return _refuse(403, f"{who.user.name} may not patch Application {ns}/{name}")
    handler, reason, done = ACTIONS[action]
    try:
        async with ui.cluster.as_bearer(who.session.token) as mine:
            message = await handler(mine, ns, name, form, who)
    except Forbidden as exc:
        return _refuse(403, str(exc))
    except (ClewError, ClusterError) as exc:
        return _refuse(409, str(exc))
    await _record(ui, ns, name, who, action, reason, f"{done} by {who.user.name} (clew ui)")
    return JSONResponse({"ok": True, "message": message})


async def _record(
    ui: Ui, ns: str, name: str, who: Viewer, action: str, reason: str, note: str
) -> None:
    """An Event and an audit record naming the user; best effort, like all of clew's."""
    try:
        app = await ops.get_app(ui.cluster, ns, name)
    except (ClewError, ClusterError) as exc:
        _log.warning("action %s on %s/%s not recorded: %s", action, ns, name, exc)
        return
    events = EventRecorder(ui.cluster, instance="clew-ui")
    await events.emit(
        app,
        type_="Normal",
        reason=reason,
        note=note,
        action=action.capitalize(),
        annotations={REQUESTED_BY: who.user.name},
    )
    record = {
        "time": audit.timestamp(),
        "revision": str((app.get("status") or {}).get("lastAppliedRevision") or ""),
        "result": reason,
        "message": note,
        "requestedBy": who.user.name,
        "request": action,
        "counts": {},
        "objects": [],
        "objectsOmitted": 0,
    }
    await ui.audit.write(app, record)
