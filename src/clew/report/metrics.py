"""Prometheus metrics of the controller, in a registry of its own.

Each :class:`Metrics` owns a ``CollectorRegistry`` rather than using the global one, so tests and
two controllers in one process do not collide. Callers use the small typed methods below and never
handle metric objects or label names. :data:`METRIC_NAMES` lists every family exported (as named
in the exposition), so dashboards and alerts can be checked against it.
"""

from __future__ import annotations

import contextlib
import enum
from collections.abc import Mapping

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram
from prometheus_client.exposition import choose_encoder
from prometheus_client.gc_collector import GCCollector
from prometheus_client.platform_collector import PlatformCollector
from prometheus_client.process_collector import ProcessCollector

from clew.model import Action, Health

__all__ = ["METRIC_NAMES", "Metrics", "NotificationOutcome", "WebhookOutcome"]

# A reconcile takes from tens of milliseconds (nothing changed) to the 10-minute timeout.
RECONCILE_BUCKETS = (0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0, 120.0, 300.0, 600.0)
# A fetch is an ls-remote hit in milliseconds, or a clone of a large repository in minutes.
FETCH_BUCKETS = (0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0, 120.0, 300.0)

METRIC_NAMES: tuple[str, ...] = (
    "clew_reconcile_duration_seconds",
    "clew_reconcile_total",
    "clew_queue_depth",
    "clew_objects_applied_total",
    "clew_objects_pruned_total",
    "clew_drift_corrections_total",
    "clew_drift_detected_total",
    "clew_drift_informers",
    "clew_fetch_duration_seconds",
    "clew_application_ready",
    "clew_webhook_requests_total",
    "clew_leader",
    "clew_notifications_total",
    "clew_application_objects",
    "clew_application_objects_out_of_sync",
    "clew_application_last_sync_timestamp_seconds",
    "clew_shard_members",
    "clew_shard_applications",
)

_APPLIED = (Action.CREATED, Action.CONFIGURED, Action.UNCHANGED)


class WebhookOutcome(enum.StrEnum):
    TRIGGERED = "triggered"  # authenticated push handed to the controller
    IGNORED = "ignored"  # authenticated, but not an event we act on (ping, merge request...)
    UNAUTHORIZED = "unauthorized"  # missing or wrong signature/token, stale timestamp
    REPLAYED = "replayed"  # a delivery already accepted
    INVALID = "invalid"  # malformed body or headers, or too large
    ERROR = "error"  # authenticated push, but triggering failed inside the controller


class NotificationOutcome(enum.StrEnum):
    SENT = "sent"  # the target accepted it (2xx)
    FAILED = "failed"  # refused (4xx), attempts used up, or the target is misconfigured
    DROPPED = "dropped"  # the target's queue was full: the oldest waiting notice was dropped
    DEDUPLICATED = "deduplicated"  # a repeat within the policy's window: not sent
    SKIPPED = "skipped"  # nothing to send to this target (a commit status for drift)


class Metrics:
    """The controller's metric families. ``runtime`` adds the standard process, platform and GC
    collectors (``process_*``, ``python_*``) to the same registry."""

    def __init__(self, *, runtime: bool = True) -> None:
        self.registry = CollectorRegistry()
        r = self.registry
        self._reconcile_seconds = Histogram(
            "clew_reconcile_duration_seconds",
            "Duration of one reconcile of an Application, by result.",
            ["result"],
            buckets=RECONCILE_BUCKETS,
            registry=r,
        )
        self._reconciles = Counter(
            "clew_reconcile_total", "Reconciles finished, by result.", ["result"], registry=r
        )
        self._queue_depth = Gauge(
            "clew_queue_depth", "Application keys waiting in the work queue.", registry=r
        )
        self._applied = Counter(
            "clew_objects_applied_total",
            "Objects server-side applied, by action.",
            ["action"],
            registry=r,
        )
        self._pruned = Counter("clew_objects_pruned_total", "Objects pruned.", registry=r)
        self._drift_corrected = Counter(
            "clew_drift_corrections_total", "Drifted objects reverted (self-heal).", registry=r
        )
        self._drift_detected = Counter(
            "clew_drift_detected_total", "Changes to managed objects made by others.", registry=r
        )
        self._fetch_seconds = Histogram(
            "clew_fetch_duration_seconds",
            "Duration of fetching a source revision, by result.",
            ["result"],
            buckets=FETCH_BUCKETS,
            registry=r,
        )
        self._ready = Gauge(
            "clew_application_ready",
            "1 when the Application's Ready condition is True, else 0.",
            ["namespace", "name"],
            registry=r,
        )
        self._webhooks = Counter(
            "clew_webhook_requests_total",
            "Webhook requests received, by provider and outcome.",
            ["provider", "outcome"],
            registry=r,
        )
        self._leader = Gauge("clew_leader", "1 while this replica holds the lease.", registry=r)
        self._drift_informers = Gauge(
            "clew_drift_informers",
            "Drift informers running, by API server (0 series: none left on that cluster).",
            ["cluster"],
            registry=r,
        )
        self._shard_members = Gauge(
            "clew_shard_members", "Live replicas this replica shards over.", registry=r
        )
        self._shard_apps = Gauge(
            "clew_shard_applications", "Applications this replica's shard owns.", registry=r
        )
        self._notifications = Counter(
            "clew_notifications_total",
            "Notifications, by target type and outcome.",
            ["target_type", "outcome"],
            registry=r,
        )
        # Per Application: labelled by namespace and name only (plus health's fixed six values),
        # so the series grow with Applications, never with their objects.
        self._objects = Gauge(
            "clew_application_objects",
            "Managed objects at the last sync, by health (kstatus).",
            ["namespace", "name", "health"],
            registry=r,
        )
        self._out_of_sync = Gauge(
            "clew_application_objects_out_of_sync",
            "Managed objects not Synced at the last sync (OutOfSync, Drifted, PrunePending).",
            ["namespace", "name"],
            registry=r,
        )
        self._last_sync = Gauge(
            "clew_application_last_sync_timestamp_seconds",
            "When the last sync of the Application finished (any result), Unix time.",
            ["namespace", "name"],
            registry=r,
        )
        for action in _APPLIED:  # present from the start, so rate() sees the first increment
            self._applied.labels(action.value)
        if runtime:
            ProcessCollector(registry=r)
            PlatformCollector(registry=r)
            GCCollector(registry=r)

    def observe_reconcile(self, result: str, seconds: float) -> None:
        """One reconcile finished; ``result`` is its condition reason (``Succeeded``, ...)."""
        self._reconcile_seconds.labels(result).observe(seconds)
        self._reconciles.labels(result).inc()

    def observe_fetch(self, result: str, seconds: float) -> None:
        """One fetch finished; ``result`` is ``succeeded`` or the failure's short name."""
        self._fetch_seconds.labels(result).observe(seconds)

    def set_queue_depth(self, depth: int) -> None:
        self._queue_depth.set(depth)

    def objects_applied(self, action: Action, count: int = 1) -> None:
        if action not in _APPLIED:
            raise ValueError(f"{action.value} is not an apply action")
        self._applied.labels(action.value).inc(count)

    def objects_pruned(self, count: int = 1) -> None:
        self._pruned.inc(count)

    def record_changes(self, counts: Mapping[Action, int]) -> None:
        """Count a change set (``ChangeSet.counts()``): applied actions and deletions (prunes)."""
        for action in _APPLIED:
            if counts.get(action):
                self.objects_applied(action, counts[action])
        if counts.get(Action.DELETED):
            self.objects_pruned(counts[Action.DELETED])

    def drift_detected(self, count: int = 1) -> None:
        self._drift_detected.inc(count)

    def drift_corrected(self, count: int = 1) -> None:
        self._drift_corrected.inc(count)

    def set_application_ready(self, namespace: str, name: str, ready: bool) -> None:
        self._ready.labels(namespace, name).set(1 if ready else 0)

    def set_application_objects(
        self, namespace: str, name: str, by_health: Mapping[str, int], out_of_sync: int
    ) -> None:
        """The Application's objects by health (every kstatus value, zeros included) and how
        many are not in sync."""
        for health in Health:
            self._objects.labels(namespace, name, health.value).set(by_health.get(health.value, 0))
        self._out_of_sync.labels(namespace, name).set(out_of_sync)

    def set_last_sync(self, namespace: str, name: str, when: float) -> None:
        self._last_sync.labels(namespace, name).set(when)

    def forget_application(self, namespace: str, name: str) -> None:
        """Remove a deleted Application's series (no stale 0 left behind)."""
        for gauge in (self._ready, self._out_of_sync, self._last_sync):
            with contextlib.suppress(KeyError):
                gauge.remove(namespace, name)
        for health in Health:
            with contextlib.suppress(KeyError):
                self._objects.remove(namespace, name, health.value)

    def webhook_request(self, provider: str, outcome: WebhookOutcome) -> None:
        self._webhooks.labels(provider, outcome.value).inc()

    def notification(self, target_type: str, outcome: NotificationOutcome) -> None:
        self._notifications.labels(target_type, outcome.value).inc()

    def set_drift_informers(self, counts: Mapping[str, int]) -> None:
        self._drift_informers.clear()  # a cluster let go leaves no series behind
        for server, count in counts.items():
            self._drift_informers.labels(server).set(count)

    def set_leader(self, leading: bool) -> None:
        self._leader.set(1 if leading else 0)

    def set_shard(self, members: int, owned: int) -> None:
        self._shard_members.set(members)
        self._shard_apps.set(owned)

    def exposition(self, accept: str | None = None) -> tuple[bytes, str]:
        """The registry in the format ``accept`` asks for (OpenMetrics or Prometheus text), and
        its content type."""
        encoder, content_type = choose_encoder(accept or "")
        return encoder(self.registry), content_type
