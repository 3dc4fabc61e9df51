"""Notifications end to end: the real controller, Git server and control plane, and real HTTP
receivers on loopback that implement the documented request shapes and record what they get.

It proves that a sync reaches every target type with the right payload — the generic webhook
signed so that clew's own receiver accepts it, Slack's text and blocks, and GitHub and GitLab
commit statuses (auth header checked) for the synced commit — and that a repeat of the same
outcome is sent once; that a failed sync (invalid YAML) posts failure/failed statuses for the
broken commit; that drift corrected by self-heal is notified with the Application's revision;
that a receiver answering 500 twice gets the same delivery a third time; that a receiver failing
for good shows in the policy's status and in metrics, without any secret, while the Application
keeps syncing and a receiver that never answers delays nothing; that the sender never follows a
redirect (a token must not travel to another host) and reports a refused connection without the
URL; and that a full queue drops its oldest notice, counted, while notify() returns at once.
"""

from __future__ import annotations

import asyncio
import base64
import json
import re
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest
import yaml

from clew.cluster import Cluster
from clew.controller.api.spec import API_VERSION, KIND
from clew.controller.triggers.webhooks import Malformed, Provider, Receiver
from clew.notify import API_VERSION as POLICY_API_VERSION
from clew.notify import KIND as POLICY_KIND
from clew.notify import (
    Backoff,
    HttpRequest,
    Notifier,
    NotifierSettings,
    TransportError,
    UrllibSender,
)
from clew.notify.retry import send_with_retries
from clew.report.metrics import Metrics
from clew.report.notices import NoticeKind, SyncNotice
from clew.testing.git_fixtures import HTTP_USER
from clew.testing.gitserver import GitHttpServer, Repo
from clew.testing.operator import RunningController, ready_at
from clew.testing.processes import free_port
from clew.testing.waiting import condition, until

pytestmark = pytest.mark.integration

HMAC_KEY = "notify-hmac-key"
GITHUB_TOKEN = "ghp_integration0123456789"
GITLAB_TOKEN = "glpat-integration0123456789"
SLACK_PATH = "/services/T0001/B0002/abcdefghijklmnopqrstuvwx"


# -- loopback receivers -------------------------------------------------------------------------


@dataclass(frozen=True)
class Received:
    method: str
    path: str
    headers: dict[str, str]  # names lowercased
    body: bytes

    def json(self) -> Any:
        return json.loads(self.body)


Responder = Callable[[Received], tuple[int, bytes] | tuple[int, bytes, dict[str, str]]]


class LoopbackReceiver:
    """A real HTTP server on 127.0.0.1 that records every request, then answers as ``respond``
    says (a responder may block until ``release()``)."""

    def __init__(self, respond: Responder) -> None:
        self.respond = respond
        self.received: list[Received] = []
        self.released = threading.Event()
        self._changed = threading.Condition()
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
                headers = {k.lower(): v for k, v in self.headers.items()}
                request = Received("POST", self.path, headers, body)
                with receiver._changed:
                    receiver.received.append(request)
                    receiver._changed.notify_all()
                status, answer, *extra = receiver.respond(request)
                self.send_response(status)
                for name, value in (extra[0] if extra else {}).items():
                    self.send_header(name, value)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(answer)))
                self.end_headers()
                self.wfile.write(answer)

            def log_message(self, format: str, *args: Any) -> None:
                pass

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self._server.daemon_threads = True
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)
        self._thread.start()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self._server.server_address[1]}"

    def release(self) -> None:
        self.released.set()

    def close(self) -> None:
        self.release()
        self._server.shutdown()
        self._server.server_close()

    async def until(
        self, predicate: Callable[[list[Received]], bool], seconds: float = 30
    ) -> list[Received]:
        """The requests so far, once ``predicate`` holds for them (a condition wait, no polling)."""

        def wait() -> list[Received]:
            with self._changed:
                if not self._changed.wait_for(lambda: predicate(self.received), seconds):
                    raise TimeoutError(f"receiver got {len(self.received)} request(s): not enough")
                return list(self.received)

        return await asyncio.to_thread(wait)


def ok(_: Received) -> tuple[int, bytes]:
    return 200, b"ok"


def github_api(request: Received) -> tuple[int, bytes]:
    """POST /repos/{owner}/{repo}/statuses/{sha}, as GitHub documents it."""
    if request.headers.get("authorization") != f"Bearer {GITHUB_TOKEN}":
        return 401, b'{"message": "Bad credentials"}'
    if request.headers.get("accept") != "application/vnd.github+json":
        return 415, b'{"message": "Unsupported Media Type"}'
    if not re.fullmatch(r"/repos/[\w.-]+/[\w.-]+/statuses/[0-9a-f]{40}", request.path):
        return 404, b'{"message": "Not Found"}'
    body = request.json()
    if body.get("state") not in ("error", "failure", "pending", "success") or not body.get(
        "context"
    ):
        return 422, b'{"message": "Validation Failed"}'
    return 201, json.dumps({"id": 1, "state": body["state"], "context": body["context"]}).encode()


def gitlab_api(request: Received) -> tuple[int, bytes]:
    """POST /api/v4/projects/{url-encoded path}/statuses/{sha}, as GitLab documents it."""
    if request.headers.get("private-token") != GITLAB_TOKEN:
        return 401, b'{"message": "401 Unauthorized"}'
    if not re.fullmatch(r"/api/v4/projects/[\w.%-]+/statuses/[0-9a-f]{40}", request.path):
        return 404, b'{"message": "404 Project Not Found"}'
    body = request.json()
    states = ("pending", "running", "success", "failed", "canceled")
    if body.get("state") not in states or not body.get("name"):
        return 400, b'{"message": "state is invalid"}'
    return 201, json.dumps({"id": 1, "status": body["state"], "name": body["name"]}).encode()


def slack_api(request: Received) -> tuple[int, bytes]:
    """An incoming webhook: the URL is the credential; text (and blocks) in the body."""
    if request.path != SLACK_PATH:
        return 404, b"no_service"
    body = request.json()
    if not body.get("text") or not isinstance(body.get("blocks"), list):
        return 400, b"invalid_payload"
    return 200, b"ok"


def scripted(*statuses: int) -> Responder:
    """Answer with these statuses in turn, then 201 for ever."""
    queue = list(statuses)

    def respond(_: Received) -> tuple[int, bytes]:
        return (queue.pop(0) if queue else 201), b"{}"

    return respond


@pytest.fixture
def receivers() -> Iterator[Callable[[Responder], LoopbackReceiver]]:
    started: list[LoopbackReceiver] = []

    def start(respond: Responder) -> LoopbackReceiver:
        started.append(LoopbackReceiver(respond))
        return started[-1]

    yield start
    for receiver in started:
        receiver.close()


# -- cluster objects ----------------------------------------------------------------------------


def configmap(name: str, **data: str) -> str:
    return yaml.safe_dump(
        {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": name}, "data": data}
    )


async def secret(cluster: Cluster, namespace: str, name: str, **data: str) -> None:
    await cluster.apply(
        {
            "apiVersion": "v1",
            "kind": "Secret",
            "metadata": {"name": name, "namespace": namespace},
            "data": {k: base64.b64encode(v.encode()).decode() for k, v in data.items()},
        }
    )


def application(name: str, namespace: str, url: str, **spec: Any) -> dict[str, Any]:
    return {
        "apiVersion": API_VERSION,
        "kind": KIND,
        "metadata": {"name": name, "namespace": namespace},
        "spec": {
            "source": {"repoURL": url, "path": "deploy", "secretRef": {"name": "git"}},
            "destination": {"namespace": namespace},
            "interval": "10m",
            **spec,
        },
    }


async def start_app(
    cluster: Cluster, ns: str, git_http: GitHttpServer, repo: Repo, name: str = "shop", **spec: Any
) -> None:
    await secret(cluster, ns, "git", username=HTTP_USER, password=git_http.users[HTTP_USER])
    await cluster.create(application(name, ns, git_http.repo_url(repo.name), **spec))


async def create_policy(
    cluster: Cluster, ns: str, targets: list[dict[str, Any]], name: str = "team", **spec: Any
) -> dict[str, Any]:
    """Create a policy and wait until the controller has accepted it (so it sees the syncs)."""
    await cluster.create(
        {
            "apiVersion": POLICY_API_VERSION,
            "kind": POLICY_KIND,
            "metadata": {"name": name, "namespace": ns},
            "spec": {"targets": targets, **spec},
        }
    )
    accepted = await until(
        cluster,
        POLICY_API_VERSION,
        POLICY_KIND,
        name,
        ns,
        observed(lambda r: r["status"] == "True"),
    )
    assert accepted is not None
    return accepted


def observed(ready: Callable[[dict[str, Any]], bool]) -> Callable[[dict[str, Any] | None], bool]:
    def check(obj: dict[str, Any] | None) -> bool:
        status = (obj or {}).get("status") or {}
        found = condition(obj, "Ready")
        return bool(
            obj
            and found
            and status.get("observedGeneration") == obj["metadata"]["generation"]
            and ready(found)
        )

    return check


def succeeded(*targets: str) -> Callable[[dict[str, Any] | None], bool]:
    """The policy is Ready=True (Succeeded) and each of ``targets`` has delivered."""

    def check(policy: dict[str, Any] | None) -> bool:
        if not observed(lambda r: r["reason"] == "Succeeded")(policy):
            return False
        entries = ((policy or {}).get("status") or {}).get("targets") or []
        return {t["name"] for t in entries if t.get("lastSuccessTime")} >= set(targets)

    return check


def reason_is(reason: str) -> Callable[[dict[str, Any] | None], bool]:
    return lambda app: (condition(app, "Ready") or {}).get("reason") == reason


def count(metrics: Metrics, target_type: str, outcome: str) -> float:
    value = metrics.registry.get_sample_value(
        "clew_notifications_total", {"target_type": target_type, "outcome": outcome}
    )
    return value or 0.0


def of_kind(kind: str, revision: str = "") -> Callable[[list[Received]], bool]:
    def check(requests: list[Received]) -> bool:
        return any(
            r.json().get("kind") == kind and (not revision or r.json().get("revision") == revision)
            for r in requests
        )

    return check


# -- the tests ----------------------------------------------------------------------------------


async def test_sync_reaches_every_target_once(
    controller: RunningController,
    kube_admin: Cluster,
    kube_namespace: str,
    git_http: GitHttpServer,
    git_repo: Repo,
    receivers: Callable[[Responder], LoopbackReceiver],
) -> None:
    ns = kube_namespace
    hook, slack, github, gitlab = (
        receivers(ok),
        receivers(slack_api),
        receivers(github_api),
        receivers(gitlab_api),
    )
    await secret(kube_admin, ns, "hook", url=f"{hook.url}/clew", secret=HMAC_KEY)
    await secret(kube_admin, ns, "slack", url=f"{slack.url}{SLACK_PATH}\n")  # newline: stripped
    await secret(kube_admin, ns, "github", token=GITHUB_TOKEN)
    await secret(kube_admin, ns, "gitlab", token=GITLAB_TOKEN)
    await create_policy(
        kube_admin,
        ns,
        [
            {"name": "hook", "type": "webhook", "secretRef": {"name": "hook"}},
            {"name": "chat", "type": "slack", "secretRef": {"name": "slack"}},
            {
                "name": "gh",
                "type": "github",
                "secretRef": {"name": "github"},
                "apiURL": github.url,
                "repository": "org/shop",
                "targetURL": "https://dash.example.com/{namespace}/{name}",
            },
            {
                "name": "gl",
                "type": "gitlab",
                "secretRef": {"name": "gitlab"},
                "apiURL": f"{gitlab.url}/api/v4",
                "project": "group/sub/shop",
            },
        ],
    )
    sha = git_repo.commit({"deploy/cm.yaml": configmap("settings", color="blue")}, "Add settings")
    await start_app(kube_admin, ns, git_http, git_repo)
    await until(kube_admin, API_VERSION, KIND, "shop", ns, ready_at(sha), 60)

    [posted] = await hook.until(lambda r: len(r) >= 1)
    body = posted.json()
    assert posted.path == "/clew"
    assert {k: body[k] for k in ("application", "namespace", "kind", "revision", "reason")} == {
        "application": "shop",
        "namespace": ns,
        "kind": "synced",
        "revision": sha,
        "reason": "Succeeded",
    }
    assert body["commit"] == {
        "subject": "Add settings",
        "author": "Clew Test <clew-test@example.invalid>",
    }
    assert body["counts"]["created"] == 1
    assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ", body["time"])
    generic = Receiver(Provider.GENERIC, HMAC_KEY)
    with pytest.raises(Malformed):  # the signature holds; a notification is just not a push
        generic.receive(posted.headers, posted.body)

    [chat] = await slack.until(lambda r: len(r) >= 1)
    assert chat.path == SLACK_PATH
    assert f"{ns}/shop" in chat.json()["text"]

    [status] = await github.until(lambda r: len(r) >= 1)
    assert status.path == f"/repos/org/shop/statuses/{sha}"
    assert status.json() == {
        "state": "success",
        "context": f"clew/{ns}/shop",
        "description": "Synced: 1 created, 0 configured, 0 deleted",
        "target_url": f"https://dash.example.com/{ns}/shop",
    }

    [lab] = await gitlab.until(lambda r: len(r) >= 1)
    assert lab.path == f"/api/v4/projects/group%2Fsub%2Fshop/statuses/{sha}"
    assert (lab.json()["state"], lab.json()["name"]) == ("success", f"clew/{ns}/shop")

    await until(
        kube_admin,
        POLICY_API_VERSION,
        POLICY_KIND,
        "team",
        ns,
        succeeded("hook", "chat", "gh", "gl"),
        30,
    )
    metrics = controller.controller.metrics
    for target_type in ("webhook", "slack", "github", "gitlab"):
        assert count(metrics, target_type, "sent") == 1

    # The same outcome again (a reconcile asked for by hand): deduplicated for every target. The
    # next commit's notice comes after it on the same Application, so once that one is here the
    # repeat has certainly been handled.
    await kube_admin.patch(
        API_VERSION,
        KIND,
        "shop",
        {"metadata": {"annotations": {"clew.dev/reconcile-requested-at": "again"}}},
        namespace=ns,
    )
    await until(
        kube_admin,
        API_VERSION,
        KIND,
        "shop",
        ns,
        lambda app: (app or {}).get("status", {}).get("lastHandledReconcileAt") == "again",
        30,
    )
    second = git_repo.commit({"deploy/cm.yaml": configmap("settings", color="green")}, "Green")
    await controller.push_hook(git_http.repo_url(git_repo.name))
    requests = await hook.until(of_kind("synced", second))
    assert [r.json()["revision"] for r in requests] == [sha, second]
    await github.until(lambda r: len(r) >= 2)
    for target_type in ("webhook", "slack", "github", "gitlab"):
        assert count(metrics, target_type, "deduplicated") == 1


async def test_failed_sync_posts_failure_statuses(
    controller: RunningController,
    kube_admin: Cluster,
    kube_namespace: str,
    git_http: GitHttpServer,
    git_repo: Repo,
    receivers: Callable[[Responder], LoopbackReceiver],
) -> None:
    ns = kube_namespace
    github, gitlab, hook = receivers(github_api), receivers(gitlab_api), receivers(ok)
    await secret(kube_admin, ns, "github", token=GITHUB_TOKEN)
    await secret(kube_admin, ns, "gitlab", token=GITLAB_TOKEN)
    await create_policy(
        kube_admin,
        ns,
        [
            {
                "name": "gh",
                "type": "github",
                "secretRef": {"name": "github"},
                "apiURL": github.url,
                "repository": "org/shop",
            },
            {
                "name": "gl",
                "type": "gitlab",
                "secretRef": {"name": "gitlab"},
                "apiURL": f"{gitlab.url}/api/v4",
                "project": "group/shop",
            },
            {"name": "hook", "type": "webhook", "url": f"{hook.url}/x"},
        ],
        events=["failed"],
    )
    good = git_repo.commit({"deploy/a.yaml": configmap("a", k="1")}, "good")
    await start_app(kube_admin, ns, git_http, git_repo)
    await until(kube_admin, API_VERSION, KIND, "shop", ns, ready_at(good), 60)
    broken = git_repo.commit(
        {"deploy/a.yaml": "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: [a\n"}, "broken"
    )
    await controller.push_hook(git_http.repo_url(git_repo.name))
    await until(kube_admin, API_VERSION, KIND, "shop", ns, reason_is("RenderFailed"), 30)

    [status] = await github.until(lambda r: len(r) >= 1)  # nothing for the good sync
    assert status.path == f"/repos/org/shop/statuses/{broken}"
    assert status.json()["state"] == "failure"
    assert status.json()["description"].startswith("RenderFailed: deploy/a.yaml:")
    [lab] = await gitlab.until(lambda r: len(r) >= 1)
    assert lab.path == f"/api/v4/projects/group%2Fshop/statuses/{broken}"
    assert lab.json()["state"] == "failed"
    [posted] = await hook.until(lambda r: len(r) >= 1)
    assert (posted.json()["kind"], posted.json()["reason"]) == ("failed", "RenderFailed")
    assert "deploy/a.yaml" in posted.json()["message"]


async def test_drift_corrected_is_notified(
    controller: RunningController,
    kube_admin: Cluster,
    kube_namespace: str,
    git_http: GitHttpServer,
    git_repo: Repo,
    receivers: Callable[[Responder], LoopbackReceiver],
) -> None:
    ns = kube_namespace
    hook = receivers(ok)
    await create_policy(
        kube_admin,
        ns,
        [{"name": "hook", "type": "webhook", "url": f"{hook.url}/drift"}],
        events=["synced", "drift_corrected"],
        applications={"selector": {"matchLabels": {"team": "shop"}}},
    )
    sha = git_repo.commit({"deploy/cm.yaml": configmap("settings", color="blue")}, "blue")
    app = application("shop", ns, git_http.repo_url(git_repo.name))
    app["metadata"]["labels"] = {"team": "shop"}
    await secret(kube_admin, ns, "git", username=HTTP_USER, password=git_http.users[HTTP_USER])
    await kube_admin.create(app)
    await until(kube_admin, API_VERSION, KIND, "shop", ns, ready_at(sha), 60)
    # The synced notice is handed over just before the controller starts watching the objects
    # for drift: once it is here, an edit is seen.
    await hook.until(of_kind("synced"))

    live = await kube_admin.get("v1", "ConfigMap", "settings", ns)
    live["data"]["color"] = "hacked"
    await kube_admin.request("PUT", f"/api/v1/namespaces/{ns}/configmaps/settings", body=live)
    [_, posted] = await hook.until(lambda r: len(r) >= 2)
    body = posted.json()
    assert (body["kind"], body["reason"], body["revision"]) == (
        "drift_corrected",
        "DriftCorrected",
        sha,
    )
    assert body["objects"] == [f"ConfigMap/{ns}/settings"]
    assert body["repoURL"] == git_http.repo_url(git_repo.name)


async def test_receiver_recovering_from_500_gets_the_same_delivery(
    controller: RunningController,
    kube_admin: Cluster,
    kube_namespace: str,
    git_http: GitHttpServer,
    git_repo: Repo,
    receivers: Callable[[Responder], LoopbackReceiver],
) -> None:
    ns = kube_namespace
    flaky = receivers(scripted(500, 500))
    await secret(kube_admin, ns, "hook", url=f"{flaky.url}/flaky", secret=HMAC_KEY)
    await create_policy(
        kube_admin, ns, [{"name": "flaky", "type": "webhook", "secretRef": {"name": "hook"}}]
    )
    sha = git_repo.commit({"deploy/cm.yaml": configmap("settings", color="blue")}, "blue")
    await start_app(kube_admin, ns, git_http, git_repo)
    await until(kube_admin, API_VERSION, KIND, "shop", ns, ready_at(sha), 60)
    attempts = await flaky.until(lambda r: len(r) >= 3, 60)
    assert len({a.headers["x-clew-delivery"] for a in attempts}) == 1
    assert len({a.body for a in attempts}) == 1
    assert attempts[0].json()["revision"] == sha
    await until(kube_admin, POLICY_API_VERSION, POLICY_KIND, "team", ns, succeeded("flaky"), 30)
    metrics = controller.controller.metrics
    assert (count(metrics, "webhook", "sent"), count(metrics, "webhook", "failed")) == (1, 0)


async def test_failing_receiver_shows_in_status_and_metrics_while_syncs_go_on(
    controller: RunningController,
    kube_admin: Cluster,
    kube_namespace: str,
    git_http: GitHttpServer,
    git_repo: Repo,
    receivers: Callable[[Responder], LoopbackReceiver],
) -> None:
    ns = kube_namespace
    gone = receivers(lambda _: (404, b"no_service"))
    silent = receivers(lambda _: (200, b"ok") if silent.released.wait(60) else (500, b""))
    secret_path = "/services/T0001/B0002/the-secret-part-of-the-url"
    await secret(kube_admin, ns, "gone", url=f"{gone.url}{secret_path}")
    await create_policy(
        kube_admin,
        ns,
        [
            {"name": "gone", "type": "slack", "secretRef": {"name": "gone"}},
            {"name": "silent", "type": "webhook", "url": f"{silent.url}/hang"},
        ],
    )
    first = git_repo.commit({"deploy/cm.yaml": configmap("settings", color="blue")}, "blue")
    await start_app(kube_admin, ns, git_http, git_repo)
    await until(kube_admin, API_VERSION, KIND, "shop", ns, ready_at(first), 60)
    await silent.until(lambda r: len(r) >= 1)  # and it does not answer

    policy = await until(
        kube_admin,
        POLICY_API_VERSION,
        POLICY_KIND,
        "team",
        ns,
        observed(lambda r: r["status"] == "False"),
        30,
    )
    assert policy is not None
    ready = condition(policy, "Ready") or {}
    assert ready["reason"] == "DeliveryFailed"
    assert "target gone: HTTP 404: no_service" in ready["message"]
    [entry] = [t for t in policy["status"]["targets"] if t["name"] == "gone"]
    assert entry["lastError"] == "HTTP 404: no_service"
    assert "the-secret-part" not in json.dumps(policy)
    metrics = controller.controller.metrics
    assert count(metrics, "slack", "failed") == 1

    # The Application goes on syncing while one receiver fails and another hangs.
    second = git_repo.commit({"deploy/cm.yaml": configmap("settings", color="green")}, "green")
    pushed = time.monotonic()
    await controller.push_hook(git_http.repo_url(git_repo.name))
    await until(kube_admin, API_VERSION, KIND, "shop", ns, ready_at(second), 30)
    assert time.monotonic() - pushed < 10
    await gone.until(lambda r: len(r) >= 2)
    silent.release()


# -- the sender, on its own ------------------------------------------------------------------------


async def test_sender_never_follows_redirects_and_reports_no_answer_safely(
    receivers: Callable[[Responder], LoopbackReceiver],
) -> None:
    elsewhere = receivers(ok)
    moved = receivers(lambda _: (307, b"", {"Location": f"{elsewhere.url}/stolen"}))
    sender = UrllibSender(timeout=5)
    request = HttpRequest("POST", f"{moved.url}/hook?token=s3cr3t", {"X-Token": "s3cr3t"}, b"{}")
    delivery = await send_with_retries(sender, request, Backoff(attempts=3, initial=0.01))
    assert (delivery.ok, delivery.attempts, delivery.status) == (False, 1, 307)
    await moved.until(lambda r: len(r) == 1)
    assert elsewhere.received == []
    assert "s3cr3t" not in repr(request)

    closed = HttpRequest("POST", f"http://127.0.0.1:{free_port()}/s3cr3t-path", {}, b"{}")
    with pytest.raises(TransportError) as caught:
        await sender.send(closed)
    assert "s3cr3t" not in str(caught.value)
    assert "refused" in str(caught.value).lower()


# -- the queue, on its own ----------------------------------------------------------------------


@pytest.fixture
def policy_cluster(crd: None, kube_admin: Cluster) -> Cluster:
    return kube_admin


async def test_full_queue_drops_the_oldest_and_notify_never_waits(
    policy_cluster: Cluster,
    kube_namespace: str,
    receivers: Callable[[Responder], LoopbackReceiver],
) -> None:
    ns = kube_namespace
    hold = receivers(lambda _: (200, b"ok") if hold.released.wait(60) else (500, b""))
    await policy_cluster.create(
        {
            "apiVersion": POLICY_API_VERSION,
            "kind": POLICY_KIND,
            "metadata": {"name": "team", "namespace": ns},
            "spec": {"targets": [{"name": "hook", "type": "webhook", "url": f"{hold.url}/q"}]},
        }
    )
    stored = await policy_cluster.get(POLICY_API_VERSION, POLICY_KIND, "team", ns)
    metrics = Metrics(runtime=False)
    notifier = Notifier(
        policy_cluster,
        lambda: [stored],
        lambda _ns, _name: None,
        metrics=metrics,
        settings=NotifierSettings(queue_size=2, backoff=Backoff(attempts=1)),
    )
    revisions = [f"{i:040x}" for i in range(1, 6)]
    try:
        await notifier.notify(SyncNotice(NoticeKind.SYNCED, ns, "shop", revision=revisions[0]))
        await hold.until(lambda r: len(r) >= 1)  # the first is in flight, and held
        started = time.monotonic()
        for revision in revisions[1:]:
            await notifier.notify(SyncNotice(NoticeKind.SYNCED, ns, "shop", revision=revision))
        assert time.monotonic() - started < 0.1  # queued, not sent: nothing waited
        assert count(metrics, "webhook", "dropped") == 2
        hold.release()
        await notifier.wait_idle()
        received = await hold.until(lambda r: len(r) >= 3)
        assert [r.json()["revision"] for r in received] == [revisions[0], *revisions[3:]]
        assert count(metrics, "webhook", "sent") == 3
    finally:
        await notifier.aclose()
