"""The UI server's parts against the real API server, without a browser: the shared hub lists
Applications, then follows additions, changes and deletions from its one watch and tells every
subscriber; TokenReview names a ServiceAccount token's user and refuses a made-up one; and
SubjectAccessReview answers per namespace, and a token stops signing anyone in once its
ServiceAccount is deleted (no cache beyond the configured seconds)."""

from __future__ import annotations

import asyncio

import pytest

from clew.cluster import Cluster
from clew.controller.spec import API_VERSION, KIND
from clew.ui.access import Access
from clew.ui.hub import AppHub, Change, running

from .test_operator import application
from .test_ui_browser import account_token, grant_operator

pytestmark = pytest.mark.integration


async def next_change(queue: asyncio.Queue[Change], key: tuple[str, str]) -> Change:
    async def read() -> Change:
        while True:
            change = await queue.get()
            if change.key == key:
                return change

    return await asyncio.wait_for(read(), 20)


async def test_hub_follows_applications(
    crd: None, kube_admin: Cluster, kube_namespace: str
) -> None:
    ns = kube_namespace
    await kube_admin.create(application("before", ns, "https://git.invalid/x.git", suspend=True))
    hub = AppHub(kube_admin)
    queue = hub.subscribe()
    async with running(hub):
        await asyncio.wait_for(hub.synced.wait(), 20)
        assert (ns, "before") in hub.apps
        assert (await queue.get()).type == "RESYNC"

        await kube_admin.create(application("after", ns, "https://git.invalid/x.git", suspend=True))
        assert (await next_change(queue, (ns, "after"))).type == "ADDED"
        await kube_admin.patch(
            API_VERSION, KIND, "after", {"spec": {"suspend": False}}, namespace=ns
        )
        assert (await next_change(queue, (ns, "after"))).type == "MODIFIED"
        assert hub.apps[(ns, "after")]["spec"]["suspend"] is False
        await kube_admin.delete(API_VERSION, KIND, "after", ns)
        assert (await next_change(queue, (ns, "after"))).type == "DELETED"
        assert (ns, "after") not in hub.apps
    hub.unsubscribe(queue)
    assert hub.subscribers == 0
    assert (kube_admin.calls["list"], kube_admin.calls["watch"]) >= (1, 1)


async def test_token_and_access_reviews(
    crd: None, kube_admin: Cluster, kube_namespace: str
) -> None:
    ns = kube_namespace
    await grant_operator(kube_admin, ns, "alice")
    token = await account_token(kube_admin, ns, "alice")
    access = Access(kube_admin, ttl=0, denied_ttl=0)

    user = await access.user(token)
    assert user is not None
    assert user.name == f"system:serviceaccount:{ns}:alice"
    assert f"system:serviceaccounts:{ns}" in user.groups
    assert await access.user(token[:-8] + "AAAAAAAA") is None
    assert await access.user("not-a-token") is None

    group = "clew.dev"
    assert await access.allowed(user, "list", "applications", group=group, namespace=ns)
    assert await access.allowed(user, "patch", "applications", group=group, namespace=ns, name="x")
    assert not await access.allowed(user, "list", "applications", group=group)  # cluster-wide
    assert not await access.allowed(user, "list", "applications", group=group, namespace="default")

    # The API server checks a bound token's ServiceAccount through its own informer, so the
    # refusal comes within moments, not at once: ask until it comes, with a deadline.
    await kube_admin.delete("v1", "ServiceAccount", "alice", ns)
    loop = asyncio.get_running_loop()
    deadline = loop.time() + 15
    while await access.user(token) is not None:
        assert loop.time() < deadline, "the token still signs in 15 s after its account went"
        await asyncio.sleep(0.2)
