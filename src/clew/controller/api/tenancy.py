"""Multi-tenancy: what an Application may reach, checked before anything is read or applied.

Three rules, as Flux and Argo CD users know them:

- **Who applies** (``--default-service-account NAME``, Flux's flag of that name): an Application
  without ``spec.serviceAccountName`` applies as ServiceAccount ``NAME`` of its own namespace,
  never as the controller. RBAC of that account is then the outer fence.
- **No cross-namespace references** (``--no-cross-namespace-refs``): ``dependsOn`` must stay in
  the Application's namespace (credentials Secrets always do: ``secretRef`` has no namespace).
- **Allowed destinations** (Argo CD's AppProject destinations, as annotations on the
  Application's *namespace*, which tenants usually cannot edit)::

      clew.dev/allowed-destinations: "team-a,team-a-preview"   # or "*"
      clew.dev/allowed-cluster-kinds: "Namespace,rbac.authorization.k8s.io/ClusterRole"

  A namespace carrying either annotation is restricted: its Applications may apply namespaced
  objects only in the listed namespaces (their own always counts) and cluster-scoped objects only
  of the listed kinds (``Kind`` in any group, ``group/Kind`` in one; none when unset); a
  ``Namespace`` object must also be one of the allowed namespaces. The
  destination is checked before the sync starts, every rendered object (after namespace
  defaulting, so a Kustomize ``namespace:`` counts), every Helm hook and every object prune
  would delete before the first write; so are what the finalizer would delete and the delete
  hooks it would run when the Application is deleted
  (refused: nothing is deleted, the finalizer stays). A namespace without
  either annotation is unrestricted.

Refusals are typed (:class:`Refusal`): a status reason and a message naming what was refused.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from clew.cluster import Cluster, Forbidden, NotFound
from clew.controller.api.spec import AppSpec
from clew.model import ObjectRef, Reason

__all__ = [
    "ALLOWED_CLUSTER_KINDS",
    "ALLOWED_DESTINATIONS",
    "Destinations",
    "Refusal",
    "Tenancy",
    "destinations",
]

ALLOWED_DESTINATIONS = "clew.dev/allowed-destinations"
ALLOWED_CLUSTER_KINDS = "clew.dev/allowed-cluster-kinds"
CROSS_NAMESPACE_REF = Reason.CROSS_NAMESPACE_REF
DESTINATION_NOT_ALLOWED = Reason.DESTINATION_NOT_ALLOWED
_LISTED = 5  # objects named in a message; the rest are counted


@dataclass(frozen=True, slots=True)
class Refusal:
    reason: str
    message: str


@dataclass(frozen=True, slots=True)
class Tenancy:
    """The controller-wide tenancy flags."""

    default_service_account: str | None = None
    no_cross_namespace_refs: bool = False

    def service_account(self, spec: AppSpec) -> str | None:
        """The ServiceAccount (of the Application's namespace) to apply as; None: the controller."""
        return spec.service_account_name or self.default_service_account

    def check_refs(self, spec: AppSpec) -> Refusal | None:
        if not self.no_cross_namespace_refs:
            return None
        foreign = [
            f"{d.namespace}/{d.name}" for d in spec.depends_on if d.namespace != spec.key.namespace
        ]
        if not foreign:
            return None
        return Refusal(
            CROSS_NAMESPACE_REF,
            f"dependsOn {', '.join(foreign)}: cross-namespace references are disabled "
            f"(--no-cross-namespace-refs); depend on Applications in {spec.key.namespace}",
        )


@dataclass(frozen=True, slots=True)
class Destinations:
    """Where an Application of ``namespace`` may apply; ``namespaces=None``: anywhere."""

    namespace: str
    namespaces: frozenset[str] | None = None
    cluster_kinds: frozenset[str] = frozenset({"*"})
    unknown: str = ""  # why the rules could not be read: then everything is refused

    @classmethod
    def of(cls, namespace: str, annotations: Mapping[str, str]) -> Destinations:
        if ALLOWED_DESTINATIONS not in annotations and ALLOWED_CLUSTER_KINDS not in annotations:
            return cls(namespace)
        listed = _split(annotations.get(ALLOWED_DESTINATIONS, ""))
        return cls(
            namespace,
            None if "*" in listed else frozenset({namespace, *listed}),
            frozenset(_split(annotations.get(ALLOWED_CLUSTER_KINDS, ""))),
        )

    @classmethod
    def unreadable(cls, namespace: str, why: str) -> Destinations:
        return cls(namespace, frozenset(), frozenset(), unknown=why)

    @property
    def restricted(self) -> bool:
        return self.namespaces is not None or "*" not in self.cluster_kinds

    def allows_namespace(self, namespace: str) -> bool:
        return self.namespaces is None or namespace in self.namespaces

    def allows_cluster_kind(self, group: str, kind: str) -> bool:
        kinds = self.cluster_kinds
        return "*" in kinds or kind in kinds or f"{group}/{kind}" in kinds

    def check_destination(self, destination: str) -> Refusal | None:
        if self.unknown:  # fail closed: restrictions we cannot read may exist
            return Refusal(
                DESTINATION_NOT_ALLOWED,
                f"cannot read Namespace {self.namespace} for its allowed destinations: "
                f"{self.unknown} (the controller needs get on namespaces)",
            )
        if self.allows_namespace(destination):
            return None
        return Refusal(
            DESTINATION_NOT_ALLOWED,
            f"destination namespace {destination} is not allowed for Applications in "
            f"{self.namespace} (allowed: {self._allowed()}; annotation {ALLOWED_DESTINATIONS} "
            f"on Namespace {self.namespace})",
        )

    def check_objects(self, refs: Sequence[ObjectRef]) -> Refusal | None:
        """Every object in an allowed namespace, or of an allowed cluster-scoped kind."""
        refused: list[str] = []
        for ref in refs:
            if ref.namespace:
                if not self.allows_namespace(ref.namespace):
                    refused.append(f"{ref} (namespace {ref.namespace})")
            elif not self.allows_cluster_kind(ref.group, ref.kind):
                refused.append(f"{ref} (cluster-scoped {ref.kind})")
            elif (ref.group, ref.kind) == ("", "Namespace") and not self.allows_namespace(ref.name):
                refused.append(f"{ref} (namespace {ref.name})")  # a Namespace is in itself
        if not refused:
            return None
        named = ", ".join(refused[:_LISTED])
        more = f" and {len(refused) - _LISTED} more" if len(refused) > _LISTED else ""
        return Refusal(
            DESTINATION_NOT_ALLOWED,
            f"refused before applying anything: {named}{more} outside what Applications in "
            f"{self.namespace} may touch (namespaces: {self._allowed()}; cluster-scoped kinds: "
            f"{', '.join(sorted(self.cluster_kinds)) or 'none'})",
        )

    def admit(self, refs: list[ObjectRef]) -> str | None:
        """The engine's admission hook (what it would apply or prune): a message, or None."""
        refusal = self.check_objects(refs)
        return refusal.message if refusal else None

    def _allowed(self) -> str:
        return "any" if self.namespaces is None else ", ".join(sorted(self.namespaces))


async def destinations(cluster: Cluster, namespace: str) -> Destinations:
    """The allowed destinations of Applications in ``namespace``, from its annotations."""
    try:
        obj: dict[str, Any] = await cluster.get("v1", "Namespace", namespace)
    except NotFound:  # being deleted: nothing is allowed to grow there
        return Destinations(namespace, frozenset({namespace}), frozenset())
    except Forbidden as exc:
        return Destinations.unreadable(namespace, str(exc))
    annotations = (obj.get("metadata") or {}).get("annotations") or {}
    return Destinations.of(namespace, annotations)


def _split(text: str) -> list[str]:
    return [part.strip() for part in text.split(",") if part.strip()]
