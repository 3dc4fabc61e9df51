"""How clew names a Kubernetes object: group, kind, namespace, name."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True, order=True, slots=True)
class ObjectRef:
    """Identity of one object. Printed as ``Kind/namespace/name`` (``Kind/name`` when cluster-wide).

    The version is deliberately not part of the identity: ``apps/v1`` and ``apps/v1beta1`` name the
    same stored object.
    """

    group: str
    kind: str
    namespace: str
    name: str

    @classmethod
    def from_object(cls, obj: dict[str, Any]) -> ObjectRef:
        api_version = str(obj.get("apiVersion", ""))
        group = api_version.rpartition("/")[0]
        meta = obj.get("metadata") or {}
        return cls(
            group,
            str(obj.get("kind", "")),
            str(meta.get("namespace") or ""),
            str(meta.get("name", "")),
        )

    def __str__(self) -> str:
        if self.namespace:
            return f"{self.kind}/{self.namespace}/{self.name}"
        return f"{self.kind}/{self.name}"
