"""A real OpenTelemetry Collector for tracing tests: OTLP/HTTP in, a JSON file out.

The binary is built from the pinned Go module ``gomod/otelcol`` (see :mod:`clew.testing.tools`;
built on first use, cached by version). :func:`start` runs it on free loopback ports with a
config that writes every trace it receives to ``traces.json`` (one OTLP/JSON export request per
line), waits until its ``health_check`` extension answers, and returns a :class:`Collector`;
:meth:`Collector.spans` reads the file back as :class:`CollectedSpan` values. The collector's own
telemetry is off (no port 8888 to collide on).

    with otelcol.running(tmp_path) as collector:
        os.environ["OTEL_EXPORTER_OTLP_ENDPOINT"] = collector.endpoint
        ...
        spans = collector.wait_for_trace(trace_id)
"""

from __future__ import annotations

import contextlib
import json
import time
import urllib.request
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from clew.testing import tools
from clew.testing.processes import Component, free_port, log_tail, stop_pid

_CONFIG = """\
extensions:
  health_check:
    endpoint: 127.0.0.1:{health}
receivers:
  otlp:
    protocols:
      http:
        endpoint: 127.0.0.1:{otlp}
processors:
  batch:
    timeout: 100ms
exporters:
  file:
    path: {traces}
    flush_interval: 100ms
service:
  extensions: [health_check]
  telemetry:
    logs:
      level: info
    metrics:
      level: none
  pipelines:
    traces:
      receivers: [otlp]
      processors: [batch]
      exporters: [file]
"""


class CollectorError(RuntimeError):
    """The collector did not start (the message ends with its log)."""


@dataclass(frozen=True)
class CollectedSpan:
    """One span as the collector wrote it; ids in lowercase hex, ``parent_id`` empty for a root."""

    name: str
    trace_id: str
    span_id: str
    parent_id: str
    attributes: dict[str, Any]
    status: str  # "UNSET", "OK" or "ERROR"
    status_message: str
    resource: dict[str, Any] = field(default_factory=dict)
    scope: str = ""


@dataclass
class Collector:
    component: Component
    endpoint: str  # the OTLP/HTTP base URL, for OTEL_EXPORTER_OTLP_ENDPOINT
    health_url: str
    traces_file: Path
    config: Path

    def spans(self) -> list[CollectedSpan]:
        """Every span written so far (a line still being written is skipped)."""
        try:
            lines = self.traces_file.read_text().splitlines()
        except FileNotFoundError:
            return []
        out: list[CollectedSpan] = []
        for line in lines:
            try:
                request = json.loads(line)
            except json.JSONDecodeError:
                continue
            out.extend(_spans_of(request))
        return out

    def wait_for(
        self, predicate: Callable[[list[CollectedSpan]], bool], timeout: float = 15.0
    ) -> list[CollectedSpan]:
        """The spans once ``predicate`` holds for them; TimeoutError (with what arrived) if not."""
        deadline = time.monotonic() + timeout
        while True:
            spans = self.spans()
            if predicate(spans):
                return spans
            if time.monotonic() > deadline:
                names = sorted({(s.trace_id[:8], s.name) for s in spans})
                raise TimeoutError(f"the collector did not get the spans in time; got {names}")
            time.sleep(0.1)  # the file exporter flushes every 100 ms

    def stop(self) -> None:
        """SIGTERM (the file exporter flushes), then SIGKILL if it lingers."""
        stop_pid(self.component.pid, timeout=15.0)

    def log(self) -> str:
        return log_tail(self.component.log, 40)


def start(work: Path, *, timeout: float = 30.0, build: bool = True) -> Collector:
    """Start a collector whose files live in ``work``. With ``build`` the binary is built first
    when missing (minutes, once per cache); without, a missing binary raises ToolsMissing."""
    if build and tools.missing(("otelcol",)):
        tools.build(lambda msg: print(msg, flush=True), ("otelcol",))
    binary = tools.binary("otelcol")
    work.mkdir(parents=True, exist_ok=True)
    otlp, health = free_port(), free_port()
    traces = work / "traces.json"
    config = work / "otelcol.yaml"
    config.write_text(_CONFIG.format(health=health, otlp=otlp, traces=json.dumps(str(traces))))
    component = Component(
        "otelcol", [str(binary), "--config", f"file:{config}"], work / "otelcol.log"
    )
    component.start()
    collector = Collector(
        component,
        endpoint=f"http://127.0.0.1:{otlp}",
        health_url=f"http://127.0.0.1:{health}/",
        traces_file=traces,
        config=config,
    )
    deadline = time.monotonic() + timeout
    while not _healthy(collector.health_url):
        if not component.alive() or time.monotonic() > deadline:
            collector.stop()
            raise CollectorError(f"the collector did not become ready:\n{collector.log()}")
        time.sleep(0.05)  # the collector is starting; nothing to watch but its health endpoint
    return collector


@contextlib.contextmanager
def running(work: Path, **kwargs: Any) -> Iterator[Collector]:
    collector = start(work, **kwargs)
    try:
        yield collector
    finally:
        collector.stop()


def _healthy(url: str) -> bool:
    try:
        with urllib.request.urlopen(url, timeout=1) as resp:  # noqa: S310 - loopback http
            return int(resp.status) == 200
    except OSError:
        return False


def _spans_of(request: dict[str, Any]) -> Iterator[CollectedSpan]:
    for resource_spans in request.get("resourceSpans") or []:
        resource = _attributes((resource_spans.get("resource") or {}).get("attributes"))
        for scope_spans in resource_spans.get("scopeSpans") or []:
            scope = str((scope_spans.get("scope") or {}).get("name", ""))
            for span in scope_spans.get("spans") or []:
                status = span.get("status") or {}
                yield CollectedSpan(
                    name=str(span.get("name", "")),
                    trace_id=str(span.get("traceId", "")).lower(),
                    span_id=str(span.get("spanId", "")).lower(),
                    parent_id=str(span.get("parentSpanId", "")).lower(),
                    attributes=_attributes(span.get("attributes")),
                    status=_STATUS.get(status.get("code", 0), str(status.get("code"))),
                    status_message=str(status.get("message", "")),
                    resource=resource,
                    scope=scope,
                )


_STATUS: dict[Any, str] = {
    0: "UNSET",
    1: "OK",
    2: "ERROR",
    "STATUS_CODE_UNSET": "UNSET",
    "STATUS_CODE_OK": "OK",
    "STATUS_CODE_ERROR": "ERROR",
}


def _attributes(items: list[dict[str, Any]] | None) -> dict[str, Any]:
    return {str(item["key"]): _value(item.get("value") or {}) for item in items or []}


def _value(value: dict[str, Any]) -> Any:
    """An OTLP/JSON AnyValue as a Python value (int64s arrive as strings)."""
    if "stringValue" in value:
        return value["stringValue"]
    if "intValue" in value:
        return int(value["intValue"])
    if "boolValue" in value:
        return bool(value["boolValue"])
    if "doubleValue" in value:
        return float(value["doubleValue"])
    if "arrayValue" in value:
        return [_value(v) for v in (value["arrayValue"].get("values") or [])]
    if "kvlistValue" in value:
        return _attributes(value["kvlistValue"].get("values"))
    return None


__all__ = ["CollectedSpan", "Collector", "CollectorError", "running", "start"]
