"""Applications as the benchmarks register them: a credentials Secret beside each, HTTPS basic
auth against the real Git server, and a watch-fed tracker of which ones are Ready at a revision.
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
from collections.abc import Callable
from typing import Any

from bench.operator.watching import Seen
from clew.cluster import AlreadyExists, Cluster, NotFound
from clew.controller.api.spec import API_VERSION, KIND
from clew.testing.waiting import condition

CREDENTIALS = "git"  # the Secret holding the Git user and password


def git_secret(namespace: str, user: str, password: str) -> dict[str, Any]:
    return {
        "apiVersion": "v1",
        "kind": "Secret",
        "metadata": {"name": CREDENTIALS, "namespace": namespace},
        "data": {
            "username": base64.b64encode(user.encode()).decode(),
            "password": base64.b64encode(password.encode()).decode(),
        },
    }


def application(
    name: str,
    namespace: str,
    repo_url: str,
    path: str,
    *,
    destination: str | None = None,
    interval: str = "10m",
    wait: bool = True,
    self_heal: bool = True,
    labels: dict[str, str] | None = None,
) -> dict[str, Any]:
    return {
        "apiVersion": API_VERSION,
        "kind": KIND,
        "metadata": {"name": name, "namespace": namespace, "labels": labels or {}},
        "spec": {
            "source": {
                "repoURL": repo_url,
                "ref": "main",
                "path": path,
                "secretRef": {"name": CREDENTIALS},
            },
            "destination": {"namespace": destination or namespace},
            "interval": interval,
            "timeout": "10m",
            "prune": True,
            "selfHeal": self_heal,
            "wait": wait,
            "retry": {"initialDelay": "1s", "maxDelay": "10s"},
        },
    }


async def namespace_with_secret(admin: Cluster, namespace: str, user: str, password: str) -> None:
    with contextlib.suppress(AlreadyExists):
        await admin.create(
            {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": namespace}}
        )
    await admin.apply(git_secret(namespace, user, password), field_manager="bench", force=True)


def ready_at(revision: str) -> Callable[[dict[str, Any] | None], bool]:
    """Ready=True for the current generation, with ``revision`` applied."""

    def check(app: dict[str, Any] | None) -> bool:
        ready = condition(app, "Ready")
        return bool(
            app
            and ready
            and ready["status"] == "True"
            and ready.get("observedGeneration") == app["metadata"].get("generation")
            and (app.get("status") or {}).get("lastAppliedRevision") == revision
        )

    return check


class ReadyTracker:
    """Fed by a watch on Applications: when each first became Ready at ``revision``;
    ``all_ready`` is set once ``expected`` of them are."""

    def __init__(self, revision: str, expected: int) -> None:
        self._ready = ready_at(revision)
        self.expected = expected
        self.times: dict[str, float] = {}
        self.reasons: dict[str, str] = {}  # the last Ready reason of those not Ready yet
        self.all_ready = asyncio.Event()

    def __call__(self, seen: Seen) -> None:
        key = f"{seen.obj['metadata'].get('namespace')}/{seen.name}"
        if key in self.times or seen.type == "DELETED":
            return
        if self._ready(seen.obj):
            self.times[key] = seen.at
            self.reasons.pop(key, None)
            if len(self.times) >= self.expected:
                self.all_ready.set()
        else:
            self.reasons[key] = str((condition(seen.obj, "Ready") or {}).get("reason", "none"))


class ReconcileCounter:
    """Fed by a watch on Applications: how many reconciles each one started, counted as the
    transitions of its ``Reconciling`` condition to True (set when a sync starts)."""

    def __init__(self) -> None:
        self.started: dict[str, int] = {}
        self._reconciling: dict[str, bool] = {}

    def __call__(self, seen: Seen) -> None:
        now = (condition(seen.obj, "Reconciling") or {}).get("status") == "True"
        if now and not self._reconciling.get(seen.name, False):
            self.started[seen.name] = self.started.get(seen.name, 0) + 1
        self._reconciling[seen.name] = now


async def release(admin: Cluster, apps: list[dict[str, Any]]) -> None:
    """Drop the controller's finalizer from Applications (the controller is stopped), so their
    namespaces can be deleted without the controller pruning anything."""
    sem = asyncio.Semaphore(16)

    async def one(app: dict[str, Any]) -> None:
        meta = app["metadata"]
        async with sem:
            with contextlib.suppress(NotFound):
                await admin.patch(
                    API_VERSION,
                    KIND,
                    meta["name"],
                    {"metadata": {"finalizers": None}},
                    namespace=meta["namespace"],
                )

    await asyncio.gather(*(one(a) for a in apps))
