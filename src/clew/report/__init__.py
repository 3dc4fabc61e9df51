"""Reporting: what clew tells the outside world about its work — status conditions
(:mod:`~clew.report.conditions`), sync history (:mod:`~clew.report.history`), Kubernetes Events
(:mod:`~clew.report.events`) and Prometheus metrics (:mod:`~clew.report.metrics`).

The metrics are imported on first use: ``clew apply`` imports :mod:`~clew.report.tracing`
through this package and must not load the Prometheus client before its first request
(start-up time, tests/unit/test_cli_start.py)."""

from __future__ import annotations

import importlib
import typing as _typing

if _typing.TYPE_CHECKING:
    from clew.report.metrics import METRIC_NAMES, Metrics, WebhookOutcome

__all__ = ["METRIC_NAMES", "Metrics", "WebhookOutcome"]


def __getattr__(name: str) -> object:
    if name not in __all__:
        raise AttributeError(f"module 'clew.report' has no attribute {name!r}")
    value = getattr(importlib.import_module("clew.report.metrics"), name)
    globals()[name] = value
    return value
