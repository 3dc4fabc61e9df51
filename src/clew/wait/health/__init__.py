"""Health of one object as a pure function of that object, with kstatus semantics.

:func:`compute` runs the rules shared by every kind (deletion, generation, ``Stalled`` and
``Reconciling``), then the rule registered for the object's (group, kind) in :data:`RULES`, then
the generic ``Ready``-condition rule. Each kind's rule lives in its own small module; where clew
departs from kstatus, that module's docstring says so and why.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import Any

from clew.model import Health, HealthResult
from clew.wait.health.crd import crd
from clew.wait.health.daemonset import daemonset
from clew.wait.health.deployment import deployment
from clew.wait.health.generic import check_generic, fallback
from clew.wait.health.job import job
from clew.wait.health.namespace import namespace
from clew.wait.health.pod import pod
from clew.wait.health.pvc import pvc
from clew.wait.health.replicaset import replicaset
from clew.wait.health.service import service
from clew.wait.health.statefulset import statefulset

Rule = Callable[[dict[str, Any]], HealthResult]

# Keyed by (API group, kind), never by version: a rule reads fields every served version shares.
# ``extensions`` is kept for manifests from clusters older than 1.16, as kstatus does.
RULES: dict[tuple[str, str], Rule] = {
    ("", "Pod"): pod,
    ("", "Service"): service,
    ("", "PersistentVolumeClaim"): pvc,
    ("", "Namespace"): namespace,
    ("apps", "Deployment"): deployment,
    ("extensions", "Deployment"): deployment,
    ("apps", "StatefulSet"): statefulset,
    ("apps", "DaemonSet"): daemonset,
    ("extensions", "DaemonSet"): daemonset,
    ("apps", "ReplicaSet"): replicaset,
    ("extensions", "ReplicaSet"): replicaset,
    ("batch", "Job"): job,
    ("apiextensions.k8s.io", "CustomResourceDefinition"): crd,
}


def compute(obj: dict[str, Any] | None) -> HealthResult:
    """The health of ``obj``; ``None`` (the object does not exist) is NOT_FOUND."""
    if obj is None:
        return HealthResult(Health.NOT_FOUND, "not found")
    if not isinstance(obj, dict):
        return HealthResult(Health.UNKNOWN, f"not an object: {type(obj).__name__}")
    decided = check_generic(obj)
    if decided is not None:
        return decided
    group = str(obj.get("apiVersion") or "").rpartition("/")[0]
    rule = RULES.get((group, str(obj.get("kind") or "")), fallback)
    return rule(obj)


def worst(results: Iterable[HealthResult]) -> Health:
    """The worst health of ``results`` by :attr:`Health.rank`; CURRENT when there are none."""
    return max((r.health for r in results), key=lambda h: h.rank, default=Health.CURRENT)


__all__ = [
    "RULES",
    "Rule",
    "check_generic",
    "compute",
    "crd",
    "daemonset",
    "deployment",
    "fallback",
    "job",
    "namespace",
    "pod",
    "pvc",
    "replicaset",
    "service",
    "statefulset",
    "worst",
]
