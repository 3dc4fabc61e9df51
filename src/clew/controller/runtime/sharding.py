"""Sharding: spread keys over the live controller replicas, never acting on one key twice at once.

Each replica holds a Lease of its own (``clew-shard-<identity>``, labelled
``clew.dev/shard-member=true``), renewed by the same :class:`LeaderElector` code as the leader
Lease, so a replica that cannot renew stops its work as a leader does. The live members are the
labelled Leases that are not expired (client-go's rule, :func:`lease_expired`); keys go to
members by rendezvous hashing (:mod:`.shards`).

A replica that simply acted on its own view would race during a membership change: the new
owner of a key might start before the old one has noticed. So each replica *publishes*, in its
Lease's ``clew.dev/shard-view`` annotation, the digest of the view it acts on, and keeps this
invariant: it acts only on keys it owns under its published view. On a change it first stops
acting on the keys that move away (their in-flight work is cancelled), then publishes the new
view. It takes up a key it did not hold only when every live member has published the same view:
each of them has then stopped acting on the keys it gave up. A member whose Lease expired has
stopped too (it stops at its renew deadline, before the Lease expires). docs/sharding.md
explains the protocol and compares Argo CD's and Flux's.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Callable, Coroutine, Iterable
from datetime import UTC, datetime
from typing import Any, Generic, Protocol, TypeVar

from clew.cluster import Cluster, ClusterError, Conflict, NotFound
from clew.controller.runtime.leader import (
    LEASE_API_VERSION,
    LeaderElector,
    lease_expired,
    parse_micro_time,
)
from clew.controller.runtime.queue import jittered
from clew.controller.runtime.shards import owner, view_digest

__all__ = ["SHARD_LABEL", "VIEW_ANNOTATION", "NotOwned", "Shard", "ShardMetrics"]

SHARD_LABEL = "clew.dev/shard-member"
VIEW_ANNOTATION = "clew.dev/shard-view"

LONG_DEAD_SECONDS = 300.0
"""A member Lease not renewed for this long by our wall clock is dead at first sight, without
waiting a lease duration on our own clock: no cluster runs with clocks minutes apart (tokens and
certificates fail first). Such Leases, and cleared ones (SIGTERM), are deleted: Pod names change
on every rollout, and each left a Lease behind that delayed every later replica's start."""

K = TypeVar("K")
R = TypeVar("R")

_log = logging.getLogger(__name__)


class ShardMetrics(Protocol):
    def set_shard(self, members: int, owned: int) -> None: ...


class NotOwned(Exception):
    """The key may not be acted on here now. ``still_owned``: it is ours but waits for the other
    members to agree (try again soon); otherwise it belongs to another replica (drop it)."""

    def __init__(self, still_owned: bool) -> None:
        super().__init__("owned, waiting for the members to agree" if still_owned else "not ours")
        self.still_owned = still_owned


class Shard(Generic[K]):
    """One replica's membership and its share of the keys.

    ``await shard.run(work)`` holds this replica's Lease and, while it is held, runs ``work``
    alongside the membership rounds (one LIST of member Leases every retry period). Work on a
    key goes through :meth:`act`. ``keys()`` lists every key (the informer's view);
    ``on_gained(key)`` is called for each key this replica takes up (queue it) and
    ``on_dropped(key)`` for each it gives up (forget its drift watch).
    """

    def __init__(
        self,
        cluster: Cluster,
        namespace: str,
        identity: str,
        *,
        name: Callable[[K], str],
        keys: Callable[[], Iterable[K]],
        on_gained: Callable[[K], None],
        on_dropped: Callable[[K], None],
        timing: tuple[float, float, float] = (10.0, 7.0, 2.0),
        metrics: ShardMetrics | None = None,
    ) -> None:
        self.cluster = cluster
        self.namespace = namespace
        self.identity = identity
        self.lease_name = f"clew-shard-{identity}"
        # lease duration, renew deadline, retry period: the leader's rules, the leader's code
        self.elector = LeaderElector(cluster, namespace, self.lease_name, identity, *timing)
        self._name = name
        self._keys = keys
        self._on_gained = on_gained
        self._on_dropped = on_dropped
        self._metrics = metrics
        self._view: tuple[str, ...] = ()  # the members this replica acts on (published)
        self._published: str | None = None
        self._agreed = False
        self._held: set[K] = set()  # keys taken up under an agreed view, kept while ours
        self._acting: dict[K, asyncio.Task[Any]] = {}
        self._seen: dict[str, tuple[tuple[tuple[str, str], ...], float]] = {}

    @property
    def members(self) -> tuple[str, ...]:
        return self._view

    @property
    def agreed(self) -> bool:
        """True when every live member published the view this replica acts on."""
        return self._agreed

    def owns(self, key: K) -> bool:
        return owner(self._name(key), self._view) == self.identity

    def may_start(self, key: K) -> bool:
        return self.owns(key) and (key in self._held or self._agreed)

    # -- lifecycle ------------------------------------------------------------------------------

    async def run(self, work: Callable[[], Coroutine[Any, Any, None]]) -> None:
        """Hold the membership Lease and run ``work`` while it is held; campaign again after a
        loss. Returns when ``work`` returns; cancelling it releases the Lease."""
        while True:
            ended = False

            async def serve() -> None:
                nonlocal ended
                await self._serve(work)
                ended = True

            await self.elector.run(serve)
            if ended:
                return

    async def _serve(self, work: Callable[[], Coroutine[Any, Any, None]]) -> None:
        self._reset()
        rounds = asyncio.create_task(self._rounds(), name=f"shard rounds {self.identity}")
        job = asyncio.create_task(work(), name=f"shard work {self.identity}")
        try:
            done, _ = await asyncio.wait({rounds, job}, return_when=asyncio.FIRST_COMPLETED)
            for task in done:
                task.result()
        finally:
            for task in (rounds, job, *self._acting.values()):
                task.cancel()
            await asyncio.gather(rounds, job, *self._acting.values(), return_exceptions=True)
            self._reset()

    def _reset(self) -> None:
        self._view, self._published, self._agreed = (), None, False
        self._held.clear()
        self._acting.clear()

    # -- acting on one key ----------------------------------------------------------------------

    async def act(self, key: K, work: Callable[[], Coroutine[Any, Any, R]]) -> R:
        """Run ``work()`` for ``key`` if this replica may; :class:`NotOwned` if it may not, or if
        the key moved away meanwhile (the work was cancelled)."""
        if not self.may_start(key):
            raise NotOwned(self.owns(key))
        self._held.add(key)
        # A task of its own, so that a move can cancel this work alone.
        task: asyncio.Task[R] = asyncio.create_task(work())
        self._acting[key] = task
        try:
            await asyncio.wait({task})
        except asyncio.CancelledError:
            task.cancel()
            await asyncio.wait({task})
            raise
        finally:
            if self._acting.get(key) is task:
                del self._acting[key]
        if task.cancelled():  # moved away, or cancelled from inside: still ours, try again
            raise NotOwned(self.owns(key))
        return task.result()

    # -- membership rounds ----------------------------------------------------------------------

    async def _rounds(self) -> None:
        while True:
            try:
                await self._round()
            except ClusterError as exc:
                self._agreed = False  # unsure of the others: keep what we hold, take nothing new
                _log.warning("shard membership round failed: %s", exc)
            await asyncio.sleep(jittered(self.elector.retry_period, 0.2))

    async def _round(self) -> None:
        leases, _ = await self.cluster.list_objects(
            LEASE_API_VERSION, "Lease", self.namespace, label_selector=f"{SHARD_LABEL}=true"
        )
        published = self._live(leases)
        await self._delete_dead(leases)
        view = tuple(sorted({self.identity, *published}))
        if view != self._view:
            self._agreed = False
            await self._drop_moved(view)
            self._view = view
            _log.info("shard members: %s", ", ".join(view))
        digest = view_digest(view)
        if self._published != digest:
            await self._publish(digest)
        published[self.identity] = digest
        agreed = all(published.get(member) == digest for member in view)
        if agreed and not self._agreed:
            self._take_up()
        self._agreed = agreed
        if self._metrics is not None:
            self._metrics.set_shard(len(view), sum(1 for key in self._keys() if self.owns(key)))

    def _live(self, leases: list[dict[str, Any]]) -> dict[str, str | None]:
        """The live members (other than this replica) and the view digest each published."""
        now, now_monotonic = datetime.now(UTC), time.monotonic()
        live: dict[str, str | None] = {}
        names = set()
        for lease in leases:
            meta, spec = lease.get("metadata") or {}, lease.get("spec") or {}
            name = str(meta.get("name"))
            names.add(name)
            record = tuple(sorted((k, str(v)) for k, v in spec.items()))
            seen = self._seen.get(name)
            if seen is None or seen[0] != record:
                seen = self._seen[name] = (record, now_monotonic)
            holder = str(spec.get("holderIdentity") or "")
            if not holder or holder == self.identity or name == self.lease_name:
                continue
            duration = self.elector.lease_duration
            if _long_dead(spec, now) or lease_expired(spec, now, now_monotonic - seen[1], duration):
                continue
            live[holder] = (meta.get("annotations") or {}).get(VIEW_ANNOTATION)
        for gone in set(self._seen) - names:
            del self._seen[gone]
        return live

    async def _delete_dead(self, leases: list[dict[str, Any]]) -> None:
        """Delete the member Leases of replicas long dead, or cleared and left unchanged for a
        lease duration; only as read (a resourceVersion precondition), so a replica that comes
        back meanwhile keeps its Lease."""
        now, now_monotonic = datetime.now(UTC), time.monotonic()
        for lease in leases:
            meta, spec = lease.get("metadata") or {}, lease.get("spec") or {}
            name = str(meta.get("name"))
            seen = self._seen.get(name)
            if name == self.lease_name or seen is None:
                continue
            cleared = not spec.get("holderIdentity")
            quiet = now_monotonic - seen[1] > self.elector.lease_duration
            if (cleared and quiet) or _long_dead(spec, now):
                with contextlib.suppress(Conflict, NotFound):
                    await self.cluster.delete(
                        LEASE_API_VERSION,
                        "Lease",
                        name,
                        self.namespace,
                        resource_version=str(meta.get("resourceVersion") or "") or None,
                    )
                    _log.info("deleted the member Lease %s of a replica gone", name)

    async def _drop_moved(self, view: tuple[str, ...]) -> None:
        """Stop acting on every key that ``view`` gives to another member: cancel its work and
        wait for it, before the new view is published."""
        mine = self.identity

        def moves(key: K) -> bool:
            return owner(self._name(key), view) != mine

        # Out of the held set first, with no await in between: no worker may start them again.
        for key in [key for key in self._held if moves(key)]:
            self._held.discard(key)
            self._on_dropped(key)
        moving = [task for key, task in self._acting.items() if moves(key)]
        for task in moving:
            task.cancel()
        if moving:
            await asyncio.wait(moving)

    async def _publish(self, digest: str) -> None:
        patch = {
            "metadata": {
                "labels": {SHARD_LABEL: "true"},
                "annotations": {VIEW_ANNOTATION: digest},
            }
        }
        await self.cluster.patch(
            LEASE_API_VERSION, "Lease", self.lease_name, patch, namespace=self.namespace
        )
        self._published = digest

    def _take_up(self) -> None:
        """Every member agrees on our view: take up the keys it gives us that we did not hold."""
        for key in self._keys():
            if self.owns(key) and key not in self._held:
                self._held.add(key)
                self._on_gained(key)


def _long_dead(spec: dict[str, Any], now: datetime) -> bool:
    renewed = parse_micro_time(spec.get("renewTime")) or parse_micro_time(spec.get("acquireTime"))
    return renewed is not None and (now - renewed).total_seconds() > LONG_DEAD_SECONDS
