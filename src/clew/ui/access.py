"""Who a request is and what they may do, asked of the API server (:mod:`clew.cluster.reviews`):
a TokenReview names the user behind a bearer token, a SubjectAccessReview says whether that user
may do one thing.

Answers are cached briefly (allowed: ``ttl``, denied or unauthenticated: ``denied_ttl``) so a page
over 1,000 Applications costs a review per namespace, not per row. Reviews are made with the UI
server's own identity, which needs only ``create`` on ``tokenreviews`` and
``subjectaccessreviews``.
"""

from __future__ import annotations

import hashlib
import logging
import time
from collections.abc import Callable
from typing import Any

from clew.cluster import Cluster, ClusterError, reviews
from clew.cluster.reviews import User

__all__ = ["Access", "User"]

_log = logging.getLogger(__name__)


class Access:
    def __init__(
        self,
        cluster: Cluster,
        *,
        ttl: float = 10.0,
        denied_ttl: float = 3.0,
        clock: Callable[[], float] = time.monotonic,
        max_entries: int = 4096,
    ) -> None:
        self.cluster = cluster
        self.ttl = ttl
        self.denied_ttl = denied_ttl  # short: a binding made just now soon takes effect
        self._clock = clock
        self._max = max_entries
        self._users: dict[bytes, tuple[float, User | None]] = {}
        self._decisions: dict[tuple[Any, ...], tuple[float, bool]] = {}

    async def user(self, token: str) -> User | None:
        """The authenticated user of ``token``; None when the API server does not accept it."""
        digest = hashlib.sha256(token.encode()).digest()
        now = self._clock()
        cached = self._users.get(digest)
        if cached is not None and cached[0] > now:
            return cached[1]
        user = await reviews.authenticate(self.cluster, token)
        self._remember(self._users, digest, now, user, user is not None)
        return user

    async def allowed(
        self,
        user: User,
        verb: str,
        resource: str,
        *,
        group: str = "",
        namespace: str | None = None,
        name: str | None = None,
    ) -> bool:
        """May ``user`` do ``verb`` on ``resource`` (in ``namespace``, named ``name``)? A failed
        review is a no: the UI never grants what it could not check."""
        key = (user.name, user.groups, verb, group, resource, namespace, name)
        now = self._clock()
        cached = self._decisions.get(key)
        if cached is not None and cached[0] > now:
            return cached[1]
        attributes: dict[str, Any] = {"verb": verb, "group": group, "resource": resource}
        if namespace:
            attributes["namespace"] = namespace
        if name:
            attributes["name"] = name
        try:
            allowed = await reviews.allowed(self.cluster, user, resource=attributes)
        except ClusterError as exc:  # not cached: the next request asks again
            _log.warning("access review for %s failed: %s", user.name, exc)
            return False
        self._remember(self._decisions, key, now, allowed, allowed)
        return allowed

    def _remember(self, cache: dict[Any, Any], key: Any, now: float, value: Any, ok: bool) -> None:
        if len(cache) >= self._max:
            cache.clear()
        cache[key] = (now + (self.ttl if ok else self.denied_ttl), value)
