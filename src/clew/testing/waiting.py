"""Waiting in tests without sleeping: watch one object until a predicate holds."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from typing import Any

from clew.cluster import Cluster, Gone, NotFound

Predicate = Callable[[dict[str, Any] | None], bool]


async def until(
    cluster: Cluster,
    api_version: str,
    kind: str,
    name: str,
    namespace: str | None,
    predicate: Predicate,
    seconds: float = 60,
) -> dict[str, Any] | None:
    """Return the object once ``predicate(obj)`` holds (``obj`` is None when it does not exist);
    raise ``TimeoutError`` naming the last state seen otherwise."""
    last: list[dict[str, Any] | None] = [None]

    async def run() -> dict[str, Any] | None:
        while True:
            try:
                current: dict[str, Any] | None = await cluster.get(
                    api_version, kind, name, namespace
                )
            except NotFound:
                current = None
            last[0] = current
            if predicate(current):
                return current
            version = (current or {}).get("metadata", {}).get("resourceVersion", "")
            try:
                async for event in cluster.watch(
                    api_version,
                    kind,
                    namespace,
                    resource_version=version,
                    field_selector=f"metadata.name={name}",
                    timeout_seconds=max(1, int(seconds)),
                ):
                    if event.type == "BOOKMARK":
                        continue
                    obj = None if event.type == "DELETED" else event.object
                    last[0] = obj
                    if predicate(obj):
                        return obj
            except Gone:
                continue

    try:
        return await asyncio.wait_for(run(), seconds)
    except TimeoutError:
        state = (last[0] or {}).get("status") if last[0] else "absent"
        where = f"{kind}/{namespace or ''}/{name}"
        raise TimeoutError(f"{where} not as expected after {seconds}s; last: {state}") from None


def condition(obj: dict[str, Any] | None, kind: str) -> dict[str, Any] | None:
    for cond in ((obj or {}).get("status") or {}).get("conditions") or []:
        if cond.get("type") == kind:
            return dict(cond)
    return None
