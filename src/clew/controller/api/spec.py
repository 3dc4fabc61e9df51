"""The typed spec of an Application, parsed from a plain dict with the CRD's defaults.

An Application reaches clew either from the API server (already defaulted and validated by the
CRD schema) or straight from a user's file (neither). :func:`parse` turns both into the same
:class:`AppSpec`: it applies the schema's defaults and checks what the schema checks, naming the
field (``spec.retry.maxDelay``) when something is wrong. The patterns and defaults below are the
ones :mod:`clew.controller.api.crd` writes into the schema, so the two cannot drift apart.

Two defaults cannot be expressed in a schema and are resolved here, identically for both kinds of
input: ``destination.namespace`` and each ``dependsOn[].namespace`` default to the Application's
own namespace, and ``render.helm.releaseName`` to its name.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from clew.controller.api.fields import (
    Fields,
    InvalidSpec,
)
from clew.controller.api.postbuild import (
    DecryptionSpec,
    PostBuildSpec,
    parse_decryption,
    parse_post_build,
)
from clew.controller.api.rules import (
    CONFIG_KEY_RE,
    DEPENDS_ON_MAX,
    DNS_LABEL_MAX,
    DNS_LABEL_RE,
    DNS_SUBDOMAIN_MAX,
    DNS_SUBDOMAIN_RE,
    REVISION_RE,
)
from clew.controller.api.sources import (
    HelmRepository,
    HelmSpec,
    RenderKind,
    RenderSpec,
    SourceSpec,
    ValuesFrom,
    parse_render,
    parse_source,
)
from clew.model.duration import DURATION_RE as DURATION_RE
from clew.model.duration import parse_duration

__all__ = [
    "API_VERSION",
    "FINALIZER",
    "GROUP",
    "KIND",
    "PLURAL",
    "RECONCILE_ANNOTATION",
    "VERSION",
    "AppKey",
    "AppSpec",
    "DependencyRef",
    "HelmRepository",
    "HelmSpec",
    "InvalidSpec",
    "KubeConfigRef",
    "RenderKind",
    "RenderSpec",
    "RetrySpec",
    "SourceSpec",
    "ValuesFrom",
    "parse",
    "parse_duration",
]

GROUP = "clew.dev"
VERSION = "v1alpha1"
API_VERSION = f"{GROUP}/{VERSION}"
KIND = "Application"
PLURAL = "applications"
# Set by `clew reconcile` and the webhook receivers; a new value asks for a reconcile now.
RECONCILE_ANNOTATION = f"{GROUP}/reconcile-requested-at"
FINALIZER = f"{GROUP}/finalizer"


DEFAULT_INTERVAL = "5m"
DEFAULT_TIMEOUT = "5m"
DEFAULT_INITIAL_DELAY = "5s"
DEFAULT_MAX_DELAY = "5m"
DEFAULT_PRUNE = True
DEFAULT_SELF_HEAL = True
DEFAULT_WAIT = True
DEFAULT_SUSPEND = False
DEFAULT_ADOPT = False
DEFAULT_KUBECONFIG_KEY = "value"  # as Flux


@dataclass(frozen=True, order=True, slots=True)
class AppKey:
    """Identity of one Application; printed ``namespace/name``."""

    namespace: str
    name: str

    @classmethod
    def of(cls, app: Mapping[str, Any]) -> AppKey:
        meta = app.get("metadata") or {}
        return cls(str(meta.get("namespace") or ""), str(meta.get("name") or ""))

    def __str__(self) -> str:
        return f"{self.namespace}/{self.name}"


@dataclass(frozen=True, slots=True)
class DependencyRef:
    """An Application that must be Ready first; ``namespace`` is already defaulted."""

    namespace: str
    name: str

    @property
    def key(self) -> AppKey:
        return AppKey(self.namespace, self.name)


@dataclass(frozen=True, slots=True)
class RetrySpec:
    """Backoff after a failure, in seconds: ``initial_delay`` doubling up to ``max_delay``."""

    initial_delay: float
    max_delay: float


@dataclass(frozen=True, slots=True)
class KubeConfigRef:
    """``destination.kubeConfig.secretRef``: a Secret in the Application's namespace whose
    ``key`` (default ``value``, as Flux) holds a kubeconfig for the destination cluster."""

    name: str
    key: str = DEFAULT_KUBECONFIG_KEY


@dataclass(frozen=True, slots=True)
class AppSpec:
    """Everything an Application asks for, defaults applied; durations in seconds.

    Compared by value, but not hashable (inline Helm values are a mapping): key maps by
    :class:`AppKey`.
    """

    key: AppKey
    source: SourceSpec
    render: RenderSpec
    destination_namespace: str
    interval: float
    timeout: float
    prune: bool
    self_heal: bool
    wait: bool
    suspend: bool
    retry: RetrySpec
    depends_on: tuple[DependencyRef, ...] = ()
    service_account_name: str | None = None
    pin_revision: str | None = None  # set by rollback: apply exactly this commit, not ``ref``
    adopt: bool = DEFAULT_ADOPT  # take over objects another inventory owns
    decryption: DecryptionSpec | None = None  # SOPS keys (controller/api/postbuild.py)
    post_build: PostBuildSpec | None = None  # variable substitution (controller/api/postbuild.py)
    # Another cluster (docs/multi-cluster.md): the Secret and key holding its kubeconfig.
    kube_config: KubeConfigRef | None = None


def parse(app: Mapping[str, Any], *, namespace: str = "default") -> AppSpec:
    """The :class:`AppSpec` of an Application dict, defaults applied; raises :class:`InvalidSpec`.

    ``namespace`` stands in for ``metadata.namespace`` when the dict has none (a file meant for
    ``kubectl apply -n``). Unknown fields under ``spec`` are errors (the API server would drop
    them silently; a typo such as ``selfheal`` should not pass unnoticed).
    """
    if not isinstance(app, Mapping):
        raise InvalidSpec("an Application must be a mapping")
    for field_name, expected in (("apiVersion", API_VERSION), ("kind", KIND)):
        if app.get(field_name) != expected:
            raise InvalidSpec(
                f"must be {expected!r}, not {app.get(field_name)!r}", field=field_name
            )
    root = Fields(app, "")
    meta = root.mapping("metadata", required=True)
    name = meta.required_string("name")
    key = AppKey(meta.string("namespace") or namespace, name)
    spec = root.mapping("spec", required=True)
    spec.only(*_SPEC_FIELDS)
    destination = spec.mapping("destination")
    destination.only("namespace", "kubeConfig")
    pin = spec.mapping("pin")
    pin.only("revision")
    return AppSpec(
        key=key,
        source=parse_source(spec.mapping("source", required=True)),
        render=parse_render(spec.mapping("render"), name),
        destination_namespace=destination.string(
            "namespace", pattern=DNS_LABEL_RE, max_length=DNS_LABEL_MAX
        )
        or key.namespace,
        interval=spec.duration("interval", DEFAULT_INTERVAL),
        timeout=spec.duration("timeout", DEFAULT_TIMEOUT),
        prune=spec.boolean("prune", DEFAULT_PRUNE),
        self_heal=spec.boolean("selfHeal", DEFAULT_SELF_HEAL),
        wait=spec.boolean("wait", DEFAULT_WAIT),
        suspend=spec.boolean("suspend", DEFAULT_SUSPEND),
        retry=_retry(spec.mapping("retry")),
        depends_on=_depends_on(spec, key),
        service_account_name=spec.string(
            "serviceAccountName", pattern=DNS_LABEL_RE, max_length=DNS_LABEL_MAX
        ),
        pin_revision=pin.required_string("revision", pattern=REVISION_RE) if pin.present else None,
        adopt=spec.boolean("adopt", DEFAULT_ADOPT),
        decryption=parse_decryption(spec.mapping("decryption")),
        post_build=parse_post_build(spec.mapping("postBuild")),
        kube_config=_kube_config(destination.mapping("kubeConfig")),
    )


def _kube_config(config: Fields) -> KubeConfigRef | None:
    if not config.present:
        return None
    config.only("secretRef")
    ref = config.mapping("secretRef", required=True)
    ref.only("name", "key")
    name = ref.required_string("name", pattern=DNS_SUBDOMAIN_RE, max_length=DNS_SUBDOMAIN_MAX)
    key = ref.string("key", pattern=CONFIG_KEY_RE, max_length=DNS_SUBDOMAIN_MAX)
    return KubeConfigRef(name, key or DEFAULT_KUBECONFIG_KEY)


_SPEC_FIELDS = (
    "source",
    "render",
    "destination",
    "interval",
    "timeout",
    "prune",
    "selfHeal",
    "wait",
    "suspend",
    "retry",
    "dependsOn",
    "serviceAccountName",
    "pin",
    "adopt",
    "decryption",
    "postBuild",
)


def _retry(retry: Fields) -> RetrySpec:
    retry.only("initialDelay", "maxDelay")
    initial_delay = retry.duration("initialDelay", DEFAULT_INITIAL_DELAY)
    max_delay = retry.duration("maxDelay", DEFAULT_MAX_DELAY)
    if initial_delay > max_delay:
        raise InvalidSpec("initialDelay must not be longer than maxDelay", field=retry.path)
    return RetrySpec(initial_delay, max_delay)


def _depends_on(spec: Fields, key: AppKey) -> tuple[DependencyRef, ...]:
    refs = []
    for value, path in spec.items("dependsOn", max_items=DEPENDS_ON_MAX):
        item = Fields.of(value, path)
        item.only("name", "namespace")
        dep = DependencyRef(
            namespace=item.string("namespace", pattern=DNS_LABEL_RE, max_length=DNS_LABEL_MAX)
            or key.namespace,
            name=item.required_string(
                "name", pattern=DNS_SUBDOMAIN_RE, max_length=DNS_SUBDOMAIN_MAX
            ),
        )
        if dep.key == key:
            raise InvalidSpec("an Application cannot depend on itself", field=path)
        refs.append(dep)
    return tuple(refs)
