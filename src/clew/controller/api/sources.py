"""Where an Application's objects come from (``spec.source``: a Git repository, a Helm chart
repository or an OCI artifact) and how they are rendered (``spec.render``), parsed from the
field reader with the CRD's defaults."""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any

from clew.controller.api.fields import (
    REPO_PATH_MAX,
    Fields,
    InvalidSpec,
    check_repo_path,
    check_string,
)
from clew.controller.api.postbuild import JsonnetSpec, parse_jsonnet
from clew.controller.api.rules import (
    CHART_NAME_RE,
    CONFIG_KEY_RE,
    DEFAULT_VALUES_KEY,
    DNS_SUBDOMAIN_MAX,
    DNS_SUBDOMAIN_RE,
    HELM_RELEASE_MAX,
    HELM_REPO_URL_RE,
    HELM_REPOSITORIES_MAX,
    REF_MAX,
    REPO_URL_MAX,
    REPO_URL_RE,
    URL_PASSWORD_MESSAGE,
    URL_PASSWORD_RE,
    VALUES_FILES_MAX,
    VALUES_FROM_MAX,
)

__all__ = [
    "DEFAULT_PATH",
    "DEFAULT_REF",
    "DEFAULT_RENDER_KIND",
    "HelmRepository",
    "HelmSpec",
    "RenderKind",
    "RenderSpec",
    "SourceSpec",
    "ValuesFrom",
    "parse_render",
    "parse_source",
    "secret_name",
]


class RenderKind(StrEnum):
    """How a source directory becomes objects; ``auto`` picks by the files present."""

    AUTO = "auto"
    PLAIN = "plain"
    KUSTOMIZE = "kustomize"
    HELM = "helm"


DEFAULT_REF = "main"
DEFAULT_PATH = "."
DEFAULT_RENDER_KIND = RenderKind.AUTO


@dataclass(frozen=True, slots=True)
class SourceSpec:
    repo_url: str
    ref: str = DEFAULT_REF
    path: str = DEFAULT_PATH
    secret_name: str | None = None  # credentials, in the Application's namespace
    verify_secret_name: str | None = None  # allowed signers; None: signatures are not checked
    chart: str | None = None  # a chart in the Helm repository (https://) or registry (oci://)
    # Chart version or OCI tag: exact, a semver range, or sha256:<digest>. "" is the newest chart
    # release, or the OCI tag "latest".
    version: str = ""

    @property
    def kind(self) -> str:
        """``git``, ``helm`` (a chart from an https:// repository or an oci:// registry) or
        ``oci`` (manifests packaged as an OCI artifact, as ``flux push artifact`` does)."""
        if self.chart:
            return "helm"
        return "oci" if self.repo_url.startswith("oci://") else "git"


@dataclass(frozen=True, slots=True)
class ValuesFrom:
    """Helm values from a ConfigMap or Secret key (a YAML document), merged in order."""

    kind: str  # ConfigMap or Secret
    name: str
    key: str = DEFAULT_VALUES_KEY
    optional: bool = False


@dataclass(frozen=True, slots=True)
class HelmRepository:
    """A chart repository the chart's dependencies may come from, with its credentials."""

    url: str
    secret_name: str | None = None


@dataclass(frozen=True, slots=True)
class HelmSpec:
    """Helm options. ``values`` is the parsed inline mapping (a copy): read it, don't mutate it."""

    release_name: str
    values_files: tuple[str, ...] = ()
    values: Mapping[str, Any] = field(default_factory=dict)
    values_from: tuple[ValuesFrom, ...] = ()
    repositories: tuple[HelmRepository, ...] = ()


@dataclass(frozen=True, slots=True)
class RenderSpec:
    kind: RenderKind
    helm: HelmSpec
    jsonnet: JsonnetSpec = field(default_factory=JsonnetSpec)


def parse_source(source: Fields) -> SourceSpec:
    source.only("repoURL", "ref", "path", "secretRef", "verify", "chart", "version")
    verify = source.mapping("verify")
    verify.only("secretRef")
    repo_url = source.required_string("repoURL", pattern=REPO_URL_RE, max_length=REPO_URL_MAX)
    if re.search(URL_PASSWORD_RE, repo_url):
        raise InvalidSpec(URL_PASSWORD_MESSAGE, field=source.child("repoURL"))
    chart = source.string("chart", pattern=CHART_NAME_RE, max_length=DNS_SUBDOMAIN_MAX)
    if chart and not repo_url.startswith(("https://", "http://", "oci://")):
        raise InvalidSpec(
            "a chart comes from a Helm repository (https://) or an OCI registry (oci://)",
            field=source.child("repoURL"),
        )
    if verify.present and (chart or repo_url.startswith("oci://")):
        raise InvalidSpec("commit signatures apply to Git sources only", field=verify.path)
    return SourceSpec(
        repo_url=repo_url,
        ref=source.string("ref", max_length=REF_MAX) or DEFAULT_REF,
        path=source.repo_path("path") or DEFAULT_PATH,
        secret_name=secret_name(source.mapping("secretRef")),
        verify_secret_name=(
            secret_name(verify.mapping("secretRef", required=True)) if verify.present else None
        ),
        chart=chart,
        version=source.string("version", max_length=REF_MAX) or "",
    )


def secret_name(ref: Fields) -> str | None:
    if not ref.present:
        return None
    ref.only("name")
    return ref.required_string("name", pattern=DNS_SUBDOMAIN_RE, max_length=DNS_SUBDOMAIN_MAX)


def parse_render(render: Fields, app_name: str) -> RenderSpec:
    render.only("kind", "helm", "jsonnet")
    kind = RenderKind(render.string("kind", choices=list(RenderKind)) or DEFAULT_RENDER_KIND)
    helm = render.mapping("helm")
    helm.only("releaseName", "valuesFiles", "values", "valuesFrom", "repositories")
    if helm.present and kind not in (RenderKind.AUTO, RenderKind.HELM):
        raise InvalidSpec(f"helm options need kind helm or auto, not {kind}", field=helm.path)
    release = helm.string("releaseName", pattern=DNS_SUBDOMAIN_RE, max_length=HELM_RELEASE_MAX)
    files = []
    for value, path in helm.items("valuesFiles", max_items=VALUES_FILES_MAX):
        files.append(
            check_repo_path(
                check_string(value, path, required=True, max_length=REPO_PATH_MAX), path
            )
        )
    return RenderSpec(
        kind=kind,
        helm=HelmSpec(
            release_name=release or app_name,
            values_files=tuple(files),
            values=dict(helm.mapping("values").data),
            values_from=_values_from(helm),
            repositories=_repositories(helm),
        ),
        jsonnet=parse_jsonnet(render.mapping("jsonnet")),
    )


def _values_from(helm: Fields) -> tuple[ValuesFrom, ...]:
    found = []
    for value, path in helm.items("valuesFrom", max_items=VALUES_FROM_MAX):
        item = Fields.of(value, path)
        item.only("kind", "name", "valuesKey", "optional")
        found.append(
            ValuesFrom(
                kind=check_string(
                    item.data.get("kind"),
                    item.child("kind"),
                    required=True,
                    choices=["ConfigMap", "Secret"],
                ),
                name=item.required_string(
                    "name", pattern=DNS_SUBDOMAIN_RE, max_length=DNS_SUBDOMAIN_MAX
                ),
                key=item.string("valuesKey", pattern=CONFIG_KEY_RE, max_length=DNS_SUBDOMAIN_MAX)
                or DEFAULT_VALUES_KEY,
                optional=item.boolean("optional", False),
            )
        )
    return tuple(found)


def _repositories(helm: Fields) -> tuple[HelmRepository, ...]:
    found = []
    for value, path in helm.items("repositories", max_items=HELM_REPOSITORIES_MAX):
        item = Fields.of(value, path)
        item.only("url", "secretRef")
        url = item.required_string("url", pattern=HELM_REPO_URL_RE, max_length=REPO_URL_MAX)
        if re.search(URL_PASSWORD_RE, url):
            raise InvalidSpec(URL_PASSWORD_MESSAGE, field=item.child("url"))
        found.append(HelmRepository(url, secret_name(item.mapping("secretRef"))))
    return tuple(found)
