"""The clusters page: the destination clusters the viewer's Applications name
(``destination.kubeConfig.secretRef``, docs/multi-cluster.md), with their server, connection
health and reason, the Applications using each, and when one last synced to it.

Computed by the same pure :func:`clew.cli.clusters.summarize` as ``clew get clusters``, from
what the API server holds: the Applications (from the hub, only those the viewer may see, as on
the list) and, read with the viewer's own token, each named Secret, of which only the server
URL without user information is kept. A viewer who may not read a Secret sees no server.
"""

from __future__ import annotations

from typing import Any

from starlette.requests import Request
from starlette.responses import RedirectResponse, Response

from clew.cli.clusters import ClusterRow, summarize
from clew.cluster import ClusterError
from clew.ui.pages import context, synced, unavailable, visible_remote_apps
from clew.ui.state import TEMPLATES, Ui, Viewer, ui_of, viewer

__all__ = ["clusters_page"]


async def _rows(ui: Ui, who: Viewer, apps: list[dict[str, Any]]) -> list[ClusterRow]:
    secrets: dict[tuple[str, str], dict[str, Any] | None] = {}
    async with ui.cluster.as_bearer(who.session.token) as mine:
        for row in summarize(apps, {}):
            try:
                secrets[row.namespace, row.secret] = await mine.get(
                    "v1", "Secret", row.secret, row.namespace
                )
            except ClusterError:  # missing, or not the viewer's to read: no server shown
                secrets[row.namespace, row.secret] = None
    return summarize(apps, secrets)


async def clusters_page(request: Request) -> Response:
    ui = ui_of(request)
    who = await viewer(request)
    if who is None:
        return RedirectResponse("/login", status_code=303)
    if not await synced(ui):
        return unavailable(request, ui, who)
    apps = await visible_remote_apps(ui, who)
    rows = await _rows(ui, who, apps)
    return TEMPLATES.TemplateResponse(
        request,
        "clusters.html",
        context(request, ui, who, rows=rows, has_clusters=bool(rows)),
    )
