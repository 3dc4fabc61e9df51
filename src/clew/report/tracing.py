"""OpenTelemetry traces: one trace per reconcile (and per ``clew apply`` run), a span per stage.

clew's code only uses the OpenTelemetry API (``opentelemetry.trace.get_tracer("clew")``); this
module decides where spans go. Tracing is off unless the standard ``OTEL_*`` variables ask for it
(:func:`configure_from_env`); off, the API's no-op tracer answers every call and nothing is
exported.

The API lets a process set its global TracerProvider once. clew sets it (on the first
:func:`install`) to a small delegating provider and swaps what that delegates to, so a test can
install an SDK provider of its own (an ``InMemorySpanExporter``, or OTLP to a collector), shut it
down and install another, in one process. Spans never carry a secret: URLs lose their userinfo
(:func:`safe_url`) and error messages are scrubbed the same way (:func:`fail`).

Names used on spans (see docs/tracing.md)::

    reconcile          the controller's root span for one Application key
      sync             the engine (the root span of ``clew apply`` / ``clew diff``)
        fetch render plan apply (apply.wave per wave) prune wait
      report           status, history, Events, notifications, metrics
"""

from __future__ import annotations

import contextlib
import logging
import os
import re
import threading
import urllib.parse
from collections.abc import Iterator, Mapping, Sequence
from typing import TYPE_CHECKING, Any

from opentelemetry import trace
from opentelemetry.context import Context
from opentelemetry.trace import Link, SpanKind, Status, StatusCode
from opentelemetry.trace.propagation.tracecontext import TraceContextTextMapPropagator
from opentelemetry.util.types import Attributes

from clew.model import Reason

if TYPE_CHECKING:  # the SDK is imported only when tracing is turned on
    from opentelemetry.sdk.trace import TracerProvider as SdkTracerProvider

TRACER = "clew"

APPLICATION = "clew.application"
INVENTORY = "clew.inventory"
REPOSITORY = "clew.repository"
REVISION = "clew.revision"
RESULT = "clew.result"
SUCCEEDED = Reason.SUCCEEDED
COUNTED = ("created", "configured", "unchanged", "deleted", "failed")
"""Actions counted on spans as ``clew.objects.<action>`` (zeros included, so sums work)."""

_log = logging.getLogger(__name__)
_USERINFO = re.compile(r"\b([a-zA-Z][a-zA-Z0-9+.-]*://)[^/@\s]*@")
_MESSAGE_LIMIT = 512


# -- where spans go ------------------------------------------------------------------------------


class _DelegatingProvider(trace.TracerProvider):
    """The process's global provider once clew installs one: hands out tracers that follow
    :attr:`target`, so what receives spans can change after module-level tracers exist."""

    def __init__(self) -> None:
        self.target: trace.TracerProvider = trace.NoOpTracerProvider()

    def get_tracer(
        self,
        instrumenting_module_name: str,
        instrumenting_library_version: str | None = None,
        schema_url: str | None = None,
        attributes: Attributes = None,
    ) -> trace.Tracer:
        return _DelegatingTracer(
            self, instrumenting_module_name, instrumenting_library_version, schema_url, attributes
        )


class _DelegatingTracer(trace.Tracer):
    def __init__(
        self,
        provider: _DelegatingProvider,
        name: str,
        version: str | None,
        schema_url: str | None,
        attributes: Attributes,
    ) -> None:
        self._provider = provider
        self._args = (name, version, schema_url, attributes)
        self._for: trace.TracerProvider | None = None
        self._tracer: trace.Tracer = trace.NoOpTracer()

    def _current(self) -> trace.Tracer:
        target = self._provider.target
        if target is not self._for:
            self._tracer, self._for = target.get_tracer(*self._args), target
        return self._tracer

    def start_span(
        self,
        name: str,
        context: Context | None = None,
        kind: SpanKind = SpanKind.INTERNAL,
        attributes: Attributes = None,
        links: Sequence[Link] | None = None,
        start_time: int | None = None,
        record_exception: bool = True,
        set_status_on_exception: bool = True,
    ) -> trace.Span:
        return self._current().start_span(
            name,
            context,
            kind,
            attributes,
            links,
            start_time,
            record_exception,
            set_status_on_exception,
        )

    def start_as_current_span(  # the target's context manager, so it also works as a decorator
        self,
        name: str,
        context: Context | None = None,
        kind: SpanKind = SpanKind.INTERNAL,
        attributes: Attributes = None,
        links: Sequence[Link] | None = None,
        start_time: int | None = None,
        record_exception: bool = True,
        set_status_on_exception: bool = True,
        end_on_exit: bool = True,
    ) -> Any:
        return self._current().start_as_current_span(
            name,
            context,
            kind,
            attributes,
            links,
            start_time,
            record_exception,
            set_status_on_exception,
            end_on_exit,
        )


_DELEGATE = _DelegatingProvider()
_installed: trace.TracerProvider | None = None
_lock = threading.Lock()


def install(provider: trace.TracerProvider) -> trace.TracerProvider | None:
    """Send clew's spans to ``provider`` from now on; returns the provider installed before (not
    shut down). Raises RuntimeError when something else already set the global provider."""
    global _installed
    with _lock:
        current = trace.get_tracer_provider()
        if current is not _DELEGATE:
            if not isinstance(current, trace.ProxyTracerProvider):
                raise RuntimeError(
                    f"a global TracerProvider ({type(current).__name__}) is already set; clew's "
                    "spans go to it, so configure tracing there"
                )
            trace.set_tracer_provider(_DELEGATE)
        previous, _installed = _installed, provider
        _DELEGATE.target = provider
        return previous


def uninstall() -> trace.TracerProvider | None:
    """Stop sending spans anywhere (the no-op tracer again); returns what was installed."""
    global _installed
    with _lock:
        previous, _installed = _installed, None
        _DELEGATE.target = trace.NoOpTracerProvider()
        return previous


def installed() -> trace.TracerProvider | None:
    """The provider clew's spans go to, or None when tracing is off."""
    return _installed


@contextlib.contextmanager
def using(provider: trace.TracerProvider) -> Iterator[trace.TracerProvider]:
    """Install ``provider`` for the block, then put back what was installed before (tests)."""
    previous = install(provider)
    try:
        yield provider
    finally:
        if previous is None:
            uninstall()
        else:
            install(previous)


def shutdown(timeout_millis: int = 10_000) -> None:
    """Flush and shut down the installed SDK provider (exporting what is queued), then turn
    tracing off. Safe to call when tracing is off."""
    provider = uninstall()
    force_flush = getattr(provider, "force_flush", None)
    if force_flush is not None:
        force_flush(timeout_millis)
    stop = getattr(provider, "shutdown", None)
    if stop is not None:
        stop()


def wanted(environ: Mapping[str, str] | None = None) -> bool:
    """Whether the ``OTEL_*`` variables ask for traces: an OTLP endpoint (or
    ``OTEL_TRACES_EXPORTER=otlp``), and neither ``OTEL_SDK_DISABLED=true`` nor
    ``OTEL_TRACES_EXPORTER=none``."""
    env = os.environ if environ is None else environ
    if env.get("OTEL_SDK_DISABLED", "").strip().lower() == "true":
        return False
    exporters = {e.strip().lower() for e in env.get("OTEL_TRACES_EXPORTER", "").split(",")}
    if "none" in exporters:
        return False
    endpoint = env.get("OTEL_EXPORTER_OTLP_TRACES_ENDPOINT") or env.get(
        "OTEL_EXPORTER_OTLP_ENDPOINT"
    )
    return bool((endpoint or "").strip()) or "otlp" in exporters


def configure_from_env() -> SdkTracerProvider | None:
    """Install an SDK TracerProvider exporting OTLP over HTTP (protobuf) in batches when the
    standard variables ask for it (:func:`wanted`); otherwise install nothing and return None.

    The exporter reads ``OTEL_EXPORTER_OTLP_[TRACES_]ENDPOINT``, ``_HEADERS``, ``_TIMEOUT``,
    ``_CERTIFICATE`` and ``_COMPRESSION``; the resource ``OTEL_RESOURCE_ATTRIBUTES`` and
    ``OTEL_SERVICE_NAME`` (default ``clew``); the sampler ``OTEL_TRACES_SAMPLER[_ARG]`` (default:
    follow the caller's sampling decision, else sample everything)."""
    if not wanted():
        return None
    protocol = os.environ.get("OTEL_EXPORTER_OTLP_TRACES_PROTOCOL") or os.environ.get(
        "OTEL_EXPORTER_OTLP_PROTOCOL", "http/protobuf"
    )
    if protocol.strip() != "http/protobuf":
        _log.warning(
            "tracing stays off: clew exports OTLP over HTTP (http/protobuf), not %r", protocol
        )
        return None
    from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter
    from opentelemetry.sdk.resources import SERVICE_NAME, Resource
    from opentelemetry.sdk.trace import TracerProvider
    from opentelemetry.sdk.trace.export import BatchSpanProcessor

    resource = Resource.create()
    if str(resource.attributes.get(SERVICE_NAME, "")).startswith("unknown_service"):
        resource = resource.merge(Resource({SERVICE_NAME: "clew"}))
    provider = TracerProvider(resource=resource)
    provider.add_span_processor(BatchSpanProcessor(OTLPSpanExporter()))
    install(provider)
    return provider


@contextlib.contextmanager
def from_env() -> Iterator[SdkTracerProvider | None]:
    """:func:`configure_from_env` for the block (a command's run); on the way out, flush and shut
    down what it installed, so queued spans are exported before the process exits."""
    provider = configure_from_env()
    try:
        yield provider
    finally:
        if provider is not None:
            if installed() is provider:
                uninstall()
            provider.shutdown()  # the batch processor exports what is queued first


# -- what spans say ------------------------------------------------------------------------------


def safe_url(url: str) -> str:
    """``url`` without userinfo (a user name or password may be a token)."""
    try:
        parts = urllib.parse.urlsplit(url)
    except ValueError:
        return _USERINFO.sub(r"\1", url)
    if not parts.scheme or "@" not in parts.netloc:
        return url
    return urllib.parse.urlunsplit(parts._replace(netloc=parts.netloc.rpartition("@")[2]))


def scrub(message: str) -> str:
    """A message fit for a span: URL userinfo removed, and cut to a readable length."""
    text = _USERINFO.sub(r"\1", message)
    return text if len(text) <= _MESSAGE_LIMIT else text[: _MESSAGE_LIMIT - 1] + "…"


def fail(span: trace.Span, reason: str, message: str = "") -> None:
    """Mark ``span`` failed: status ERROR with ``reason: message`` (scrubbed)."""
    description = f"{reason}: {message}" if message else reason
    span.set_status(Status(StatusCode.ERROR, scrub(description)))


def record_counts(span: trace.Span, counts: Mapping[str, int]) -> None:
    """``clew.objects.<action>`` for each counted action (``counts`` keyed by action value)."""
    for action in COUNTED:
        span.set_attribute(f"clew.objects.{action}", int(counts.get(action, 0)))


def record_outcome(
    span: trace.Span,
    *,
    reason: str,
    message: str = "",
    revision: str = "",
    counts: Mapping[str, int] | None = None,
) -> None:
    """The end of a sync or reconcile: ``clew.result`` (``Succeeded`` or the failing reason),
    the revision and counts when known, and status ERROR with the message when it failed."""
    span.set_attribute(RESULT, reason or SUCCEEDED)
    if revision:
        span.set_attribute(REVISION, revision)
    if counts is not None:
        record_counts(span, counts)
    if reason and reason != SUCCEEDED:
        fail(span, reason, message)


def remote_parent(traceparent: str | None) -> Context | None:
    """The context of a W3C ``traceparent`` (e.g. from a webhook), for a span to continue the
    caller's trace; None when there is none or it is not valid."""
    if not traceparent:
        return None
    context = TraceContextTextMapPropagator().extract({"traceparent": traceparent})
    valid = trace.get_current_span(context).get_span_context().is_valid
    return context if valid else None


def current_ids() -> tuple[str, str] | None:
    """``(trace_id, span_id)`` in hex of the span in progress, or None (tracing off, or no span)."""
    context = trace.get_current_span().get_span_context()
    if not context.is_valid:
        return None
    return trace.format_trace_id(context.trace_id), trace.format_span_id(context.span_id)


__all__ = [
    "APPLICATION",
    "COUNTED",
    "INVENTORY",
    "REPOSITORY",
    "RESULT",
    "REVISION",
    "SUCCEEDED",
    "TRACER",
    "configure_from_env",
    "current_ids",
    "fail",
    "from_env",
    "install",
    "installed",
    "record_counts",
    "record_outcome",
    "remote_parent",
    "safe_url",
    "scrub",
    "shutdown",
    "uninstall",
    "using",
    "wanted",
]
