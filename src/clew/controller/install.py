"""The manifests that install the clew controller: ``clew install --export``.

Least privilege, in three grants:

- ``clew-controller`` (ClusterRole) is what the controller needs for itself: its Applications,
  Events, Secrets it reads credentials from, and impersonating ServiceAccounts. Its leader-election
  Lease is granted by a Role in its own namespace only.
- ``clew-controller-apply`` (ClusterRole) is what applying arbitrary manifests needs, and so the
  widest grant: every resource, the verbs of apply, prune and watch. With
  ``cluster_wide_apply=True`` (the default) it is bound cluster-wide; without, nothing is bound and
  an administrator grants it per namespace (a RoleBinding to the ClusterRole), or each
  Application names a ``serviceAccountName`` to apply as.
- ``clew-controller-audit`` (ClusterRole) lets the controller keep each Application's audit trail
  (ConfigMaps ``clew-audit-<name>``, docs/audit.md): get, create and patch ConfigMaps. Never
  bound here: the cluster-wide apply role covers it; without that, an administrator binds it in
  each namespace holding Applications.

Objects come in apply order: the CRDs (Application first, NotificationPolicy after the
Namespace) before anything that uses them.
"""

from __future__ import annotations

import json
import re
from typing import Any

from clew import __version__
from clew.controller.crd import APPLICATION_CRD
from clew.controller.notification_crd import NOTIFICATION_POLICY_CRD
from clew.controller.spec import DNS_LABEL_MAX, DNS_LABEL_RE, GROUP, PLURAL
from clew.model import ClewError
from clew.notify.policy import PLURAL as POLICY_PLURAL

__all__ = [
    "APPLY_ROLE",
    "AUDIT_ROLE",
    "CONTROLLER",
    "DEFAULT_IMAGE",
    "DEFAULT_NAMESPACE",
    "HTTP_PORT",
    "manifests",
]

DEFAULT_NAMESPACE = "clew-system"
DEFAULT_IMAGE = f"ghcr.io/clew-dev/clew:{__version__}"
CONTROLLER = "clew-controller"  # ServiceAccount, ClusterRole, Role, Deployment, Service
APPLY_ROLE = "clew-controller-apply"
AUDIT_ROLE = "clew-controller-audit"
HTTP_PORT = 8080  # webhook receivers, /metrics, /healthz, /readyz

_LABELS = {"app.kubernetes.io/name": "clew", "app.kubernetes.io/part-of": "clew"}
_SELECTOR = {"app.kubernetes.io/name": "clew", "app.kubernetes.io/component": "controller"}
_UID = 65532  # "nonroot" in distroless images

Obj = dict[str, Any]


def manifests(
    namespace: str = DEFAULT_NAMESPACE,
    image: str = DEFAULT_IMAGE,
    replicas: int = 2,
    *,
    cluster_wide_apply: bool = True,
) -> list[Obj]:
    """Every object of an installation, in apply order (CRD and Namespace first).

    A PodDisruptionBudget keeps one replica through voluntary disruptions when there are two or
    more (with one, it would block node drains forever).
    """
    if not (len(namespace) <= DNS_LABEL_MAX and re.fullmatch(DNS_LABEL_RE, namespace)):
        raise ClewError(
            f"namespace {namespace!r} is not a DNS label", hint="use lowercase letters, digits, -"
        )
    if replicas < 1:
        raise ClewError(f"replicas must be at least 1, not {replicas}")
    if not image or any(c.isspace() for c in image):
        raise ClewError(f"image {image!r} is not an image reference")
    objects = [
        APPLICATION_CRD,
        _meta(
            "v1",
            "Namespace",
            namespace,
            labels={"pod-security.kubernetes.io/enforce": "restricted"},
        ),
        NOTIFICATION_POLICY_CRD,
        _meta("v1", "ServiceAccount", CONTROLLER, namespace),
        _controller_role(),
        _apply_role(),
        _audit_role(),
        _cluster_binding(CONTROLLER, CONTROLLER, namespace),
        *([_cluster_binding(APPLY_ROLE, APPLY_ROLE, namespace)] if cluster_wide_apply else []),
        _lease_role(namespace),
        _lease_binding(namespace),
        _deployment(namespace, image, replicas),
        _service(namespace),
    ]
    if replicas >= 2:
        objects.append(_disruption_budget(namespace))
    # Fresh, unshared dicts: the caller may change them, and YAML dumpers would print shared ones
    # as &anchors/*aliases, which kubectl accepts but people do not read well.
    copied: list[Obj] = json.loads(json.dumps(objects))
    return copied


def _meta(
    api_version: str,
    kind: str,
    name: str,
    namespace: str | None = None,
    labels: dict[str, str] | None = None,
) -> Obj:
    metadata: Obj = {"name": name}
    if namespace:
        metadata["namespace"] = namespace
    metadata["labels"] = {**_LABELS, **(labels or {})}
    return {"apiVersion": api_version, "kind": kind, "metadata": metadata}


def _rule(groups: list[str], resources: list[str], verbs: list[str]) -> Obj:
    return {"apiGroups": groups, "resources": resources, "verbs": verbs}


def _controller_role() -> Obj:
    return {
        **_meta("rbac.authorization.k8s.io/v1", "ClusterRole", CONTROLLER),
        "rules": [
            # Applications in every namespace: read, and patch for finalizers and pins. The
            # controller never creates or deletes them.
            _rule([GROUP], [PLURAL], ["get", "list", "watch", "patch", "update"]),
            _rule([GROUP], [f"{PLURAL}/status"], ["get", "patch", "update"]),
            # Owner references with blockOwnerDeletion need update on the owner's finalizers.
            _rule([GROUP], [f"{PLURAL}/finalizers"], ["update"]),
            # NotificationPolicies (docs/notifications.md): read, and write their status only.
            _rule([GROUP], [POLICY_PLURAL], ["get", "list", "watch"]),
            _rule([GROUP], [f"{POLICY_PLURAL}/status"], ["get", "patch", "update"]),
            _rule([""], ["events"], ["create", "patch"]),
            _rule(["events.k8s.io"], ["events"], ["create", "patch"]),
            # Git credentials (spec.source.secretRef), signer keys (spec.source.verify) and webhook
            # tokens live in Secrets next to each Application, in any namespace; watching them
            # lets a rotated credential take effect without a restart. Read-only.
            _rule([""], ["secrets"], ["get", "list", "watch"]),
            # spec.serviceAccountName: apply as that ServiceAccount, with its permissions only.
            _rule([""], ["serviceaccounts"], ["impersonate"]),
        ],
    }


def _apply_role() -> Obj:
    # The widest grant of the installation, by necessity: an Application may contain any kind.
    # Only the verbs of apply (get, create, patch, update), prune (delete) and drift watches
    # (list, watch); never escalate, bind or impersonate, so the controller cannot grant or
    # assume more than this. Applying RBAC objects that grant more than this role holds is
    # refused by the API server's escalation check; use spec.serviceAccountName for those.
    verbs = ["get", "list", "watch", "create", "patch", "update", "delete"]
    return {
        **_meta("rbac.authorization.k8s.io/v1", "ClusterRole", APPLY_ROLE),
        "rules": [_rule(["*"], ["*"], verbs)],
    }


def _audit_role() -> Obj:
    # The audit trail lives in a ConfigMap next to each Application, written with server-side
    # apply (create, patch) after reading it (get); the garbage collector deletes it, so no delete.
    return {
        **_meta("rbac.authorization.k8s.io/v1", "ClusterRole", AUDIT_ROLE),
        "rules": [_rule([""], ["configmaps"], ["get", "create", "patch"])],
    }


def _subject(namespace: str) -> list[Obj]:
    return [{"kind": "ServiceAccount", "name": CONTROLLER, "namespace": namespace}]


def _cluster_binding(name: str, role: str, namespace: str) -> Obj:
    return {
        **_meta("rbac.authorization.k8s.io/v1", "ClusterRoleBinding", name),
        "roleRef": {"apiGroup": "rbac.authorization.k8s.io", "kind": "ClusterRole", "name": role},
        "subjects": _subject(namespace),
    }


def _lease_role(namespace: str) -> Obj:
    return {
        **_meta("rbac.authorization.k8s.io/v1", "Role", CONTROLLER, namespace),
        "rules": [
            # Leader election: one Lease in this namespace, not cluster-wide.
            _rule(["coordination.k8s.io"], ["leases"], ["get", "create", "update", "patch"])
        ],
    }


def _lease_binding(namespace: str) -> Obj:
    return {
        **_meta("rbac.authorization.k8s.io/v1", "RoleBinding", CONTROLLER, namespace),
        "roleRef": {"apiGroup": "rbac.authorization.k8s.io", "kind": "Role", "name": CONTROLLER},
        "subjects": _subject(namespace),
    }


def _field_env(name: str, path: str) -> Obj:
    return {"name": name, "valueFrom": {"fieldRef": {"fieldPath": path}}}


def _deployment(namespace: str, image: str, replicas: int) -> Obj:
    probe = {"httpGet": {"port": "http"}, "periodSeconds": 10, "timeoutSeconds": 2}
    container = {
        "name": "controller",
        "image": image,
        "args": ["controller", "--leader-elect"],
        "ports": [{"name": "http", "containerPort": HTTP_PORT, "protocol": "TCP"}],
        "env": [
            _field_env("POD_NAME", "metadata.name"),  # leader-election identity
            _field_env("POD_NAMESPACE", "metadata.namespace"),  # where the Lease lives
            # The root filesystem is read-only: Git snapshots and temporary files go to
            # emptyDir volumes.
            {"name": "CLEW_CACHE_DIR", "value": "/var/cache/clew"},
            {"name": "HOME", "value": "/tmp"},  # noqa: S108 - an emptyDir of this pod only
        ],
        "readinessProbe": {**probe, "httpGet": {"path": "/readyz", "port": "http"}},
        "livenessProbe": {
            **probe,
            "httpGet": {"path": "/healthz", "port": "http"},
            "initialDelaySeconds": 10,
            "failureThreshold": 3,
        },
        "resources": {
            "requests": {"cpu": "100m", "memory": "256Mi"},
            "limits": {"cpu": "2", "memory": "1Gi"},
        },
        "securityContext": {
            "allowPrivilegeEscalation": False,
            "readOnlyRootFilesystem": True,
            "runAsNonRoot": True,
            "capabilities": {"drop": ["ALL"]},
            "seccompProfile": {"type": "RuntimeDefault"},
        },
        "volumeMounts": [
            {"name": "cache", "mountPath": "/var/cache/clew"},
            {"name": "tmp", "mountPath": "/tmp"},  # noqa: S108 - an emptyDir, see above
        ],
    }
    return {
        **_meta("apps/v1", "Deployment", CONTROLLER, namespace, labels=_SELECTOR),
        "spec": {
            "replicas": replicas,
            "selector": {"matchLabels": _SELECTOR},
            "template": {
                "metadata": {"labels": {**_LABELS, **_SELECTOR}},
                "spec": {
                    "serviceAccountName": CONTROLLER,
                    "securityContext": {
                        "runAsNonRoot": True,
                        "runAsUser": _UID,
                        "runAsGroup": _UID,
                        "fsGroup": _UID,
                        "seccompProfile": {"type": "RuntimeDefault"},
                    },
                    "containers": [container],
                    "volumes": [
                        {"name": "cache", "emptyDir": {"sizeLimit": "2Gi"}},
                        {"name": "tmp", "emptyDir": {"sizeLimit": "1Gi"}},
                    ],
                    # Spread replicas over nodes, so losing one node does not lose the leader
                    # and its standby together.
                    "topologySpreadConstraints": [
                        {
                            "maxSkew": 1,
                            "topologyKey": "kubernetes.io/hostname",
                            "whenUnsatisfiable": "ScheduleAnyway",
                            "labelSelector": {"matchLabels": _SELECTOR},
                        }
                    ],
                },
            },
        },
    }


def _service(namespace: str) -> Obj:
    return {
        **_meta("v1", "Service", CONTROLLER, namespace, labels=_SELECTOR),
        "spec": {
            "type": "ClusterIP",
            "selector": _SELECTOR,
            "ports": [{"name": "http", "port": 80, "targetPort": "http", "protocol": "TCP"}],
        },
    }


def _disruption_budget(namespace: str) -> Obj:
    return {
        **_meta("policy/v1", "PodDisruptionBudget", CONTROLLER, namespace, labels=_SELECTOR),
        "spec": {"minAvailable": 1, "selector": {"matchLabels": _SELECTOR}},
    }
