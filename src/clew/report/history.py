"""The sync history on an Application's status: newest first, at most ten entries."""

from __future__ import annotations

from typing import Any

LIMIT = 10


def entry(
    *,
    revision: str,
    subject: str,
    author: str,
    time: str,
    result: str,
    created: int,
    configured: int,
    deleted: int,
) -> dict[str, Any]:
    return {
        "revision": revision,
        "subject": subject[:200],
        "author": author[:200],
        "time": time,
        "result": result,
        "created": created,
        "configured": configured,
        "deleted": deleted,
    }


def push(
    history: list[dict[str, Any]], new: dict[str, Any], limit: int = LIMIT
) -> list[dict[str, Any]]:
    """``new`` first, then the older entries, trimmed to ``limit``. A retry of the same revision
    with the same result replaces the newest entry instead of filling the history with copies."""
    older = list(history)
    if older and {k: older[0].get(k) for k in ("revision", "result")} == {
        k: new.get(k) for k in ("revision", "result")
    }:
        older = older[1:]
    return [new, *older][:limit]
