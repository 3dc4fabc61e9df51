"""Normalisation before comparing or diffing: drop what the server owns and what changes on every
write (managedFields, status, resourceVersion, uid, generation, timestamps), so a diff shows only
what a user would call a change."""

from __future__ import annotations

import copy
from typing import Any

_SERVER_METADATA = (
    "managedFields",
    "resourceVersion",
    "uid",
    "generation",
    "creationTimestamp",
    "deletionTimestamp",
    "deletionGracePeriodSeconds",
    "selfLink",
)
_SERVER_ANNOTATIONS = (
    "kubectl.kubernetes.io/last-applied-configuration",
    "deployment.kubernetes.io/revision",
)


def normalize(obj: dict[str, Any] | None) -> dict[str, Any] | None:
    """A copy of ``obj`` without server-owned fields; ``None`` stays ``None``."""
    if obj is None:
        return None
    out = copy.deepcopy(obj)
    out.pop("status", None)
    meta = out.get("metadata")
    if isinstance(meta, dict):
        for key in _SERVER_METADATA:
            meta.pop(key, None)
        annotations = meta.get("annotations")
        if isinstance(annotations, dict):
            for key in _SERVER_ANNOTATIONS:
                annotations.pop(key, None)
            if not annotations:
                meta.pop("annotations")
        if not meta.get("labels"):
            meta.pop("labels", None)
    return out
