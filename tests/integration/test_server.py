"""The controller's HTTP server, run for real (uvicorn on a free loopback port) and spoken to over
HTTP: signed GitHub, GitLab and generic pushes reach ``on_push`` as the right PushEvent and answer
202 with the trigger count; replays, unsigned, malformed, oversized and unknown requests are refused
with their status and trigger nothing; disabled receivers do not exist; the probes follow
``ready()``; and ``/metrics``, on its own server and never on the webhook port, exposes every clew
family, with the webhook counters moved."""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import http.client
import json
import socket
import time
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from typing import Any

import pytest
from prometheus_client.parser import text_string_to_metric_families

from clew.controller.runtime.server import RunningServer, create_metrics_app, serve
from clew.controller.triggers.receivers import ReceiverSecrets, create_app
from clew.controller.triggers.webhooks import Provider, PushEvent, RefKind
from clew.model import Action
from clew.report import METRIC_NAMES, Metrics

pytestmark = pytest.mark.integration

GITHUB_SECRET = "gh-secret"
GITLAB_TOKEN = "gl-token"
GENERIC_SECRET = "generic-secret"
SHA = "9c1b7d5e3f2a4b6c8d0e1f2a3b4c5d6e7f8a9b0c"
TRACEPARENT = "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01"
MAX_BODY = 4096


@dataclass
class Recorder:
    """``on_push``: records every event, answers ``count``, or raises while ``failing``."""

    count: int = 2
    failing: bool = False
    events: list[PushEvent] = field(default_factory=list)

    async def __call__(self, event: PushEvent) -> int:
        if self.failing:
            raise RuntimeError("queue closed")
        self.events.append(event)
        return self.count


@dataclass
class Harness:
    server: RunningServer
    recorder: Recorder
    metrics: Metrics
    readiness: list[bool]
    metrics_server: RunningServer

    async def call(
        self,
        method: str,
        path: str,
        body: bytes | None = None,
        headers: dict[str, str] | None = None,
    ) -> tuple[int, dict[str, str], bytes]:
        port = self.metrics_server.port if path == "/metrics" else self.server.port
        return await asyncio.to_thread(http_call, port, method, path, body, headers)


def http_call(
    port: int,
    method: str,
    path: str,
    body: bytes | None = None,
    headers: dict[str, str] | None = None,
    *,
    chunked: bool = False,
) -> tuple[int, dict[str, str], bytes]:
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
    try:
        if chunked:
            conn.request(
                method, path, body=iter([body or b""]), headers=headers or {}, encode_chunked=True
            )
        else:
            conn.request(method, path, body=body, headers=headers or {})
        response = conn.getresponse()
        data = response.read()
        return response.status, {k.lower(): v for k, v in response.getheaders()}, data
    finally:
        conn.close()


@pytest.fixture
async def harness() -> AsyncIterator[Harness]:
    recorder = Recorder()
    metrics = Metrics()
    readiness = [False]
    app = create_app(
        secrets=ReceiverSecrets(github=GITHUB_SECRET, gitlab=GITLAB_TOKEN, generic=GENERIC_SECRET),
        on_push=recorder,
        ready=lambda: readiness[0],
        metrics=metrics,
        max_body=MAX_BODY,
    )
    async with (
        await serve(app, "127.0.0.1", 0) as server,
        await serve(create_metrics_app(metrics), "127.0.0.1", 0) as metrics_server,
    ):
        yield Harness(server, recorder, metrics, readiness, metrics_server)


def sign(secret: str, message: bytes) -> str:
    return "sha256=" + hmac.new(secret.encode(), message, hashlib.sha256).hexdigest()


def github_request(
    payload: dict[str, Any] | bytes, *, event: str = "push", delivery: str = "gh-1"
) -> tuple[bytes, dict[str, str]]:
    body = payload if isinstance(payload, bytes) else json.dumps(payload).encode()
    return body, {
        "Content-Type": "application/json",
        "X-GitHub-Event": event,
        "X-GitHub-Delivery": delivery,
        "X-Hub-Signature-256": sign(GITHUB_SECRET, body),
        "traceparent": TRACEPARENT,
    }


def github_push(ref: str = "refs/heads/main", after: str = SHA) -> dict[str, Any]:
    return {
        "ref": ref,
        "after": after,
        "repository": {
            "clone_url": "https://github.com/Org/Shop.git",
            "ssh_url": "git@github.com:Org/Shop.git",
            "html_url": "https://github.com/Org/Shop",
            "pushed_at": time.time(),
        },
        "pusher": {"name": "ada"},
    }


def webhook_counts(text: str) -> dict[tuple[str, str], float]:
    counts: dict[tuple[str, str], float] = {}
    for family in text_string_to_metric_families(text):
        for sample in family.samples:
            if sample.name == "clew_webhook_requests_total":
                counts[sample.labels["provider"], sample.labels["outcome"]] = sample.value
    return counts


async def test_github_push_triggers_and_replay_is_refused(harness: Harness) -> None:
    body, headers = github_request(github_push())
    status, _, data = await harness.call("POST", "/hooks/github", body, headers)
    assert (status, json.loads(data)) == (202, {"triggered": 2})
    [event] = harness.recorder.events
    assert event == PushEvent(
        provider=Provider.GITHUB,
        repo_urls=("github.com/Org/Shop",),
        ref="main",
        revision=SHA,
        delivery="gh-1",
        traceparent=TRACEPARENT,
        ref_kind=RefKind.BRANCH,
        pusher="ada",
    )

    status, _, data = await harness.call("POST", "/hooks/github", body, headers)
    assert status == 409
    assert "already received" in json.loads(data)["error"]
    assert len(harness.recorder.events) == 1


async def test_github_refusals_trigger_nothing(harness: Harness) -> None:
    body, headers = github_request(github_push())
    unsigned = {k: v for k, v in headers.items() if k != "X-Hub-Signature-256"}
    status, _, data = await harness.call("POST", "/hooks/github", body, unsigned)
    assert status == 401
    assert GITHUB_SECRET not in data.decode()

    wrong = headers | {"X-Hub-Signature-256": sign("guess", body)}
    assert (await harness.call("POST", "/hooks/github", body, wrong))[0] == 401

    malformed, malformed_headers = github_request(b"{not json", delivery="gh-2")
    assert (await harness.call("POST", "/hooks/github", malformed, malformed_headers))[0] == 400

    ping, ping_headers = github_request({"zen": "Design for failure."}, event="ping")
    status, _, data = await harness.call("POST", "/hooks/github", ping, ping_headers)
    assert (status, json.loads(data)) == (200, {"ignored": "ping"})

    issue, issue_headers = github_request({"action": "opened"}, event="issues")
    assert (await harness.call("POST", "/hooks/github", issue, issue_headers))[0] == 202

    assert harness.recorder.events == []
    # the refused signed request did not use up its delivery id
    status, _, _ = await harness.call("POST", "/hooks/github", body, headers)
    assert status == 202


async def test_gitlab_push(harness: Harness) -> None:
    payload = {
        "object_kind": "tag_push",
        "ref": "refs/tags/v1.4.0",
        "after": SHA,
        "checkout_sha": SHA,
        "user_username": "jsmith",
        "project": {
            "git_http_url": "https://gitlab.example.com/group/shop.git",
            "git_ssh_url": "git@gitlab.example.com:group/shop.git",
            "web_url": "https://gitlab.example.com/group/shop",
        },
    }
    headers = {
        "Content-Type": "application/json",
        "X-Gitlab-Event": "Tag Push Hook",
        "X-Gitlab-Token": GITLAB_TOKEN,
        "X-Gitlab-Event-UUID": "gl-1",
    }
    body = json.dumps(payload).encode()
    status, _, data = await harness.call("POST", "/hooks/gitlab", body, headers)
    assert (status, json.loads(data)) == (202, {"triggered": 2})
    [event] = harness.recorder.events
    assert event.repo_urls == ("gitlab.example.com/group/shop",)
    assert (event.ref, event.ref_kind, event.revision) == ("v1.4.0", RefKind.TAG, SHA)
    assert event.matches("ssh://git@gitlab.example.com/group/shop.git")
    assert event.traceparent is None

    assert (await harness.call("POST", "/hooks/gitlab", body, headers))[0] == 409
    bad = headers | {"X-Gitlab-Token": "nope", "X-Gitlab-Event-UUID": "gl-2"}
    assert (await harness.call("POST", "/hooks/gitlab", body, bad))[0] == 401
    assert len(harness.recorder.events) == 1


async def test_generic_push_and_stale_timestamp(harness: Harness) -> None:
    harness.recorder.count = 0  # no Application follows this repository

    def request(stamp: int, delivery: str) -> tuple[bytes, dict[str, str]]:
        body = json.dumps(
            {"repository": "ssh://git@git.example.com/org/shop.git", "ref": "refs/heads/release"}
        ).encode()
        return body, {
            "X-Clew-Timestamp": str(stamp),
            "X-Clew-Signature": sign(GENERIC_SECRET, f"{stamp}.".encode() + body),
            "X-Clew-Delivery": delivery,
            "traceparent": TRACEPARENT,
        }

    status, _, data = await harness.call(
        "POST", "/hooks/generic", *request(int(time.time()), "g-1")
    )
    assert (status, json.loads(data)) == (202, {"triggered": 0})
    [event] = harness.recorder.events
    assert event.repo_urls == ("git.example.com/org/shop",)
    assert (event.ref, event.ref_kind, event.revision) == ("release", RefKind.BRANCH, None)
    assert event.traceparent == TRACEPARENT

    stale = request(int(time.time()) - 600, "g-2")
    status, _, data = await harness.call("POST", "/hooks/generic", *stale)
    assert status == 401
    assert "old" in json.loads(data)["error"]
    assert len(harness.recorder.events) == 1


async def test_oversized_bodies_are_refused(harness: Harness) -> None:
    body, headers = github_request(b"x" * (MAX_BODY + 1))
    assert (await harness.call("POST", "/hooks/github", body, headers))[0] == 413
    # without a Content-Length the cap applies while streaming
    status, _, _ = await asyncio.to_thread(
        http_call, harness.server.port, "POST", "/hooks/github", body, headers, chunked=True
    )
    assert status == 413
    assert harness.recorder.events == []


async def test_failed_trigger_answers_500_and_can_be_redelivered(harness: Harness) -> None:
    body, headers = github_request(github_push())
    harness.recorder.failing = True
    status, _, data = await harness.call("POST", "/hooks/github", body, headers)
    assert status == 500
    assert "queue closed" not in data.decode()
    harness.recorder.failing = False
    assert (await harness.call("POST", "/hooks/github", body, headers))[0] == 202


async def test_probes_follow_ready(harness: Harness) -> None:
    assert (await harness.call("GET", "/healthz"))[0] == 200
    assert (await harness.call("GET", "/readyz"))[0] == 503
    harness.readiness[0] = True
    assert (await harness.call("GET", "/readyz"))[0] == 200
    harness.readiness[0] = False
    assert (await harness.call("GET", "/readyz"))[0] == 503


async def test_metrics_expose_every_family_and_count_webhooks(harness: Harness) -> None:
    body, headers = github_request(github_push())
    await harness.call("POST", "/hooks/github", body, headers)
    await harness.call("POST", "/hooks/github", body, headers)  # replayed
    await harness.call("POST", "/hooks/github", body, {})  # unauthorized
    harness.metrics.observe_reconcile("Succeeded", 1.5)
    harness.metrics.record_changes({Action.CREATED: 2, Action.UNCHANGED: 5, Action.DELETED: 1})
    harness.metrics.set_application_ready("team-a", "shop", True)
    harness.metrics.set_application_ready("team-a", "gone", False)
    harness.metrics.set_application_objects("team-a", "shop", {"Current": 3, "Failed": 1}, 2)
    harness.metrics.set_last_sync("team-a", "shop", 1_800_000_000.0)
    harness.metrics.set_application_objects("team-a", "gone", {"Current": 1}, 0)
    harness.metrics.set_last_sync("team-a", "gone", 1_700_000_000.0)
    harness.metrics.forget_application("team-a", "gone")
    harness.metrics.forget_application("team-a", "never-existed")
    harness.metrics.set_leader(True)

    public = await asyncio.to_thread(http_call, harness.server.port, "GET", "/metrics")
    assert public[0] == 404  # the webhook port is public: no metrics there
    status, response_headers, data = await harness.call("GET", "/metrics")
    assert status == 200
    assert response_headers["content-type"].startswith("text/plain")
    text = data.decode()
    exported = {line.split()[2] for line in text.splitlines() if line.startswith("# TYPE ")}
    assert set(METRIC_NAMES) <= exported
    clew = {name for name in exported if name.startswith("clew_")}
    assert clew - set(METRIC_NAMES) <= {f"{n.removesuffix('_total')}_created" for n in METRIC_NAMES}
    assert "process_cpu_seconds_total" in exported

    assert webhook_counts(text) == {
        ("github", "triggered"): 1,
        ("github", "replayed"): 1,
        ("github", "unauthorized"): 1,
    }
    assert 'clew_objects_applied_total{action="created"} 2.0' in text
    assert 'clew_objects_applied_total{action="configured"} 0.0' in text
    assert "clew_objects_pruned_total 1.0" in text
    assert 'clew_reconcile_total{result="Succeeded"} 1.0' in text
    assert 'clew_application_ready{name="shop",namespace="team-a"} 1.0' in text
    assert 'name="gone"' not in text
    shop = '{health="%s",name="shop",namespace="team-a"}'
    assert f"clew_application_objects{shop % 'Current'} 3.0" in text
    assert f"clew_application_objects{shop % 'Failed'} 1.0" in text
    assert f"clew_application_objects{shop % 'InProgress'} 0.0" in text  # every health, zeros too
    assert 'clew_application_objects_out_of_sync{name="shop",namespace="team-a"} 2.0' in text
    assert (
        'clew_application_last_sync_timestamp_seconds{name="shop",namespace="team-a"} 1.8e+09'
        in text
    )
    assert "clew_leader 1.0" in text

    status, response_headers, data = await harness.call(
        "GET", "/metrics", headers={"Accept": "application/openmetrics-text; version=1.0.0"}
    )
    assert status == 200
    assert response_headers["content-type"].startswith("application/openmetrics-text")
    assert data.rstrip().endswith(b"# EOF")


async def test_disabled_receivers_do_not_exist() -> None:
    app = create_app(
        secrets=ReceiverSecrets(github=GITHUB_SECRET),
        on_push=Recorder(),
        ready=lambda: True,
        metrics=Metrics(runtime=False),
    )
    async with await serve(app, "127.0.0.1", 0) as server:
        for provider in ("gitlab", "generic"):
            status, _, _ = await asyncio.to_thread(
                http_call, server.port, "POST", f"/hooks/{provider}", b"{}"
            )
            assert status == 404
        body, headers = github_request(github_push())
        status, _, _ = await asyncio.to_thread(
            http_call, server.port, "POST", "/hooks/github", body, headers
        )
        assert status == 202
        # no API docs on the controller's port
        assert (await asyncio.to_thread(http_call, server.port, "GET", "/docs"))[0] == 404


async def test_serve_binds_free_ports_and_stops() -> None:
    def app() -> Any:
        return create_app(
            secrets=ReceiverSecrets(),
            on_push=Recorder(),
            ready=lambda: True,
            metrics=Metrics(runtime=False),
        )

    first = await serve(app(), "127.0.0.1", 0)
    second = await serve(app(), "127.0.0.1", 0)
    try:
        assert first.port > 0
        assert second.port not in (0, first.port)
        assert first.url == f"http://127.0.0.1:{first.port}"
        with pytest.raises(OSError, match=r"."):
            await serve(app(), "127.0.0.1", first.port)
        assert (await asyncio.to_thread(http_call, second.port, "GET", "/healthz"))[0] == 200
    finally:
        await first.stop()
        await second.stop()
    with pytest.raises(ConnectionRefusedError):
        socket.create_connection(("127.0.0.1", first.port), timeout=2).close()


def test_secrets_from_env_and_repr() -> None:
    secrets = ReceiverSecrets.from_env(
        {
            "CLEW_WEBHOOK_GITHUB_SECRET": "s3cr3t\n",
            "CLEW_WEBHOOK_GITLAB_TOKEN": "  ",
        }
    )
    assert secrets == ReceiverSecrets(github="s3cr3t")
    assert repr(secrets) == "ReceiverSecrets(github=set, gitlab=disabled, generic=disabled)"
