"""Reading the API server's answers: an error answer as a :class:`ClusterError`, and a watch
as a stream of :class:`WatchEvent` (bookmarks included; an ERROR event raises)."""

from __future__ import annotations

import contextlib
from collections.abc import AsyncGenerator
from dataclasses import dataclass
from typing import Any

import httpx2 as httpx
import msgspec

from clew.cluster import errors
from clew.model.refs import ObjectRef

__all__ = ["WatchEvent", "error_from", "stream"]

_decoder = msgspec.json.Decoder()


@dataclass(frozen=True, slots=True)
class WatchEvent:
    """One event of a watch: ``ADDED``, ``MODIFIED``, ``DELETED`` or ``BOOKMARK``."""

    type: str
    object: dict[str, Any]


async def stream(
    http: httpx.AsyncClient,
    path: str,
    params: dict[str, Any],
    timeout_seconds: int,
    *,
    headers: list[tuple[str, str]],
    api_version: str,
    kind: str,
) -> AsyncGenerator[WatchEvent, None]:
    """The events of one watch request; objects get ``apiVersion`` and ``kind`` filled in."""
    timeout = httpx.Timeout(10.0, read=timeout_seconds + 30.0)
    try:
        async with http.stream(
            "GET",
            path,
            params=params,
            timeout=timeout,
            headers=headers,
        ) as resp:
            if resp.status_code >= 400:
                await resp.aread()
                raise error_from(resp, None)
            async for line in resp.aiter_lines():
                if not line:
                    continue
                event = _decoder.decode(line)
                if event.get("type") == "ERROR":
                    status = event.get("object") or {}
                    raise errors.from_status(
                        int(status.get("code") or 500), status, ref=None, retry_after=None
                    )
                obj = event.get("object") or {}
                obj.setdefault("apiVersion", api_version)
                obj.setdefault("kind", kind)
                yield WatchEvent(str(event.get("type")), obj)
    except httpx.TransportError as exc:
        raise errors.ConnectionFailed(f"watch on {kind} interrupted: {exc!s}") from exc


def error_from(resp: httpx.Response, ref: ObjectRef | None) -> errors.ClusterError:
    status: dict[str, Any] | None = None
    with contextlib.suppress(msgspec.DecodeError):
        decoded = _decoder.decode(resp.content) if resp.content else None
        status = decoded if isinstance(decoded, dict) else None
    retry_after: float | None = None
    with contextlib.suppress(TypeError, ValueError):
        retry_after = float(resp.headers.get("Retry-After", ""))
    return errors.from_status(resp.status_code, status, ref=ref, retry_after=retry_after)
