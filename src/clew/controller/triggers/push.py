"""Which Applications a webhook push concerns, and how a replica that does not lead gets them
reconciled: through the API, with the reconcile-request annotation ``clew reconcile`` sets, which
the leader's informer turns into a reconcile that looks at Git again."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime
from typing import Any

from clew.cluster import Cluster, NotFound
from clew.controller.api.spec import API_VERSION, KIND, RECONCILE_ANNOTATION, AppKey
from clew.controller.runtime.leader import format_micro_time
from clew.controller.triggers.webhooks import PushEvent

__all__ = ["follows", "request_reconciles"]

_CONCURRENT_PATCHES = 8


def follows(app: dict[str, Any], event: PushEvent) -> bool:
    """Whether a push may move what ``app`` applies (same repository; its ref, or one that a
    push to any ref can move)."""
    source = (app.get("spec") or {}).get("source") or {}
    if not source.get("repoURL") or not event.matches(str(source["repoURL"])):
        return False
    ref = str(source.get("ref", "main"))
    followed = ref in (event.ref, f"refs/heads/{event.ref}", f"refs/tags/{event.ref}")
    return not event.ref or followed or _may_follow(ref)


def _may_follow(ref: str) -> bool:
    """A semver range or tag-like ref may move on any push: let ls-remote decide."""
    return any(ch in ref for ch in "<>=^~* ") or ref.startswith("v")


async def request_reconciles(cluster: Cluster, namespace: str | None, event: PushEvent) -> int:
    """Annotate each follower of ``event`` (in ``namespace``, or all) as ``clew reconcile`` does;
    returns how many. One LIST, one PATCH per follower (a few at once, so that the sender gets
    its answer within its timeout); an API error propagates, so the webhook answers 500 and the
    sender delivers again."""
    resource = await cluster.resource_for(API_VERSION, KIND)
    listed = await cluster.request("GET", resource.path(namespace))
    stamp = format_micro_time(datetime.now(UTC))  # unique per push: each one counts
    patch = {"metadata": {"annotations": {RECONCILE_ANNOTATION: stamp}}}
    limit = asyncio.Semaphore(_CONCURRENT_PATCHES)

    async def annotate(key: AppKey) -> int:
        async with limit:
            try:
                await cluster.patch(API_VERSION, KIND, key.name, patch, namespace=key.namespace)
            except NotFound:  # deleted meanwhile: nothing to reconcile
                return 0
            return 1

    keys = [AppKey.of(app) for app in listed.get("items") or [] if follows(app, event)]
    return sum(await asyncio.gather(*(annotate(key) for key in keys)))
