"""Kubernetes Events (events.k8s.io/v1) about Applications: one per sync outcome and per drift
correction. Identical events for one object within a minute are sent once, so a failing
Application retrying with backoff does not flood the namespace. An Event recorded inside a traced
reconcile carries the trace id (annotation ``clew.dev/trace-id``), to find the trace from it."""

from __future__ import annotations

import datetime as dt
import socket
import time
from typing import Any

from clew.cluster import Cluster, ClusterError
from clew.report.tracing import current_ids

COMPONENT = "clew-controller"
TRACE_ID_ANNOTATION = "clew.dev/trace-id"
_NOTE_LIMIT = 1024
_DEDUPE_SECONDS = 60.0


class EventRecorder:
    def __init__(self, cluster: Cluster, instance: str | None = None) -> None:
        self.cluster = cluster
        self.instance = instance or socket.gethostname()
        self._recent: dict[tuple[str, str, str, str], float] = {}

    async def emit(
        self,
        regarding: dict[str, Any],
        *,
        type_: str,
        reason: str,
        note: str,
        action: str,
        annotations: dict[str, str] | None = None,
    ) -> bool:
        """Record an event; returns False when deduplicated or the API refused it (events are
        best effort: they must never fail a sync)."""
        meta = regarding.get("metadata") or {}
        key = (str(meta.get("uid")), type_, reason, note)
        now = time.monotonic()
        if now - self._recent.get(key, -_DEDUPE_SECONDS) < _DEDUPE_SECONDS:
            return False
        self._recent = {k: t for k, t in self._recent.items() if now - t < _DEDUPE_SECONDS}
        self._recent[key] = now
        namespace = meta.get("namespace") or "default"
        annotations = dict(annotations or {})
        if ids := current_ids():
            annotations[TRACE_ID_ANNOTATION] = ids[0]
        event = {
            "apiVersion": "events.k8s.io/v1",
            "kind": "Event",
            "metadata": {
                "generateName": f"{meta.get('name', 'clew')}-",  # a prefix may not end with "."
                "namespace": namespace,
                "annotations": annotations,
            },
            "eventTime": dt.datetime.now(dt.UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ"),
            "reportingController": f"clew.dev/{COMPONENT}",
            "reportingInstance": self.instance[:128],
            "action": action,
            "reason": reason,
            "note": note[:_NOTE_LIMIT],
            "type": type_,
            "regarding": {
                "apiVersion": regarding.get("apiVersion"),
                "kind": regarding.get("kind"),
                "name": meta.get("name"),
                "namespace": namespace,
                "uid": meta.get("uid"),
                "resourceVersion": meta.get("resourceVersion"),
            },
        }
        try:
            await self.cluster.create(event)
        except ClusterError:
            return False
        return True
