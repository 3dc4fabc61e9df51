"""Traces on the real control plane. ``engine.sync`` of a local directory makes one trace: a
``sync`` root with fetch, render, plan, apply (an ``apply.wave`` per wave, with its kinds and
count), prune and wait, carrying the revision, the counts by action and the result; a failing
stage is ERROR with its message and the stages after it are absent; a drift correction is a
``drift`` span naming the Application and the object. End to end: a real controller exports
OTLP/HTTP to a real OpenTelemetry Collector (built from pinned Go modules);
a signed webhook with a W3C ``traceparent`` makes the reconcile of the pushed commit a child of
the caller's span, with every stage in that trace, and the Event and log lines of that reconcile
carry its trace id."""

from __future__ import annotations

import asyncio
import json
import logging
import secrets
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml
from opentelemetry.sdk.trace import ReadableSpan, TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from opentelemetry.trace import StatusCode

from clew import engine, plan
from clew.cluster import Cluster
from clew.controller.api.spec import API_VERSION, KIND, AppKey, parse
from clew.controller.triggers.drift import DriftWatcher
from clew.model import Manifest, ObjectRef, Snapshot
from clew.report import logs, tracing
from clew.report.events import TRACE_ID_ANNOTATION
from clew.source import SnapshotCache
from clew.testing import otelcol
from clew.testing.git_fixtures import HTTP_USER
from clew.testing.gitserver import GitHttpServer, Repo
from clew.testing.operator import RunningController
from clew.testing.waiting import condition, until

pytestmark = pytest.mark.integration

STAGES = {"fetch", "render", "plan", "apply", "prune", "wait"}


@pytest.fixture
def memory() -> Iterator[InMemorySpanExporter]:
    exporter = InMemorySpanExporter()
    provider = TracerProvider()
    provider.add_span_processor(SimpleSpanProcessor(exporter))
    with tracing.using(provider):
        yield exporter
    provider.shutdown()


def configmap(name: str, **data: str) -> dict[str, Any]:
    return {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": name}, "data": data}


def role(name: str) -> dict[str, Any]:
    rule = {"apiGroups": [""], "resources": ["configmaps"], "verbs": ["get"]}
    return {
        "apiVersion": "rbac.authorization.k8s.io/v1",
        "kind": "Role",
        "metadata": {"name": name},
        "rules": [rule],
    }


def role_binding(name: str, role_name: str) -> dict[str, Any]:
    return {
        "apiVersion": "rbac.authorization.k8s.io/v1",
        "kind": "RoleBinding",
        "metadata": {"name": name},
        "roleRef": {"apiGroup": "rbac.authorization.k8s.io", "kind": "Role", "name": role_name},
        "subjects": [{"kind": "User", "name": "jane", "apiGroup": "rbac.authorization.k8s.io"}],
    }


def write(directory: Path, *docs: dict[str, Any]) -> None:
    directory.mkdir(parents=True, exist_ok=True)
    (directory / "all.yaml").write_text(yaml.safe_dump_all(docs))


def local(directory: Path) -> engine.FetchSnapshot:
    cache = SnapshotCache(directory.parent / "cache")

    async def fetch() -> Snapshot:
        return cache.local(directory)

    return fetch


def by_name(spans: tuple[ReadableSpan, ...]) -> dict[str, list[ReadableSpan]]:
    out: dict[str, list[ReadableSpan]] = {}
    for span in spans:
        out.setdefault(span.name, []).append(span)
    return out


def attrs(span: ReadableSpan) -> dict[str, Any]:
    return dict(span.attributes or {})


async def test_sync_makes_one_trace_with_a_span_per_stage(
    memory: InMemorySpanExporter, kube_admin: Cluster, kube_namespace: str, tmp_path: Path
) -> None:
    source = tmp_path / "manifests"
    objects = [
        configmap("a", k="1"),
        configmap("b", k="2"),
        role("reader"),
        role_binding("jane", "reader"),
    ]
    write(source, *objects)
    options = engine.SyncOptions(name="traced", namespace=kube_namespace, prune=True, wait=True)
    result = await engine.sync(kube_admin, local(source), options)
    assert result.ok, result.error
    assert result.snapshot is not None

    spans = memory.get_finished_spans()
    assert len({s.context.trace_id for s in spans}) == 1
    named = by_name(spans)
    assert set(named) == {"sync", "apply.wave"} | STAGES
    [root] = named["sync"]
    assert root.parent is None
    for stage in STAGES:
        [span] = named[stage]
        assert span.parent is not None
        assert span.parent.span_id == root.context.span_id, stage
        assert span.status.status_code is StatusCode.UNSET, stage
    [apply_span] = named["apply"]
    waves = sorted(named["apply.wave"], key=lambda s: attrs(s)["clew.wave"])
    assert all(w.parent and w.parent.span_id == apply_span.context.span_id for w in waves)
    expected = [
        (tuple(sorted({m.ref.kind for m in wave})), len(wave))
        for wave in plan.waves(result.desired)
    ]
    assert len(expected) > 1  # the Role's wave comes before the RoleBinding's
    assert [(attrs(w)["clew.kinds"], attrs(w)["clew.objects.count"]) for w in waves] == expected

    top = attrs(root)
    assert top["clew.application"] == top["clew.inventory"] == f"{kube_namespace}/traced"
    assert top["clew.revision"] == result.snapshot.revision
    assert top["clew.repository"] == str(source)
    assert top["clew.result"] == "Succeeded"
    assert (top["clew.objects.created"], top["clew.objects.deleted"]) == (4, 0)
    assert attrs(named["fetch"][0])["clew.revision"] == result.snapshot.revision
    assert attrs(named["apply"][0])["clew.objects.created"] == 4

    # A second run: one object left Git, so prune deletes it; the rest is unchanged.
    memory.clear()
    write(source, *[o for o in objects if o["metadata"]["name"] != "b"])
    result = await engine.sync(kube_admin, local(source), options)
    assert result.ok, result.error
    named = by_name(memory.get_finished_spans())
    [prune] = named["prune"]
    assert attrs(prune)["clew.objects.deleted"] == 1
    assert attrs(prune)["clew.objects.stale"] == 1
    top = attrs(named["sync"][0])
    assert (top["clew.objects.unchanged"], top["clew.objects.deleted"]) == (3, 1)
    assert "apply.wave" not in named  # nothing to apply: no wave runs


async def test_a_failing_stage_is_an_error_and_ends_the_trace(
    memory: InMemorySpanExporter, kube_admin: Cluster, kube_namespace: str, tmp_path: Path
) -> None:
    source = tmp_path / "broken"
    source.mkdir()
    (source / "bad.yaml").write_text("kind: ConfigMap\nmetadata: {name: [unclosed\n")
    options = engine.SyncOptions(name="broken", namespace=kube_namespace, prune=True)
    result = await engine.sync(kube_admin, local(source), options)
    assert result.reason == "RenderFailed"

    named = by_name(memory.get_finished_spans())
    assert set(named) == {"sync", "fetch", "render"}  # nothing planned, applied or pruned
    [render] = named["render"]
    assert render.status.status_code is StatusCode.ERROR
    assert (render.status.description or "").startswith("RenderFailed: ")
    [root] = named["sync"]
    assert root.status.status_code is StatusCode.ERROR
    assert attrs(root)["clew.result"] == "RenderFailed"
    assert named["fetch"][0].status.status_code is StatusCode.UNSET


async def test_a_rejected_object_fails_its_wave_and_the_apply_span(
    memory: InMemorySpanExporter, kube_admin: Cluster, kube_namespace: str, tmp_path: Path
) -> None:
    source = tmp_path / "rejected"
    bad = configmap("bad")
    bad["data"] = {"not a valid key!": "x"}
    write(source, configmap("good", k="1"), bad)
    options = engine.SyncOptions(name="rejected", namespace=kube_namespace)
    result = await engine.sync(kube_admin, local(source), options)
    assert result.reason == "ApplyFailed"

    named = by_name(memory.get_finished_spans())
    assert "prune" not in named
    [wave] = named["apply.wave"]
    assert wave.status.status_code is StatusCode.ERROR
    assert attrs(wave)["clew.objects.failed"] == 1
    [apply_span] = named["apply"]
    assert apply_span.status.status_code is StatusCode.ERROR
    assert "ConfigMap" in (apply_span.status.description or "")
    assert attrs(apply_span)["clew.objects.failed"] == 1
    assert attrs(apply_span)["clew.objects.created"] == 1
    assert attrs(named["sync"][0])["clew.result"] == "ApplyFailed"


# -- end to end: controller → OTLP/HTTP → a real collector ---------------------------------------


@pytest.fixture
def collector(tmp_path: Path) -> Iterator[otelcol.Collector]:
    # Built on first use (about two minutes cold on two cores), then cached by version.
    with otelcol.running(tmp_path / "otelcol") as running:
        yield running


@pytest.fixture
def otlp(
    collector: otelcol.Collector, monkeypatch: pytest.MonkeyPatch
) -> Iterator[otelcol.Collector]:
    """Tracing configured from the environment, as `clew controller` does, for this test."""
    monkeypatch.setenv("OTEL_EXPORTER_OTLP_ENDPOINT", collector.endpoint)
    monkeypatch.setenv("OTEL_BSP_SCHEDULE_DELAY", "200")
    monkeypatch.delenv("OTEL_SERVICE_NAME", raising=False)
    monkeypatch.delenv("OTEL_SDK_DISABLED", raising=False)
    provider = tracing.configure_from_env()
    assert provider is not None
    try:
        yield collector
    finally:
        tracing.shutdown()


@pytest.fixture
def json_logs() -> Iterator[list[dict[str, Any]]]:
    """clew's log lines as the controller writes them (JSON), formatted when written."""
    lines: list[dict[str, Any]] = []

    class Capture(logging.Handler):
        def emit(self, record: logging.LogRecord) -> None:
            lines.append(json.loads(self.format(record)))

    handler = Capture()
    handler.setFormatter(logs.JsonFormatter())
    logger = logging.getLogger("clew")
    level = logger.level
    logger.addHandler(handler)
    logger.setLevel(logging.INFO)
    try:
        yield lines
    finally:
        logger.removeHandler(handler)
        logger.setLevel(level)


def configmap_yaml(name: str, **data: str) -> str:
    return yaml.safe_dump(configmap(name, **data))


@pytest.mark.timeout(900)  # a cold cache builds the collector first
async def test_webhook_traceparent_joins_the_reconcile_to_the_callers_trace(
    otlp: otelcol.Collector,
    json_logs: list[dict[str, Any]],
    controller: RunningController,
    kube_admin: Cluster,
    kube_namespace: str,
    git_http: GitHttpServer,
    git_repo: Repo,
) -> None:
    ns = kube_namespace
    await kube_admin.apply(
        {
            "apiVersion": "v1",
            "kind": "Secret",
            "metadata": {"name": "git", "namespace": ns},
            "stringData": {"username": HTTP_USER, "password": git_http.users[HTTP_USER]},
        }
    )
    url = git_http.repo_url(git_repo.name)
    first = git_repo.commit({"deploy/cm.yaml": configmap_yaml("settings", color="blue")}, "Add")
    app = {
        "apiVersion": API_VERSION,
        "kind": KIND,
        "metadata": {"name": "shop", "namespace": ns},
        "spec": {
            "source": {
                "repoURL": url,
                "ref": "main",
                "path": "deploy",
                "secretRef": {"name": "git"},
            },
            "destination": {"namespace": ns},
            "interval": "10m",
            "prune": True,
            "wait": True,
        },
    }
    await kube_admin.create(app)
    await until(kube_admin, API_VERSION, KIND, "shop", ns, applied(first), 60)

    # CI pushes, then calls the webhook inside its own trace.
    second = git_repo.commit({"deploy/cm.yaml": configmap_yaml("settings", color="green")}, "Go")
    trace_id, caller_span = secrets.token_hex(16), secrets.token_hex(8)
    answer = await controller.push_hook(url, traceparent=f"00-{trace_id}-{caller_span}-01")
    assert answer["triggered"] == 1
    await until(kube_admin, API_VERSION, KIND, "shop", ns, applied(second), 30)
    # The root span ends right after the reconcile's last log line (no await in between).
    await logged(
        json_logs, lambda line: line.get("trace_id") == trace_id and "reconciled" in line["msg"]
    )
    tracing.shutdown()  # flush what is batched to the collector

    def complete(spans: list[otelcol.CollectedSpan]) -> bool:
        return {"reconcile", "report"} | STAGES <= {s.name for s in spans if s.trace_id == trace_id}

    spans = [s for s in otlp.wait_for(complete) if s.trace_id == trace_id]
    named = {s.name: s for s in spans}
    root = named["reconcile"]
    assert root.parent_id == caller_span  # CI → Git → cluster, one trace
    assert root.resource["service.name"] == "clew"
    assert root.scope == "clew"
    assert root.attributes["clew.application"] == f"{ns}/shop"
    assert root.attributes["clew.repository"] == url
    assert root.attributes["clew.revision"] == second
    assert root.attributes["clew.result"] == "Succeeded"
    assert root.attributes["clew.objects.configured"] == 1
    assert root.status == "UNSET"
    sync = named["sync"]
    assert sync.parent_id == root.span_id
    assert named["report"].parent_id == root.span_id
    for stage in STAGES:
        assert named[stage].parent_id == sync.span_id, stage
        assert named[stage].status == "UNSET", stage
    assert named["fetch"].attributes["clew.revision"] == second
    assert named["apply.wave"].attributes["clew.kinds"] == ["ConfigMap"]
    assert sync.attributes["clew.revision"] == second
    assert "clew.application" not in sync.attributes  # the reconcile names the Application

    # The Event of that reconcile names its trace.
    events, _ = await kube_admin.list_objects("events.k8s.io/v1", "Event", ns)
    synced = [
        e
        for e in events
        if e.get("reason") == "Synced"
        and (e["metadata"].get("annotations") or {}).get("clew.dev/revision") == second
    ]
    assert synced, [e.get("reason") for e in events]
    assert synced[0]["metadata"]["annotations"][TRACE_ID_ANNOTATION] == trace_id

    # Every log line written while an Application reconciled carries a trace id; those of
    # the pushed commit's reconcile carry the caller's.
    during = [line for line in json_logs if line.get("application") == f"{ns}/shop"]
    assert during
    assert all(line.get("trace_id") and line.get("span_id") for line in during)
    assert any(
        line["trace_id"] == trace_id and line["msg"] == "reconciled: Succeeded" for line in during
    )


async def logged(
    lines: list[dict[str, Any]], predicate: Callable[[dict[str, Any]], bool], timeout: float = 15
) -> None:
    deadline = time.monotonic() + timeout
    while not any(predicate(line) for line in lines):
        assert time.monotonic() < deadline, [line["msg"] for line in lines]
        await asyncio.sleep(0.05)  # the controller runs on this loop; let it log


def applied(revision: str) -> Any:
    def check(app: dict[str, Any] | None) -> bool:
        ready = condition(app, "Ready")
        return bool(
            app
            and ready
            and ready["status"] == "True"
            and (app.get("status") or {}).get("lastAppliedRevision") == revision
        )

    return check


async def test_a_drift_correction_is_a_span(
    memory: InMemorySpanExporter, kube_admin: Cluster, kube_namespace: str
) -> None:
    key = AppKey(kube_namespace, "app")
    spec = parse(
        {
            "apiVersion": API_VERSION,
            "kind": KIND,
            "metadata": {"name": "app", "namespace": kube_namespace},
            "spec": {"source": {"repoURL": "https://example.com/r.git"}},
        }
    )
    desired = {
        **configmap("drifting", k="1"),
        "metadata": {"name": "drifting", "namespace": kube_namespace},
    }
    stored = await kube_admin.apply(desired, force=True)
    corrected: list[str] = []

    async def on_corrected(key: AppKey, ref: ObjectRef, note: str) -> None:
        corrected.append(note)

    async def on_out_of_sync(_key: AppKey, _refs: Any) -> None:
        raise AssertionError("selfHeal is on")

    watcher = DriftWatcher(
        lambda _k, _s: kube_admin, on_corrected=on_corrected, on_out_of_sync=on_out_of_sync
    )
    manifest = Manifest(desired, "all.yaml#0")
    watcher.track(key, spec, [manifest], {manifest.ref: stored["metadata"]["resourceVersion"]})
    edited = await kube_admin.patch(
        "v1", "ConfigMap", "drifting", {"data": {"k": "edited"}}, namespace=kube_namespace
    )
    watcher.handle("MODIFIED", edited, kube_admin.server)
    await watcher.idle()
    assert corrected == [f"ConfigMap/{kube_namespace}/drifting: reverted a change made outside Git"]
    [span] = by_name(memory.get_finished_spans())["drift"]
    assert attrs(span) == {
        tracing.APPLICATION: str(key),
        "clew.object": f"ConfigMap/{kube_namespace}/drifting",
        tracing.RESULT: "DriftCorrected",
    }
