"""How clew names a Kubernetes object: group, kind, namespace, name."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, ClassVar


@dataclass(frozen=True, order=True)
class ObjectRef:
    """Identity of one object. Printed as ``Kind/namespace/name`` (``Kind/name`` when cluster-wide).

    The version is deliberately not part of the identity: ``apps/v1`` and ``apps/v1beta1`` name the
    same stored object.
    """

    # Hashed once, in a slot that is not a field (so not in repr, order or encodings): sets and
    # dicts of refs hash each one many times per sync (millions for a 5,000-object push), and
    # the generated __hash__ would build a tuple on every call.
    __slots__ = ("_hash", "group", "kind", "name", "namespace")
    group: str
    kind: str
    namespace: str
    name: str
    _hash: ClassVar[int]  # per instance (a slot); ClassVar keeps it out of the fields

    def __post_init__(self) -> None:
        object.__setattr__(self, "_hash", hash((self.group, self.kind, self.namespace, self.name)))

    def __hash__(self) -> int:
        return self._hash

    def __reduce__(self) -> tuple[type[ObjectRef], tuple[str, str, str, str]]:
        # String hashes differ between processes: rebuild, so the hash is computed again.
        return (ObjectRef, (self.group, self.kind, self.namespace, self.name))

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
