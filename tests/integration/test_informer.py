"""Shared informers on a real API server.

It proves that the first list fills the cache (label selectors honoured); that creates, updates
and deletes reach every subscriber, sync or async, in order, with the previous state on
MODIFIED, and that a late subscriber first gets the cached state; that a real 410 re-lists and
the re-list reports what changed while nobody watched: the 410 is produced by stopping the
informer, deleting and re-creating the CustomResourceDefinition of its kind (the API server then
serves that kind from a new watch cache, which no longer has the old resourceVersion) and running
the informer again, so the synthetic DELETED/ADDED events are checked against a genuine Gone; that
a watch broken by a cut connection resumes from its last resourceVersion without re-listing and
delivers what happened during the cut; that an unreachable server is retried with growing,
capped backoff; that two requests for the same key share one informer and one watch; and that
stopping leaves no task behind. Synchronisation is by the informer's own events, awaited with
timeouts.
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import secrets
import socket
from collections.abc import AsyncIterator, Callable
from pathlib import Path
from typing import Any

import pytest
import yaml

from clew.cluster import Cluster, ClusterError, ConnectionFailed, Gone, NotFound
from clew.controller.runtime.informer import Informer, InformerFactory
from clew.testing.pytest_plugin import KubeCluster

pytestmark = pytest.mark.integration

CRD_API = "apiextensions.k8s.io/v1"

Event = tuple[str, dict[str, Any], dict[str, Any] | None]


def configmap(name: str, namespace: str, **labels: str) -> dict[str, Any]:
    return {
        "apiVersion": "v1",
        "kind": "ConfigMap",
        "metadata": {"name": name, "namespace": namespace, "labels": labels},
        "data": {"v": "1"},
    }


def name_of(obj: dict[str, Any]) -> str:
    return str(obj["metadata"]["name"])


def uid_of(obj: dict[str, Any]) -> str:
    return str(obj["metadata"]["uid"])


def rv_of(obj: dict[str, Any]) -> str:
    return str(obj["metadata"]["resourceVersion"])


class Recorder:
    """A subscriber that keeps every event and lets a test await a condition on them."""

    def __init__(self) -> None:
        self.events: list[Event] = []
        self._changed = asyncio.Event()

    def __call__(self, kind: str, obj: dict[str, Any], old: dict[str, Any] | None) -> None:
        self.events.append((kind, obj, old))
        self._changed.set()

    def seen(self, name: str | None = None) -> list[tuple[str, str]]:
        return [(k, name_of(o)) for k, o, _ in self.events if name in (None, name_of(o))]

    async def until(self, condition: Callable[[], bool], seconds: float = 15) -> None:
        async with asyncio.timeout(seconds):
            while not condition():
                self._changed.clear()
                await self._changed.wait()


@pytest.fixture
async def factory(kube_restricted: Cluster) -> AsyncIterator[InformerFactory]:
    informers = InformerFactory(kube_restricted, watch_timeout=60)
    yield informers
    await informers.stop_all()


async def synced(*informers: Informer) -> None:
    async with asyncio.timeout(15):
        for informer in informers:
            await informer.has_synced.wait()


async def test_the_first_list_fills_the_cache(
    kube_restricted: Cluster, kube_namespace: str, factory: InformerFactory
) -> None:
    for name in ("a", "b", "c"):
        await kube_restricted.create(configmap(name, kube_namespace, app="web"))
    await kube_restricted.create(configmap("other", kube_namespace, app="db"))
    informer = factory.informer("v1", "ConfigMap", kube_namespace, "app=web")
    recorder = Recorder()
    informer.on_event(recorder)
    await factory.start_all()
    await synced(informer)

    assert sorted(name_of(o) for o in informer.items()) == ["a", "b", "c"]
    cached = informer.get(kube_namespace, "a")
    assert cached is not None
    assert cached["kind"] == "ConfigMap"
    assert cached["data"] == {"v": "1"}
    assert informer.get(kube_namespace, "other") is None
    assert informer.resource_version
    await recorder.until(lambda: len(recorder.events) == 3)
    assert sorted(recorder.seen()) == [("ADDED", "a"), ("ADDED", "b"), ("ADDED", "c")]
    assert all(old is None for _, _, old in recorder.events)


async def test_changes_reach_every_subscriber_in_order_with_the_old_state(
    kube_restricted: Cluster, kube_namespace: str, factory: InformerFactory
) -> None:
    informer = factory.informer("v1", "ConfigMap", kube_namespace)
    plain, awaited = Recorder(), Recorder()

    async def async_subscriber(kind: str, obj: dict[str, Any], old: dict[str, Any] | None) -> None:
        await asyncio.sleep(0)  # a real suspension: the informer must await it, in order
        awaited(kind, obj, old)

    informer.on_event(plain)
    informer.on_event(async_subscriber)
    await factory.start_all()
    await synced(informer)

    created = await kube_restricted.create(configmap("web", kube_namespace))
    patched = await kube_restricted.patch(
        "v1", "ConfigMap", "web", {"data": {"v": "2"}}, namespace=kube_namespace
    )
    await kube_restricted.delete("v1", "ConfigMap", "web", kube_namespace)

    expected = [("ADDED", "web"), ("MODIFIED", "web"), ("DELETED", "web")]
    for recorder in (plain, awaited):
        await recorder.until(lambda r=recorder: len(r.seen("web")) >= 3)
        assert recorder.seen("web") == expected
        (_, added, none), (_, new, old), (_, gone, _) = [
            e for e in recorder.events if name_of(e[1]) == "web"
        ]
        assert none is None
        assert rv_of(added) == rv_of(created)
        assert old is not None
        assert (old["data"], rv_of(old)) == ({"v": "1"}, rv_of(created))
        assert (new["data"], rv_of(new)) == ({"v": "2"}, rv_of(patched))
        assert uid_of(gone) == uid_of(created)
    assert informer.get(kube_namespace, "web") is None

    # A subscriber that comes late starts from the cached state.
    await kube_restricted.create(configmap("kept", kube_namespace))
    await plain.until(lambda: ("ADDED", "kept") in plain.seen())
    late = Recorder()
    informer.on_event(late)
    await late.until(lambda: ("ADDED", "kept") in late.seen())
    assert ("ADDED", "web") not in late.seen()


def widget_crd(group: str) -> dict[str, Any]:
    return {
        "apiVersion": CRD_API,
        "kind": "CustomResourceDefinition",
        "metadata": {"name": f"widgets.{group}"},
        "spec": {
            "group": group,
            "scope": "Namespaced",
            "names": {"plural": "widgets", "singular": "widget", "kind": "Widget"},
            "versions": [
                {
                    "name": "v1",
                    "served": True,
                    "storage": True,
                    "schema": {
                        "openAPIV3Schema": {
                            "type": "object",
                            "x-kubernetes-preserve-unknown-fields": True,
                        }
                    },
                }
            ],
        },
    }


def established(crd: dict[str, Any] | None) -> bool:
    conditions = ((crd or {}).get("status") or {}).get("conditions") or []
    return any(c["type"] == "Established" and c["status"] == "True" for c in conditions)


async def until_crd(
    cluster: Cluster, name: str, done: Callable[[dict[str, Any] | None], bool]
) -> None:
    """Watch one CRD until ``done(crd or None when deleted)``."""
    selector = f"metadata.name={name}"
    async with asyncio.timeout(30):
        while True:
            items, version = await cluster.list_objects(
                CRD_API, "CustomResourceDefinition", field_selector=selector
            )
            if done(items[0] if items else None):
                return
            async for event in cluster.watch(
                CRD_API,
                "CustomResourceDefinition",
                resource_version=version,
                field_selector=selector,
                timeout_seconds=10,
            ):
                if event.type != "BOOKMARK" and done(
                    None if event.type == "DELETED" else event.object
                ):
                    return


@pytest.fixture
async def widgets(kube_admin: Cluster) -> AsyncIterator[str]:
    """A fresh Widget kind; yields its apiVersion."""
    group = f"w{secrets.token_hex(4)}.clew.dev"
    crd = widget_crd(group)
    await kube_admin.create(crd)
    await until_crd(kube_admin, crd["metadata"]["name"], established)
    yield f"{group}/v1"
    with contextlib.suppress(NotFound):
        await kube_admin.delete(CRD_API, "CustomResourceDefinition", crd["metadata"]["name"])


def widget(api_version: str, name: str, namespace: str) -> dict[str, Any]:
    return {
        "apiVersion": api_version,
        "kind": "Widget",
        "metadata": {"name": name, "namespace": namespace},
        "size": 1,
    }


async def test_a_real_410_relists_and_reports_what_changed_meanwhile(
    kube_admin: Cluster, kube_namespace: str, widgets: str
) -> None:
    errors: list[ClusterError] = []
    informer = Informer(kube_admin, widgets, "Widget", kube_namespace, on_error=errors.append)
    recorder = Recorder()
    informer.on_event(recorder)
    first = {n: await kube_admin.create(widget(widgets, n, kube_namespace)) for n in "abc"}
    runner = asyncio.create_task(informer.run())
    await synced(informer)
    await recorder.until(lambda: len(recorder.events) == 3)
    await informer.stop()
    assert runner.done()
    assert runner.exception() is None
    assert (informer.lists, informer.watches) == (1, 1)
    stale = informer.resource_version
    recorder.events.clear()

    # While nobody watches: the kind is deleted with all its objects and created again.
    crd_name = f"widgets.{widgets.partition('/')[0]}"
    crd = await kube_admin.get(CRD_API, "CustomResourceDefinition", crd_name)
    await kube_admin.delete(CRD_API, "CustomResourceDefinition", crd_name)
    await until_crd(kube_admin, crd_name, lambda found: found is None)
    await kube_admin.create(widget_crd(widgets.partition("/")[0]))
    await until_crd(kube_admin, crd_name, established)
    reborn = await kube_admin.create(widget(widgets, "b", kube_namespace))
    added = await kube_admin.create(widget(widgets, "d", kube_namespace))
    recreated = await kube_admin.get(CRD_API, "CustomResourceDefinition", crd_name)
    assert uid_of(recreated) != uid_of(crd)

    runner = asyncio.create_task(informer.run())  # resumes from the stale version: 410
    await recorder.until(lambda: len(recorder.events) == 5)
    await informer.stop()
    assert runner.exception() is None

    assert any(isinstance(e, Gone) for e in errors), errors
    assert informer.lists == 2  # the re-list after the 410
    assert informer.resource_version != stale
    assert sorted(recorder.seen()) == [
        ("ADDED", "b"),
        ("ADDED", "d"),
        ("DELETED", "a"),
        ("DELETED", "b"),
        ("DELETED", "c"),
    ]
    by_event = {(k, name_of(o)): o for k, o, _ in recorder.events}
    assert uid_of(by_event[("DELETED", "b")]) == uid_of(first["b"])  # the old b went ...
    assert uid_of(by_event[("ADDED", "b")]) == uid_of(reborn)  # ... a new one came
    assert recorder.seen().index(("DELETED", "b")) < recorder.seen().index(("ADDED", "b"))
    assert uid_of(by_event[("ADDED", "d")]) == uid_of(added)
    assert sorted(name_of(o) for o in informer.items()) == ["b", "d"]
    cached_b = informer.get(kube_namespace, "b")
    assert cached_b is not None
    assert uid_of(cached_b) == uid_of(reborn)


class Partition:
    """A TCP forwarder to the API server that can be cut and restored on the same port: a real
    network partition for one client, whose kubeconfig points here."""

    def __init__(self, target: str) -> None:
        host, _, port = target.removeprefix("https://").rstrip("/").partition(":")
        self.host, self.port = host, int(port)
        self.listen_port = 0
        self.server: asyncio.Server | None = None
        self.writers: list[asyncio.StreamWriter] = []
        self.handlers: set[asyncio.Task[Any]] = set()

    async def start(self) -> int:
        self.server = await asyncio.start_server(self._handle, "127.0.0.1", self.listen_port)
        self.listen_port = int(self.server.sockets[0].getsockname()[1])
        return self.listen_port

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
            self.server = None
        for writer in self.writers:
            writer.transport.abort()
        self.writers.clear()
        if self.handlers:
            await asyncio.wait(set(self.handlers))


async def _pipe(source: asyncio.StreamReader, sink: asyncio.StreamWriter) -> None:
    with contextlib.suppress(OSError):
        while data := await source.read(65536):
            sink.write(data)
            await sink.drain()
    sink.transport.abort()


def kubeconfig_to(original: Path, port: int, out: Path) -> Path:
    config = yaml.safe_load(original.read_text())
    for cluster in config["clusters"]:
        cluster["cluster"]["server"] = f"https://127.0.0.1:{port}"
    out.write_text(yaml.safe_dump(config))
    out.chmod(0o600)
    return out


async def test_a_broken_watch_resumes_without_relisting_and_misses_nothing(
    kube_cluster: KubeCluster, kube_restricted: Cluster, kube_namespace: str, tmp_path: Path
) -> None:
    partition = Partition(kube_restricted.server)
    port = await partition.start()
    config = kubeconfig_to(kube_cluster.restricted_kubeconfig, port, tmp_path / "via.kubeconfig")
    broken = asyncio.get_running_loop().create_future()

    def on_error(error: ClusterError) -> None:
        if isinstance(error, ConnectionFailed) and not broken.done():
            broken.set_result(error)

    try:
        async with Cluster.from_kubeconfig(config) as via:
            informer = Informer(
                via, "v1", "ConfigMap", kube_namespace, max_backoff=0.5, on_error=on_error
            )
            recorder = Recorder()
            informer.on_event(recorder)
            await kube_restricted.create(configmap("before", kube_namespace))
            runner = asyncio.create_task(informer.run())
            await synced(informer)
            await recorder.until(lambda: ("ADDED", "before") in recorder.seen())
            await kube_restricted.create(configmap("gone", kube_namespace))
            await kube_restricted.delete("v1", "ConfigMap", "gone", kube_namespace)
            await recorder.until(lambda: ("DELETED", "gone") in recorder.seen())

            await partition.cut()
            async with asyncio.timeout(10):
                await broken
            await kube_restricted.create(configmap("during", kube_namespace))
            await kube_restricted.delete("v1", "ConfigMap", "before", kube_namespace)
            await partition.start()  # the same port again

            await recorder.until(lambda: ("DELETED", "before") in recorder.seen())
            assert ("ADDED", "during") in recorder.seen()
            # Resumed after the last event seen, so nothing seen before the cut comes again.
            assert recorder.seen("gone") == [("ADDED", "gone"), ("DELETED", "gone")]
            assert recorder.seen("before") == [("ADDED", "before"), ("DELETED", "before")]
            assert informer.lists == 1  # resumed from its resourceVersion, no re-list
            assert informer.watches >= 2
            await informer.stop()
            assert runner.exception() is None
    finally:
        await partition.cut()


async def test_an_unreachable_server_is_retried_with_capped_backoff(tmp_path: Path) -> None:
    with socket.socket() as probe:  # a port nobody listens on
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    config = {
        "apiVersion": "v1",
        "kind": "Config",
        "clusters": [{"name": "void", "cluster": {"server": f"https://127.0.0.1:{port}"}}],
        "users": [{"name": "nobody", "user": {"token": "none"}}],
        "contexts": [{"name": "void", "context": {"cluster": "void", "user": "nobody"}}],
        "current-context": "void",
    }
    path = tmp_path / "void.kubeconfig"
    path.write_text(yaml.safe_dump(config))
    loop = asyncio.get_running_loop()
    failed_at: list[float] = []
    enough = loop.create_future()

    def on_error(error: ClusterError) -> None:
        assert isinstance(error, ConnectionFailed)
        failed_at.append(loop.time())
        if len(failed_at) == 6 and not enough.done():
            enough.set_result(None)

    async with Cluster.from_kubeconfig(path) as void:
        informer = Informer(
            void, "v1", "ConfigMap", "default", min_backoff=0.05, max_backoff=0.2, on_error=on_error
        )
        runner = asyncio.create_task(informer.run())
        async with asyncio.timeout(20):
            await enough
        await informer.stop()
    assert runner.exception() is None
    assert not informer.has_synced.is_set()
    assert isinstance(informer.last_error, ConnectionFailed)
    gaps = [b - a for a, b in itertools.pairwise(failed_at)]
    for gap, backoff in zip(gaps, [0.05, 0.1, 0.2, 0.2, 0.2], strict=True):
        assert gap >= backoff * 0.9, gaps  # doubling from 0.05 s, capped at 0.2 s
    assert max(gaps) < 2.0, gaps  # capped, with room for a slow machine


async def test_two_requests_for_one_key_share_one_informer_and_one_watch(
    kube_restricted: Cluster, kube_namespace: str, factory: InformerFactory
) -> None:
    first = factory.informer("v1", "ConfigMap", kube_namespace)
    again = factory.informer("v1", "ConfigMap", kube_namespace, label_selector="")
    other = factory.informer("v1", "ConfigMap", kube_namespace, label_selector="app=web")
    assert first is again
    assert other is not first
    assert len(factory.informers) == 2
    one, two = Recorder(), Recorder()
    first.on_event(one)
    again.on_event(two)
    await factory.start_all()
    await synced(first, other)

    await kube_restricted.create(configmap("shared", kube_namespace))
    for recorder in (one, two):
        await recorder.until(lambda r=recorder: ("ADDED", "shared") in r.seen())
    assert (first.lists, first.watches) == (1, 1)
    assert sum(i.watches for i in factory.informers.values()) == 2  # one per key


async def test_stop_leaves_no_task_behind(
    kube_restricted: Cluster, kube_namespace: str, factory: InformerFactory
) -> None:
    before = asyncio.all_tasks()
    stuck = asyncio.Event()

    async def slow(kind: str, obj: dict[str, Any], old: dict[str, Any] | None) -> None:
        if name_of(obj) == "x":
            stuck.set()
            await asyncio.get_running_loop().create_future()  # a handler still busy at stop

    configmaps = factory.informer("v1", "ConfigMap", kube_namespace)
    configmaps.on_event(slow)
    factory.informer("v1", "Secret", kube_namespace).on_event(Recorder())
    await factory.start_all()
    async with asyncio.timeout(15):
        await factory.wait_for_sync()
    await kube_restricted.create(configmap("x", kube_namespace))
    async with asyncio.timeout(15):
        await stuck.wait()
    assert asyncio.all_tasks() - before  # informers, watches and subscribers are running

    await factory.stop_all()
    assert asyncio.all_tasks() == before
    assert not any(i.running for i in factory.informers.values())

    # Started again, they resume where they stopped.
    await factory.start_all()
    assert configmaps.get(kube_namespace, "x") is not None
    await factory.stop_all()
    assert asyncio.all_tasks() == before
