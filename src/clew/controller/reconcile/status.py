"""The one writer of an Application's status. Every status patch of the controller goes
through :class:`StatusWriter`: the reconciler's progress and outcome, OutOfSync from the drift
watcher, and ``status.drift``. What to write is decided by the pure functions of
:mod:`clew.controller.reconcile.outcomes`; this module only writes it.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from clew.cluster import Cluster, Conflict
from clew.controller.api.spec import API_VERSION, KIND, AppKey
from clew.report import conditions

__all__ = ["StatusWriter"]

_ATTEMPTS = 5
_STATUS = {"subresource": "status"}


class StatusWriter:
    def __init__(self, cluster: Cluster) -> None:
        self.cluster = cluster
        # The `clew reconcile` request each attempt handles, by Application.
        self.requested: dict[AppKey, str] = {}

    async def patch(self, app: dict[str, Any], status: dict[str, Any]) -> None:
        """Merge ``status`` into ``app``'s status; ``app`` is updated to what the server holds.
        An outcome (conditions without Reconciling) also answers the request the attempt
        began with, never one that arrived while it ran: `clew reconcile --wait` watches it."""
        meta = app["metadata"]
        requested = self.requested.get(AppKey.of(app))
        if requested and "conditions" in status and not _reconciling(status):
            status["lastHandledReconcileAt"] = requested
        updated = await self.cluster.patch(
            API_VERSION,
            KIND,
            meta["name"],
            {"status": status},
            namespace=meta["namespace"],
            subresource="status",
        )
        app["status"] = updated.get("status") or {}
        app["metadata"] = updated["metadata"]

    async def patch_guarded(
        self, app: dict[str, Any], make: Callable[[dict[str, Any]], dict[str, Any]]
    ) -> bool:
        """Write ``make(app)`` against ``app``'s resourceVersion, reading the Application again
        after a conflicting write (a reconcile, another revert); False if it never won."""
        key = AppKey.of(app)
        for _ in range(_ATTEMPTS):
            patch = {
                "metadata": {"resourceVersion": app["metadata"]["resourceVersion"]},
                "status": make(app),
            }
            try:
                await self.cluster.patch(
                    API_VERSION,
                    KIND,
                    key.name,
                    patch,
                    namespace=key.namespace,
                    subresource="status",
                )
                return True
            except Conflict:
                app = await self.cluster.get(API_VERSION, KIND, key.name, key.namespace)
        return False


def _reconciling(status: dict[str, Any]) -> bool:
    return any(c.get("type") == conditions.RECONCILING for c in status.get("conditions") or [])
