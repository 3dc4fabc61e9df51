"""One resolution of (repository, ref) per interval, shared by every Application that follows it.

Polling is the cheap ``ls-remote``; with many Applications on one repository and branch, even
that should happen once per interval, not once per Application. A webhook push invalidates the
entry for its repository, so the next reconcile sees the new commit at once.
"""

from __future__ import annotations

import asyncio
import hashlib
import time
from collections.abc import Callable

from clew.source import GitSource, SnapshotCache
from clew.source.urls import normalize_repo_url as _normalize


class RevisionCache:
    def __init__(self, cache: SnapshotCache, clock: Callable[[], float] = time.monotonic) -> None:
        self._cache = cache
        self._clock = clock
        self._entries: dict[tuple[str, str, str], tuple[str, float]] = {}
        self._inflight: dict[tuple[str, str, str], asyncio.Task[str]] = {}

    @staticmethod
    def _key(source: GitSource) -> tuple[str, str, str]:
        creds = repr(source.credentials).encode()  # redacted repr: identity, not the secret
        return (_normalize(source.url), source.ref, hashlib.sha256(creds).hexdigest()[:16])

    async def resolve(self, source: GitSource, ttl: float) -> str:
        """The commit ``source.ref`` points to, at most ``ttl`` seconds old."""
        key = self._key(source)
        hit = self._entries.get(key)
        if hit is not None and self._clock() < hit[1]:
            return hit[0]
        pending = self._inflight.get(key)
        if pending is None:
            pending = asyncio.create_task(self._resolve(source, key, ttl))
            pending.add_done_callback(_retrieved)
            self._inflight[key] = pending
        # Shielded: a caller that is cancelled (a reconcile moved to another shard) leaves the
        # question running for the others, who would otherwise see its cancellation.
        return await asyncio.shield(pending)

    async def _resolve(self, source: GitSource, key: tuple[str, str, str], ttl: float) -> str:
        try:
            asked = self._clock()  # the answer is as fresh as the question: its age counts here
            revision = await self._cache.resolve(source)
            self._entries[key] = (revision, asked + ttl)
            return revision
        finally:
            del self._inflight[key]

    def invalidate(self, normalized_url: str) -> None:
        for key in [k for k in self._entries if k[0] == normalized_url]:
            del self._entries[key]


def _retrieved(task: asyncio.Task[str]) -> None:
    if not task.cancelled():
        task.exception()  # retrieved: no "never retrieved" noise when every waiter has left
