"""Tracing without a cluster: off by default (the API's no-op tracer, nothing installed, nothing
exported); ``configure_from_env`` follows the standard ``OTEL_*`` variables and really exports
OTLP/HTTP protobuf (checked with a plain HTTP server that decodes what it receives); a provider
installed for a test is used by tracers created before it and forgotten after; JSON log lines
carry the trace and span ids; a W3C traceparent becomes the parent of clew's root span; span text
never carries URL credentials."""

from __future__ import annotations

import json
import logging
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest
from opentelemetry import trace
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import ExportTraceServiceRequest
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from opentelemetry.trace import StatusCode

from clew.report import logs, tracing

OTEL_VARIABLES = (
    "OTEL_SDK_DISABLED",
    "OTEL_TRACES_EXPORTER",
    "OTEL_EXPORTER_OTLP_ENDPOINT",
    "OTEL_EXPORTER_OTLP_TRACES_ENDPOINT",
    "OTEL_EXPORTER_OTLP_PROTOCOL",
    "OTEL_EXPORTER_OTLP_TRACES_PROTOCOL",
    "OTEL_SERVICE_NAME",
    "OTEL_RESOURCE_ATTRIBUTES",
)
TRACEPARENT = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01"


@pytest.fixture(autouse=True)
def clean_env(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    for name in OTEL_VARIABLES:
        monkeypatch.delenv(name, raising=False)
    tracing.uninstall()
    yield
    tracing.shutdown()


@pytest.fixture
def memory() -> Iterator[InMemorySpanExporter]:
    exporter = InMemorySpanExporter()
    provider = TracerProvider()
    provider.add_span_processor(SimpleSpanProcessor(exporter))
    with tracing.using(provider):
        yield exporter
    provider.shutdown()


class _Receiver(BaseHTTPRequestHandler):
    """Stores each POST (path, content type, body); answers 200 as an OTLP receiver does."""

    received: list[tuple[str, str, bytes]]

    def do_POST(self) -> None:
        body = self.rfile.read(int(self.headers.get("Content-Length", "0")))
        self.received.append((self.path, self.headers.get("Content-Type", ""), body))
        self.send_response(200)
        self.send_header("Content-Type", "application/x-protobuf")
        self.send_header("Content-Length", "0")
        self.end_headers()

    def log_message(self, format: str, *args: object) -> None:
        return None


@pytest.fixture
def receiver() -> Iterator[tuple[str, list[tuple[str, str, bytes]]]]:
    received: list[tuple[str, str, bytes]] = []
    handler = type("Handler", (_Receiver,), {"received": received})
    server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}", received
    finally:
        server.shutdown()
        server.server_close()
        thread.join()


def test_off_by_default_nothing_installed_nothing_recorded() -> None:
    assert tracing.configure_from_env() is None
    assert tracing.installed() is None
    with trace.get_tracer("clew").start_as_current_span("sync") as span:
        assert not span.is_recording()
        assert not span.get_span_context().is_valid
        assert tracing.current_ids() is None


@pytest.mark.parametrize(
    ("environ", "wanted"),
    [
        ({}, False),
        ({"OTEL_EXPORTER_OTLP_ENDPOINT": "http://collector:4318"}, True),
        ({"OTEL_EXPORTER_OTLP_TRACES_ENDPOINT": "http://collector:4318/v1/traces"}, True),
        ({"OTEL_EXPORTER_OTLP_ENDPOINT": "  "}, False),
        ({"OTEL_TRACES_EXPORTER": "otlp"}, True),
        ({"OTEL_EXPORTER_OTLP_ENDPOINT": "http://c:4318", "OTEL_SDK_DISABLED": "true"}, False),
        ({"OTEL_EXPORTER_OTLP_ENDPOINT": "http://c:4318", "OTEL_SDK_DISABLED": "TRUE "}, False),
        ({"OTEL_EXPORTER_OTLP_ENDPOINT": "http://c:4318", "OTEL_SDK_DISABLED": "false"}, True),
        ({"OTEL_EXPORTER_OTLP_ENDPOINT": "http://c:4318", "OTEL_TRACES_EXPORTER": "none"}, False),
        ({"OTEL_SERVICE_NAME": "clew"}, False),
    ],
)
def test_wanted_follows_the_standard_variables(environ: dict[str, str], wanted: bool) -> None:
    assert tracing.wanted(environ) is wanted


def test_configure_exports_otlp_http_protobuf(
    monkeypatch: pytest.MonkeyPatch, receiver: tuple[str, list[tuple[str, str, bytes]]]
) -> None:
    url, received = receiver
    monkeypatch.setenv("OTEL_EXPORTER_OTLP_ENDPOINT", url)
    provider = tracing.configure_from_env()
    assert provider is not None
    assert tracing.installed() is provider
    assert provider.resource.attributes["service.name"] == "clew"
    tracer = trace.get_tracer("clew")
    with (
        tracer.start_as_current_span("sync", attributes={"clew.revision": "abc"}),
        tracer.start_as_current_span("fetch"),
    ):
        pass
    tracing.shutdown()  # flushes the batch
    assert tracing.installed() is None

    assert [(path, kind) for path, kind, _ in received] == [
        ("/v1/traces", "application/x-protobuf")
    ]
    request = ExportTraceServiceRequest.FromString(received[0][2])
    [resource_spans] = request.resource_spans
    service = {a.key: a.value.string_value for a in resource_spans.resource.attributes}
    assert service["service.name"] == "clew"
    spans = {s.name: s for scope in resource_spans.scope_spans for s in scope.spans}
    assert set(spans) == {"sync", "fetch"}
    assert spans["fetch"].parent_span_id == spans["sync"].span_id
    assert spans["sync"].attributes[0].value.string_value == "abc"


def test_configure_honours_traces_endpoint_and_service_name(
    monkeypatch: pytest.MonkeyPatch, receiver: tuple[str, list[tuple[str, str, bytes]]]
) -> None:
    url, received = receiver
    monkeypatch.setenv("OTEL_EXPORTER_OTLP_TRACES_ENDPOINT", f"{url}/custom/traces")
    monkeypatch.setenv("OTEL_SERVICE_NAME", "clew-staging")
    monkeypatch.setenv("OTEL_RESOURCE_ATTRIBUTES", "deployment.environment=staging")
    provider = tracing.configure_from_env()
    assert provider is not None
    assert provider.resource.attributes["service.name"] == "clew-staging"
    assert provider.resource.attributes["deployment.environment"] == "staging"
    with trace.get_tracer("clew").start_as_current_span("reconcile"):
        pass
    tracing.shutdown()
    assert [path for path, _, _ in received] == ["/custom/traces"]


def test_from_env_exports_what_its_block_traced_then_turns_off(
    monkeypatch: pytest.MonkeyPatch, receiver: tuple[str, list[tuple[str, str, bytes]]]
) -> None:
    url, received = receiver
    monkeypatch.setenv("OTEL_EXPORTER_OTLP_ENDPOINT", url)
    monkeypatch.setenv("OTEL_BSP_SCHEDULE_DELAY", "60000")  # only the exit exports
    with tracing.from_env() as provider:
        assert provider is not None
        assert tracing.installed() is provider
        with trace.get_tracer("clew").start_as_current_span("sync"):
            pass
        assert received == []
    assert tracing.installed() is None
    assert len(received) == 1


def test_from_env_leaves_tracing_off_when_not_asked() -> None:
    with tracing.from_env() as provider:
        assert provider is None
        assert tracing.installed() is None


@pytest.mark.parametrize(
    "variable", ["OTEL_EXPORTER_OTLP_PROTOCOL", "OTEL_EXPORTER_OTLP_TRACES_PROTOCOL"]
)
def test_grpc_is_refused_with_a_warning(
    monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture, variable: str
) -> None:
    monkeypatch.setenv("OTEL_EXPORTER_OTLP_ENDPOINT", "http://127.0.0.1:4317")
    monkeypatch.setenv(variable, "grpc")
    with caplog.at_level(logging.WARNING, logger="clew.report.tracing"):
        assert tracing.configure_from_env() is None
    assert tracing.installed() is None
    assert "http/protobuf" in caplog.text


def test_a_provider_installed_later_reaches_tracers_made_before(
    memory: InMemorySpanExporter,
) -> None:
    from clew.engine import orchestrator  # its module-level tracer exists since import

    with orchestrator._tracer.start_as_current_span("sync"):
        pass
    assert [s.name for s in memory.get_finished_spans()] == ["sync"]
    tracing.uninstall()
    with orchestrator._tracer.start_as_current_span("sync") as span:
        assert not span.is_recording()
    assert len(memory.get_finished_spans()) == 1


def test_using_restores_what_was_installed() -> None:
    first, second = TracerProvider(), TracerProvider()
    with tracing.using(first):
        with tracing.using(second):
            assert tracing.installed() is second
        assert tracing.installed() is first
    assert tracing.installed() is None


def test_json_log_lines_carry_trace_and_span_ids(memory: InMemorySpanExporter) -> None:
    formatter = logs.JsonFormatter()

    def line() -> dict[str, str]:
        record = logging.LogRecord("clew.controller", logging.INFO, __file__, 1, "hi", None, None)
        return dict(json.loads(formatter.format(record)))

    assert "trace_id" not in line()
    with (
        logs.bound(application="ns/app"),
        trace.get_tracer("clew").start_as_current_span("reconcile") as span,
    ):
        entry = line()
    context = span.get_span_context()
    assert entry["trace_id"] == f"{context.trace_id:032x}"
    assert entry["span_id"] == f"{context.span_id:016x}"
    assert entry["application"] == "ns/app"


def test_no_trace_id_in_logs_when_tracing_is_off() -> None:
    formatter = logs.JsonFormatter()
    record = logging.LogRecord("clew", logging.INFO, __file__, 1, "hi", None, None)
    with trace.get_tracer("clew").start_as_current_span("reconcile"):
        assert "trace_id" not in json.loads(formatter.format(record))


def test_traceparent_becomes_the_parent_of_the_root_span(memory: InMemorySpanExporter) -> None:
    parent = tracing.remote_parent(TRACEPARENT)
    assert parent is not None
    with trace.get_tracer("clew").start_as_current_span("reconcile", context=parent):
        pass
    [span] = memory.get_finished_spans()
    assert f"{span.context.trace_id:032x}" == "4bf92f3577b34da6a3ce929d0e0e4736"
    assert span.parent is not None
    assert span.parent.is_remote
    assert f"{span.parent.span_id:016x}" == "00f067aa0ba902b7"


@pytest.mark.parametrize("value", [None, "", "garbage", "00-" + "0" * 32 + "-00f067aa0ba902b7-01"])
def test_no_parent_from_a_missing_or_invalid_traceparent(value: str | None) -> None:
    assert tracing.remote_parent(value) is None


def test_outcome_attributes_and_error_status(memory: InMemorySpanExporter) -> None:
    tracer = trace.get_tracer("clew")
    with tracer.start_as_current_span("sync") as ok:
        tracing.record_outcome(ok, reason="", revision="abc", counts={"created": 2})
    with tracer.start_as_current_span("sync") as failed:
        tracing.record_outcome(
            failed,
            reason="FetchFailed",
            message="git fetch https://bot:s3cret@git.example/repo.git failed",
        )
    first, second = memory.get_finished_spans()
    assert first.attributes is not None
    assert second.attributes is not None
    assert first.attributes["clew.result"] == "Succeeded"
    assert first.attributes["clew.revision"] == "abc"
    assert first.attributes["clew.objects.created"] == 2
    assert first.attributes["clew.objects.deleted"] == 0
    assert first.status.status_code is StatusCode.UNSET
    assert second.attributes["clew.result"] == "FetchFailed"
    assert second.status.status_code is StatusCode.ERROR
    assert second.status.description == "FetchFailed: git fetch https://git.example/repo.git failed"


@pytest.mark.parametrize(
    ("url", "safe"),
    [
        ("https://bot:token@git.example/org/repo.git", "https://git.example/org/repo.git"),
        ("https://token@git.example:8443/repo", "https://git.example:8443/repo"),
        ("https://git.example/repo", "https://git.example/repo"),
        ("git@github.com:org/repo.git", "git@github.com:org/repo.git"),
        ("ssh://git@git.example/repo", "ssh://git.example/repo"),
        ("/srv/manifests", "/srv/manifests"),
    ],
)
def test_safe_url_drops_credentials(url: str, safe: str) -> None:
    assert tracing.safe_url(url) == safe


def test_scrub_cuts_long_messages() -> None:
    assert len(tracing.scrub("x" * 5000)) == 512
