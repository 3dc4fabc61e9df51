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
        self._inflight: dict[tuple[str, str, str], asyncio.Future[str]] = {}

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
        if pending is not None:
            return await asyncio.shield(pending)
        future: asyncio.Future[str] = asyncio.get_running_loop().create_future()
        self._inflight[key] = future
        try:
            asked = (
                self._clock()
            )  # the answer is as fresh as the question: its age counts from here
            revision = await self._cache.resolve(source)
            self._entries[key] = (revision, asked + ttl)
            future.set_result(revision)
            return revision
        except BaseException as exc:
            future.set_exception(exc)
            future.exception()  # mark retrieved: the waiters re-raise it themselves
            raise
        finally:
            del self._inflight[key]

    def invalidate(self, normalized_url: str) -> None:
        for key in [k for k in self._entries if k[0] == normalized_url]:
            del self._entries[key]
