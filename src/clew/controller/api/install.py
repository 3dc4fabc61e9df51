"""The manifests that install the clew controller: ``clew install --export``.

Least privilege, in three grants:

- ``clew-controller`` (ClusterRole) is what the controller needs for itself: its Applications,
  Events, ``get`` on Secrets it reads credentials from (no list, no watch), ``get`` on Namespaces
  (their tenancy annotations), and impersonating ServiceAccounts (Impersonate-User only; the API
  server adds their groups). With secure metrics, TokenReviews and SubjectAccessReviews too. Its
  leader-election Lease is granted by a Role in its own namespace only.
- ``clew-controller-apply`` (ClusterRole) is what applying arbitrary manifests needs, and so the
  widest grant: every resource, the verbs of apply, prune and watch. It is bound cluster-wide only
  when the administrator opts in (``cluster_admin=True``, ``clew install --cluster-admin``).
  Otherwise Applications apply as ServiceAccounts (``spec.serviceAccountName``, or the
  controller's ``--default-service-account``), whose RBAC decides what they touch; their drift
  is watched as those accounts too, so the controller needs no list/watch on managed kinds.
- ``clew-controller-audit`` (ClusterRole) lets the controller keep each Application's audit trail
  (ConfigMaps ``clew-audit-<name>``, docs/audit.md): get, create and patch ConfigMaps. Never
  bound here: the cluster-wide apply role covers it; without that, an administrator binds it in
  each namespace holding Applications.

Webhook secrets come from the Secret ``clew-webhooks`` (keys ``github``, ``gitlab``,
``generic``; each optional, a missing one disables that receiver). ``/metrics`` listens on the
Pod's localhost only unless ``metrics_secure``: then on port 8443 of the Pod, HTTPS, for callers
that ``clew-metrics-reader`` is bound to. The Service exposes the webhook port alone.

Objects come in apply order: the CRDs (Application first, NotificationPolicy after the
Namespace) before anything that uses them.
"""

from __future__ import annotations

import json
import re
from typing import Any

from clew import __version__
from clew.controller.api.appset_crd import APPLICATION_SET_CRD
from clew.controller.api.appset_crd import PLURAL as APPSET_PLURAL
from clew.controller.api.crd import APPLICATION_CRD
from clew.controller.api.notification_crd import NOTIFICATION_POLICY_CRD
from clew.controller.api.rules import DNS_LABEL_MAX, DNS_LABEL_RE, DNS_SUBDOMAIN_RE
from clew.controller.api.spec import GROUP, PLURAL
from clew.model import ClewError
from clew.notify.policy import PLURAL as POLICY_PLURAL

__all__ = [
    "APPLY_ROLE",
    "AUDIT_ROLE",
    "CONTROLLER",
    "DEFAULT_IMAGE",
    "DEFAULT_NAMESPACE",
    "HTTP_PORT",
    "METRICS_PORT",
    "METRICS_READER",
    "WEBHOOK_SECRET",
    "manifests",
]

DEFAULT_NAMESPACE = "clew-system"
DEFAULT_IMAGE = f"ghcr.io/clew-dev/clew:{__version__}"
CONTROLLER = "clew-controller"  # ServiceAccount, ClusterRole, Role, Deployment, Service
APPLY_ROLE = "clew-controller-apply"
AUDIT_ROLE = "clew-controller-audit"
HTTP_PORT = 8080  # webhook receivers, /healthz, /readyz: the only public port
METRICS_PORT = 8443  # /metrics with --metrics-secure (else 127.0.0.1:8081, never exposed)
METRICS_READER = "clew-metrics-reader"
WEBHOOK_SECRET = "clew-webhooks"  # noqa: S105 - the name of a Secret, not a secret
_WEBHOOK_KEYS = {
    "CLEW_WEBHOOK_GITHUB_SECRET": "github",
    "CLEW_WEBHOOK_GITLAB_TOKEN": "gitlab",
    "CLEW_WEBHOOK_GENERIC_SECRET": "generic",
}

_LABELS = {"app.kubernetes.io/name": "clew", "app.kubernetes.io/part-of": "clew"}
_SELECTOR = {"app.kubernetes.io/name": "clew", "app.kubernetes.io/component": "controller"}
_UID = 65532  # "nonroot" in distroless images

Obj = dict[str, Any]


def manifests(
    namespace: str = DEFAULT_NAMESPACE,
    image: str = DEFAULT_IMAGE,
    replicas: int = 2,
    *,
    cluster_admin: bool = False,
    metrics_secure: bool = False,
    default_service_account: str | None = None,
    no_cross_namespace_refs: bool = False,
    webhook_secret: str = WEBHOOK_SECRET,
) -> list[Obj]:
    """Every object of an installation, in apply order (CRD and Namespace first).

    A PodDisruptionBudget keeps one replica through voluntary disruptions when there are two or
    more (with one, it would block node drains forever).
    """
    for label, value in (("ServiceAccount", default_service_account), ("Secret", webhook_secret)):
        if value is not None and not re.fullmatch(DNS_SUBDOMAIN_RE, value):
            raise ClewError(f"{label} name {value!r} is not a DNS name")
    args = ["controller", "--leader-elect"]
    if default_service_account:
        args.append(f"--default-service-account={default_service_account}")
    if no_cross_namespace_refs:
        args.append("--no-cross-namespace-refs")
    if metrics_secure:
        args += [f"--metrics-bind-address=:{METRICS_PORT}", "--metrics-secure"]
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
        APPLICATION_SET_CRD,
        _meta("v1", "ServiceAccount", CONTROLLER, namespace),
        _controller_role(metrics_secure),
        _apply_role(),
        _audit_role(),
        *([_metrics_reader_role()] if metrics_secure else []),
        _cluster_binding(CONTROLLER, CONTROLLER, namespace),
        *([_cluster_binding(APPLY_ROLE, APPLY_ROLE, namespace)] if cluster_admin else []),
        _lease_role(namespace),
        _lease_binding(namespace),
        _deployment(namespace, image, replicas, args, webhook_secret, metrics_secure),
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


def _controller_role(metrics_secure: bool) -> Obj:
    # Secure metrics ask the API server who a scraper is and whether it may read /metrics.
    reviews = [
        _rule(["authentication.k8s.io"], ["tokenreviews"], ["create"]),
        _rule(["authorization.k8s.io"], ["subjectaccessreviews"], ["create"]),
    ]
    return {
        **_meta("rbac.authorization.k8s.io/v1", "ClusterRole", CONTROLLER),
        "rules": [
            # Applications in every namespace: read, and patch for finalizers and pins; create
            # and delete only those an ApplicationSet generates (docs/applicationsets.md).
            _rule(
                [GROUP], [PLURAL], ["get", "list", "watch", "create", "patch", "update", "delete"]
            ),
            _rule([GROUP], [f"{PLURAL}/status"], ["get", "patch", "update"]),
            # Owner references with blockOwnerDeletion need update on the owner's finalizers.
            _rule([GROUP], [f"{PLURAL}/finalizers"], ["update"]),
            # NotificationPolicies (docs/notifications.md): read, and write their status only.
            _rule([GROUP], [POLICY_PLURAL], ["get", "list", "watch"]),
            _rule([GROUP], [f"{POLICY_PLURAL}/status"], ["get", "patch", "update"]),
            # ApplicationSets: read, and write their status only.
            _rule([GROUP], [APPSET_PLURAL], ["get", "list", "watch"]),
            _rule([GROUP], [f"{APPSET_PLURAL}/status"], ["get", "patch"]),
            _rule([""], ["events"], ["create", "patch"]),
            _rule(["events.k8s.io"], ["events"], ["create", "patch"]),
            # Git credentials (spec.source.secretRef), signer keys (spec.source.verify) and
            # notification tokens live in Secrets next to each Application, in any namespace.
            # Each is read by name when used. Helm values (spec.render.helm.valuesFrom) come
            # from Secrets and ConfigMaps the same way. List only for the ApplicationSet
            # clusters generator, which lists the metadata of Secrets labelled
            # clew.dev/cluster=true in a set's namespace (docs/applicationsets.md); never watch.
            _rule([""], ["secrets"], ["get", "list"]),
            _rule([""], ["configmaps"], ["get"]),
            # Tenancy: the allowed destinations are annotations of the Application's namespace.
            _rule([""], ["namespaces"], ["get"]),
            # Apply as the Application's ServiceAccount, with its permissions only (users and
            # groups are never impersonated: the API server adds the account's groups).
            _rule([""], ["serviceaccounts"], ["impersonate"]),
            *(reviews if metrics_secure else []),
        ],
    }


def _metrics_reader_role() -> Obj:
    # Bind it to Prometheus' ServiceAccount to let it scrape the secure /metrics.
    return {
        **_meta("rbac.authorization.k8s.io/v1", "ClusterRole", METRICS_READER),
        "rules": [{"nonResourceURLs": ["/metrics"], "verbs": ["get"]}],
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
            # list: shard members find each other's Leases (--sharding)
            _rule(
                ["coordination.k8s.io"],
                ["leases"],
                ["get", "list", "create", "update", "patch", "delete"],
            )
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


def _secret_env(name: str, secret: str, key: str) -> Obj:
    ref = {"name": secret, "key": key, "optional": True}  # absent: that receiver is off
    return {"name": name, "valueFrom": {"secretKeyRef": ref}}


def _deployment(
    namespace: str,
    image: str,
    replicas: int,
    args: list[str],
    webhook_secret: str,
    metrics_secure: bool,
) -> Obj:
    probe = {"httpGet": {"port": "http"}, "periodSeconds": 10, "timeoutSeconds": 2}
    ports = [{"name": "http", "containerPort": HTTP_PORT, "protocol": "TCP"}]
    if metrics_secure:
        ports.append({"name": "metrics", "containerPort": METRICS_PORT, "protocol": "TCP"})
    container = {
        "name": "controller",
        "image": image,
        "args": args,
        "ports": ports,
        "env": [
            _field_env("POD_NAME", "metadata.name"),  # leader-election identity
            _field_env("POD_NAMESPACE", "metadata.namespace"),  # where the Lease lives
            *(_secret_env(env, webhook_secret, key) for env, key in _WEBHOOK_KEYS.items()),
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
