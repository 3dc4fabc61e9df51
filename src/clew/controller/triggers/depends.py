"""A dependency becoming Ready starts its dependants: which Applications name one in
``dependsOn`` (its namespace defaults to the dependant's own)."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from clew.controller.api.spec import AppKey

__all__ = ["dependants"]


def dependants(apps: Iterable[dict[str, Any]], key: AppKey) -> list[AppKey]:
    out = []
    for app in apps:
        for dep in (app.get("spec") or {}).get("dependsOn") or []:
            namespace = dep.get("namespace") or app["metadata"]["namespace"]
            if (namespace, dep.get("name")) == (key.namespace, key.name):
                out.append(AppKey.of(app))
    return out
