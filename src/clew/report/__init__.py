"""Reporting: what clew tells the outside world about its work — status conditions
(:mod:`~clew.report.conditions`), sync history (:mod:`~clew.report.history`), Kubernetes Events
(:mod:`~clew.report.events`) and Prometheus metrics (:mod:`~clew.report.metrics`).

The metrics are imported on first use: ``clew apply`` imports :mod:`~clew.report.tracing`
through this package and must not load the Prometheus client before its first request
(start-up time, tests/unit/test_cli_start.py)."""

from __future__ import annotations

import typing as _typing

from clew.model import lazy

if _typing.TYPE_CHECKING:
    from clew.report.metrics import METRIC_NAMES, Metrics, WebhookOutcome

__all__ = ["METRIC_NAMES", "Metrics", "WebhookOutcome"]


__getattr__ = lazy.exports(__name__, {name: "metrics" for name in __all__}, globals())
