"""Leader election on a real API server, with short timings (lease 3 s, renew deadline 2 s,
retry 0.5 s).

It proves that of two candidates exactly one leads, and keeps leading while renewing; that a
leader that releases hands over at the successor's next try, well before the lease would expire;
that a leader that dies without releasing is replaced only after its lease has expired, and soon
after; that a leader cut off from the API server stops its work within the renew deadline, before
anyone else starts; and that a lease another identity keeps fresh is never stolen, but is taken
once it goes stale. Lease fields are checked as the server stored them. Synchronisation is by
futures the callbacks resolve, awaited with timeouts; a candidate *not* taking over is asserted by
a timeout on its future.
"""

from __future__ import annotations

import asyncio
import contextlib
import re
from collections.abc import AsyncIterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
import yaml

from clew.cluster import Cluster
from clew.controller.runtime.leader import LeaderElector, format_micro_time, parse_micro_time
from clew.testing.pytest_plugin import KubeCluster

pytestmark = pytest.mark.integration

LEASE = "clew-controller"
LEASE_DURATION = 3.0
RENEW_DEADLINE = 2.0
RETRY = 0.5
MAX_RETRY = RETRY * 1.2  # retries are jittered by ±20%
MICRO_TIME = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{6}Z$")


def settle(future: asyncio.Future[float], value: float) -> None:
    # A test that timed out awaiting a future has cancelled it; the callback must not then fail.
    if not future.done():
        future.set_result(value)


class Candidate:
    """One elector running in a task; futures say when it started and stopped leading."""

    def __init__(self, cluster: Cluster, namespace: str, identity: str, **options: Any) -> None:
        self.elector = LeaderElector(
            cluster,
            namespace,
            LEASE,
            identity,
            lease_duration=LEASE_DURATION,
            renew_deadline=RENEW_DEADLINE,
            retry_period=RETRY,
            **options,
        )
        loop = asyncio.get_running_loop()
        self.started: asyncio.Future[float] = loop.create_future()
        self.work_cancelled: asyncio.Future[float] = loop.create_future()
        self.stopped: asyncio.Future[float] = loop.create_future()
        self.task = asyncio.create_task(self.elector.run(self._lead, self._stop))

    async def _lead(self) -> None:
        loop = asyncio.get_running_loop()
        settle(self.started, loop.time())
        try:
            await loop.create_future()  # work until cancelled
        except asyncio.CancelledError:
            settle(self.work_cancelled, loop.time())
            raise

    async def _stop(self) -> None:
        settle(self.stopped, asyncio.get_running_loop().time())

    async def kill(self) -> None:
        self.task.cancel()
        await asyncio.wait({self.task})


@pytest.fixture
async def candidates() -> AsyncIterator[list[Candidate]]:
    """Candidates a test starts; every one still running is killed at the end."""
    running: list[Candidate] = []
    yield running
    for candidate in running:
        await candidate.kill()


async def first_leader(*contenders: Candidate, timeout: float = 10) -> Candidate:
    done, _ = await asyncio.wait(
        [c.started for c in contenders], timeout=timeout, return_when=asyncio.FIRST_COMPLETED
    )
    assert len(done) == 1, "none or several candidates started leading"
    return next(c for c in contenders if c.started in done)


async def read_lease(cluster: Cluster, namespace: str) -> dict[str, Any]:
    lease = await cluster.get("coordination.k8s.io/v1", "Lease", LEASE, namespace)
    return dict(lease["spec"])


async def never(future: asyncio.Future[float], seconds: float) -> None:
    """Assert that ``future`` stays pending for ``seconds``."""
    with pytest.raises(TimeoutError):
        async with asyncio.timeout(seconds):
            await asyncio.shield(future)


def now() -> float:
    return asyncio.get_running_loop().time()


async def test_of_two_candidates_exactly_one_leads(
    kube_restricted: Cluster, kube_namespace: str, candidates: list[Candidate]
) -> None:
    a = Candidate(kube_restricted, kube_namespace, "replica-a")
    b = Candidate(kube_restricted, kube_namespace, "replica-b")
    candidates += [a, b]
    leader = await first_leader(a, b)
    follower = b if leader is a else a
    assert leader.elector.is_leader
    first = await read_lease(kube_restricted, kube_namespace)
    assert first["holderIdentity"] == leader.elector.identity
    assert first["leaseDurationSeconds"] == 3
    assert first["leaseTransitions"] == 0
    assert MICRO_TIME.match(first["renewTime"]), first["renewTime"]
    assert MICRO_TIME.match(first["acquireTime"]), first["acquireTime"]

    # Through more than a lease duration of renewals, the follower never leads.
    await never(follower.started, LEASE_DURATION + 1)
    assert not follower.elector.is_leader
    assert follower.elector.leader == leader.elector.identity
    later = await read_lease(kube_restricted, kube_namespace)
    assert later["holderIdentity"] == leader.elector.identity
    assert later["acquireTime"] == first["acquireTime"]
    renewed, acquired = parse_micro_time(later["renewTime"]), parse_micro_time(first["renewTime"])
    assert renewed is not None
    assert acquired is not None
    assert renewed > acquired
    assert later["leaseTransitions"] == 0


async def test_a_released_lease_is_taken_over_at_once(
    kube_restricted: Cluster, kube_namespace: str, candidates: list[Candidate]
) -> None:
    a = Candidate(kube_restricted, kube_namespace, "replica-a")
    b = Candidate(kube_restricted, kube_namespace, "replica-b")
    candidates += [a, b]
    leader = await first_leader(a, b)
    follower = b if leader is a else a

    released_at = now()
    async with asyncio.timeout(5):
        await leader.elector.release()
    assert leader.task.done()
    assert leader.task.exception() is None
    assert leader.work_cancelled.done()
    assert leader.stopped.done()
    assert not leader.elector.is_leader

    async with asyncio.timeout(LEASE_DURATION):
        took_over = await follower.started
    # At the follower's next try, not after the lease's 3 s.
    assert took_over - released_at < MAX_RETRY + 1.0
    spec = await read_lease(kube_restricted, kube_namespace)
    assert spec["holderIdentity"] == follower.elector.identity
    assert spec["leaseTransitions"] == 1


async def test_a_dead_leader_is_replaced_after_its_lease_expires(
    kube_restricted: Cluster, kube_namespace: str, candidates: list[Candidate]
) -> None:
    a = Candidate(kube_restricted, kube_namespace, "replica-a", release_on_cancel=False)
    b = Candidate(kube_restricted, kube_namespace, "replica-b", release_on_cancel=False)
    candidates += [a, b]
    leader = await first_leader(a, b)
    follower = b if leader is a else a

    await leader.kill()  # like a killed process: no release
    died_at = now()
    assert (await read_lease(kube_restricted, kube_namespace))["holderIdentity"] == (
        leader.elector.identity
    )
    async with asyncio.timeout(LEASE_DURATION + 3):
        took_over = await follower.started
    waited = took_over - died_at
    # Its last renewal was at most one retry before it died; the lease lasts 3 s after that.
    assert waited > LEASE_DURATION - MAX_RETRY - 0.2
    # Seen unchanged for 3 s (up to one retry late), then taken at the next retry.
    assert waited < LEASE_DURATION + 2 * MAX_RETRY + 1.0
    spec = await read_lease(kube_restricted, kube_namespace)
    assert spec["holderIdentity"] == follower.elector.identity
    assert spec["leaseTransitions"] == 1


class Partition:
    """A TCP forwarder to the API server that can be cut: a real network partition for one
    client, whose kubeconfig points here."""

    def __init__(self, target: str) -> None:
        host, _, port = target.removeprefix("https://").partition(":")
        self.host, self.port = host, int(port)
        self.server: asyncio.Server | None = None
        self.writers: list[asyncio.StreamWriter] = []
        self.handlers: set[asyncio.Task[Any]] = set()

    async def start(self) -> int:
        self.server = await asyncio.start_server(self._handle, "127.0.0.1", 0)
        return int(self.server.sockets[0].getsockname()[1])

    async def _handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        task = asyncio.current_task()
        assert task is not None
        self.handlers.add(task)
        self.writers.append(writer)
        try:
            up_reader, up_writer = await asyncio.open_connection(self.host, self.port)
            self.writers.append(up_writer)
            await asyncio.gather(_pipe(reader, up_writer), _pipe(up_reader, writer))
        except OSError:
            writer.transport.abort()
        finally:
            self.handlers.discard(task)

    async def cut(self) -> None:
        if self.server is not None:
            self.server.close()
            await self.server.wait_closed()
        for writer in self.writers:
            writer.transport.abort()
        if self.handlers:
            await asyncio.wait(set(self.handlers))


async def _pipe(source: asyncio.StreamReader, sink: asyncio.StreamWriter) -> None:
    with contextlib.suppress(OSError):
        while data := await source.read(65536):
            sink.write(data)
            await sink.drain()
    sink.transport.abort()


def kubeconfig_via(original: Path, port: int, out: Path) -> Path:
    config = yaml.safe_load(original.read_text())
    for cluster in config["clusters"]:
        cluster["cluster"]["server"] = f"https://127.0.0.1:{port}"
    out.write_text(yaml.safe_dump(config))
    out.chmod(0o600)
    return out


async def test_a_partitioned_leader_stops_before_anyone_else_starts(
    kube_cluster: KubeCluster,
    kube_restricted: Cluster,
    kube_namespace: str,
    candidates: list[Candidate],
    tmp_path: Path,
) -> None:
    partition = Partition(kube_restricted.server.rstrip("/"))
    port = await partition.start()
    config = kubeconfig_via(kube_cluster.restricted_kubeconfig, port, tmp_path / "cut.kubeconfig")
    try:
        async with Cluster.from_kubeconfig(config) as cut_off:
            a = Candidate(cut_off, kube_namespace, "replica-cut")
            candidates.append(a)
            async with asyncio.timeout(10):
                await a.started
            b = Candidate(kube_restricted, kube_namespace, "replica-b")
            candidates.append(b)
            await never(b.started, 2 * RETRY)

            await partition.cut()
            cut_at = now()
            async with asyncio.timeout(RENEW_DEADLINE + 2):
                stopped = await a.work_cancelled
            assert stopped - cut_at <= RENEW_DEADLINE + 0.5
            async with asyncio.timeout(1):
                await a.task  # run() ends when leadership is lost
            assert a.stopped.done()
            assert not a.elector.is_leader

            async with asyncio.timeout(LEASE_DURATION + 3):
                took_over = await b.started
            assert stopped < took_over, "two leaders at once"
    finally:
        await partition.cut()


async def test_a_lease_kept_fresh_by_another_identity_is_never_stolen(
    kube_admin: Cluster, kube_restricted: Cluster, kube_namespace: str, candidates: list[Candidate]
) -> None:
    def stamp() -> str:
        return format_micro_time(datetime.now(UTC))

    await kube_admin.create(
        {
            "apiVersion": "coordination.k8s.io/v1",
            "kind": "Lease",
            "metadata": {"name": LEASE, "namespace": kube_namespace},
            "spec": {
                "holderIdentity": "someone-else",
                "leaseDurationSeconds": 3,
                "acquireTime": stamp(),
                "renewTime": stamp(),
                "leaseTransitions": 4,
            },
        }
    )

    async def keep_fresh() -> None:
        while True:
            await kube_admin.patch(
                "coordination.k8s.io/v1",
                "Lease",
                LEASE,
                {"spec": {"renewTime": stamp()}},
                namespace=kube_namespace,
            )
            await asyncio.sleep(RETRY)  # the other holder's renew period, not synchronisation

    keeper = asyncio.create_task(keep_fresh())
    try:
        a = Candidate(kube_restricted, kube_namespace, "replica-a")
        candidates.append(a)
        await never(a.started, 2 * LEASE_DURATION)
        assert a.elector.leader == "someone-else"
        assert not a.elector.is_leader
    finally:
        keeper.cancel()
        await asyncio.wait({keeper})

    abandoned_at = now()
    async with asyncio.timeout(LEASE_DURATION + 3):
        took_over = await a.started
    assert took_over - abandoned_at > LEASE_DURATION - MAX_RETRY - 0.2
    spec = await read_lease(kube_restricted, kube_namespace)
    assert spec["holderIdentity"] == "replica-a"
    assert spec["leaseTransitions"] == 5
    assert spec["leaseDurationSeconds"] == 3
