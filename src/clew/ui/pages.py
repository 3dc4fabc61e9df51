"""The read-only pages: the Applications list, an Application's page (tree, conditions,
history, Events), its live-vs-Git diff, and the server-sent-events stream that keeps them live.

Applications come from the shared hub, filtered by a SubjectAccessReview per namespace
(``list applications``) or per Application (``get``). Everything else on the page (the inventory,
live objects, Events, the dry run behind the diff) is read with the signed-in user's own token,
so the API server applies that user's RBAC exactly as it would to kubectl.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator
from typing import Any

from starlette.requests import Request
from starlette.responses import RedirectResponse, Response, StreamingResponse

from clew.cluster import ClusterError
from clew.controller.api.spec import GROUP, PLURAL
from clew.model import ClewError
from clew.ui import present
from clew.ui.hub import Change
from clew.ui.objects import application_tree, events_of, object_diffs
from clew.ui.state import TEMPLATES, Ui, Viewer, ui_of, viewer

__all__ = [
    "app_diff",
    "app_page",
    "apps_list",
    "context",
    "has_clusters",
    "may_see",
    "stream",
    "synced",
    "unavailable",
    "visible_remote_apps",
]

KEEPALIVE_SECONDS = 15.0


async def visible_namespaces(ui: Ui, who: Viewer, namespaces: set[str]) -> set[str]:
    """The namespaces whose Applications ``who`` may list (one review each, cached)."""
    if await ui.access.allowed(who.user, "list", PLURAL, group=GROUP):
        return namespaces
    checks = {
        ns: asyncio.create_task(
            ui.access.allowed(who.user, "list", PLURAL, group=GROUP, namespace=ns)
        )
        for ns in namespaces
    }
    return {ns for ns, task in checks.items() if await task}


SYNC_SECONDS = 10.0


async def synced(ui: Ui) -> bool:
    """Whether the shared watch has listed Applications (waits a little at start-up)."""
    try:
        await asyncio.wait_for(ui.hub.synced.wait(), SYNC_SECONDS)
    except TimeoutError:
        return False
    return True


def unavailable(request: Request, ui: Ui, who: Viewer) -> Response:
    return TEMPLATES.TemplateResponse(
        request,
        "unavailable.html",
        context(request, ui, who),
        status_code=503,
        headers={"Retry-After": "5"},
    )


async def may_see(ui: Ui, who: Viewer, ns: str, name: str) -> bool:
    """``list`` in the namespace (one cached review for all its Applications), else ``get``."""
    return await ui.access.allowed(
        who.user, "list", PLURAL, group=GROUP, namespace=ns
    ) or await ui.access.allowed(who.user, "get", PLURAL, group=GROUP, namespace=ns, name=name)


async def visible_remote_apps(ui: Ui, who: Viewer) -> list[dict[str, Any]]:
    """The Applications on another cluster that ``who`` may see (reviews are cached)."""
    remote = [app for app in ui.hub.apps.values() if present.cluster_of(app)]
    checks = [
        asyncio.create_task(may_see(ui, who, app["metadata"]["namespace"], app["metadata"]["name"]))
        for app in remote
    ]
    return [app for app, check in zip(remote, checks, strict=True) if await check]


async def has_clusters(ui: Ui, who: Viewer) -> bool:
    """Whether the nav links to the clusters page: some Application ``who`` may see names one."""
    return bool(await visible_remote_apps(ui, who))


def context(request: Request, ui: Ui, who: Viewer, **extra: Any) -> dict[str, Any]:
    return {
        "viewer": who,
        "csrf": who.session.csrf,
        "read_only": ui.read_only,
        "since": present.since,
        **extra,
    }


async def apps_list(request: Request) -> Response:
    ui = ui_of(request)
    who = await viewer(request)
    if who is None:
        return RedirectResponse("/login", status_code=303)
    if not await synced(ui):
        return unavailable(request, ui, who)
    apps = list(ui.hub.apps.values())
    namespaces = await visible_namespaces(ui, who, {ns for ns, _ in ui.hub.apps})
    visible = [a for a in apps if a["metadata"]["namespace"] in namespaces]
    q = request.query_params
    filters = present.Filters(
        namespace=q.get("namespace", ""),
        status=q.get("status", ""),
        label=q.get("label", ""),
        query=q.get("q", ""),
    )
    rows = present.filter_rows(visible, filters)
    return TEMPLATES.TemplateResponse(
        request,
        "list.html",
        context(
            request,
            ui,
            who,
            rows=rows,
            total=len(visible),
            filters=filters,
            namespaces=sorted(namespaces),
            statuses=("ready", "progressing", "failed", "suspended", "unknown"),
            has_clusters=await has_clusters(ui, who),
        ),
    )


async def _readable_app(request: Request) -> tuple[Ui, Viewer, dict[str, Any]] | Response:
    ui = ui_of(request)
    who = await viewer(request)
    if who is None:
        return RedirectResponse("/login", status_code=303)
    ns, name = request.path_params["namespace"], request.path_params["name"]
    if not await synced(ui):
        return unavailable(request, ui, who)
    allowed = await ui.access.allowed(who.user, "get", PLURAL, group=GROUP, namespace=ns, name=name)
    app = ui.hub.apps.get((ns, name))
    if not allowed or app is None:
        # The same answer whether it is missing or hidden: names are not leaked.
        return TEMPLATES.TemplateResponse(
            request,
            "missing.html",
            context(request, ui, who, namespace=ns, name=name),
            status_code=404,
        )
    return ui, who, app


async def app_page(request: Request) -> Response:
    found = await _readable_app(request)
    if isinstance(found, Response):
        return found
    ui, who, app = found
    status = app.get("status") or {}
    async with ui.cluster.as_bearer(who.session.token) as mine:
        nodes, tree_error, tree_note = await application_tree(mine, app)
        events, events_error = await events_of(mine, app)
    template = "app_body.html" if request.query_params.get("fragment") else "app.html"
    return TEMPLATES.TemplateResponse(
        request,
        template,
        context(
            request,
            ui,
            who,
            app=app,
            row=present.row(app),
            conditions=status.get("conditions") or [],
            history=status.get("history") or [],
            nodes=nodes,
            tree_error=tree_error,
            tree_note=tree_note,
            events=events,
            events_error=events_error,
            has_clusters=await has_clusters(ui, who),
            may_act=not ui.read_only
            and await ui.access.allowed(
                who.user,
                "patch",
                PLURAL,
                group=GROUP,
                namespace=app["metadata"]["namespace"],
                name=app["metadata"]["name"],
            ),
        ),
    )


async def app_diff(request: Request) -> Response:
    found = await _readable_app(request)
    if isinstance(found, Response):
        return found
    ui, who, app = found
    error = ""
    diffs: list[dict[str, str]] = []
    async with ui.cluster.as_bearer(who.session.token) as mine:
        try:
            diffs = await object_diffs(mine, app)
        except (ClewError, ClusterError) as exc:
            error = str(exc)
    template = "diff.html" if request.query_params.get("fragment") else "diff_page.html"
    return TEMPLATES.TemplateResponse(
        request, template, context(request, ui, who, app=app, diffs=diffs, error=error)
    )


def _sse(event: str, data: dict[str, Any]) -> str:
    return f"event: {event}\ndata: {json.dumps(data)}\n\n"


async def stream(request: Request) -> Response:
    """Server-sent events: ``app`` (one Application changed: its new list row as HTML, or
    ``deleted``) and ``resync`` (reload the view). Fed by the hub's one watch."""
    ui = ui_of(request)
    who = await viewer(request)
    if who is None:
        return Response("sign in first", status_code=401)
    only = request.query_params.get("app", "")
    queue = ui.hub.subscribe()
    row_template = TEMPLATES.get_template("row.html")

    async def events() -> AsyncIterator[str]:
        loop = asyncio.get_running_loop()
        checked = loop.time()
        try:
            yield ": connected\nretry: 2000\n\n"
            while True:
                try:
                    change: Change | None = await asyncio.wait_for(queue.get(), KEEPALIVE_SECONDS)
                except TimeoutError:
                    change = None
                if loop.time() - checked >= KEEPALIVE_SECONDS:
                    # The session is checked again (TokenReview) however busy the stream is.
                    if await viewer(request) is None:
                        yield _sse("signedout", {})
                        return
                    checked = loop.time()
                if change is None:
                    yield ": keep-alive\n\n"
                    continue
                if change.type == "RESYNC":
                    yield _sse("resync", {})
                    continue
                ns, name = change.key
                if only and only != f"{ns}/{name}":
                    continue
                if not await may_see(ui, who, ns, name):
                    continue
                app = ui.hub.apps.get(change.key)
                data: dict[str, Any] = {"key": f"{ns}/{name}", "type": change.type}
                if app is not None:
                    r = present.row(app)
                    data["id"] = r.id
                    data["html"] = row_template.render(r=r, since=present.since)
                yield _sse("app", data)
        finally:
            ui.hub.unsubscribe(queue)

    return StreamingResponse(
        events(),
        media_type="text/event-stream",
        headers={"Cache-Control": "no-store", "X-Accel-Buffering": "no"},
    )
