"""Reporting: what clew tells the outside world about its work — status conditions
(:mod:`~clew.report.conditions`), sync history (:mod:`~clew.report.history`), Kubernetes Events
(:mod:`~clew.report.events`) and Prometheus metrics (:mod:`~clew.report.metrics`)."""

from clew.report.metrics import METRIC_NAMES, Metrics, WebhookOutcome

__all__ = ["METRIC_NAMES", "Metrics", "WebhookOutcome"]
