"""The ``applications.clew.dev`` CustomResourceDefinition, as a plain dict.

The schema is structural and complete: the API server defaults and validates every field of
docs/application.md, so the controller reads a spec that is already whole. Patterns, limits and
defaults come from :mod:`clew.controller.api.spec`, which applies the same ones to Applications read
from files. CEL rules (``x-kubernetes-validations``) cover what a pattern cannot: durations longer
than zero, ``initialDelay <= maxDelay``, paths that stay inside the repository, helm options only
for helm, and an Application that depends on itself.

A golden copy lives in tests/unit/fixtures/controller/application-crd.yaml; a change here shows up
there as a reviewable diff.
"""

from __future__ import annotations

from typing import Any

from clew.controller.api.rules import (
    CHART_NAME_RE,
    CONFIG_KEY_RE,
    DEPENDS_ON_MAX,
    DNS_LABEL_MAX,
    DNS_LABEL_RE,
    DNS_SUBDOMAIN_MAX,
    DNS_SUBDOMAIN_RE,
    HELM_RELEASE_MAX,
    HELM_REPO_URL_RE,
    HELM_REPOSITORIES_MAX,
    REF_MAX,
    REPO_URL_MAX,
    REPO_URL_RE,
    REVISION_RE,
    URL_PASSWORD_MESSAGE,
    URL_PASSWORD_RE,
    VALUES_FROM_MAX,
)
from clew.controller.api.schema import (
    boolean,
    custom_resource_definition,
    duration,
    matching,
    object_schema,
    repo_path,
    rule,
    secret_ref,
    string,
    string_map,
)
from clew.controller.api.sources import DEFAULT_PATH, DEFAULT_REF, DEFAULT_RENDER_KIND, RenderKind
from clew.controller.api.spec import (
    DEFAULT_ADOPT,
    DEFAULT_INITIAL_DELAY,
    DEFAULT_INTERVAL,
    DEFAULT_MAX_DELAY,
    DEFAULT_PRUNE,
    DEFAULT_SELF_HEAL,
    DEFAULT_SUSPEND,
    DEFAULT_TIMEOUT,
    DEFAULT_WAIT,
    GROUP,
    KIND,
    PLURAL,
)
from clew.controller.api.status_schema import STATUS

__all__ = ["APPLICATION_CRD", "CRD_NAME"]

CRD_NAME = f"{PLURAL}.{GROUP}"
_VARIABLE_KINDS = ["ConfigMap", "Secret"]

_SOURCE = object_schema(
    "Where the manifests come from.",
    {
        "repoURL": matching(
            "Git repository: https://, ssh://, or scp-like git@host:path; with chart, a Helm"
            " repository (https://) or registry (oci://); else oci:// is an OCI artifact of"
            " manifests. Never with a password: credentials go in the Secret named by secretRef.",
            REPO_URL_RE,
            REPO_URL_MAX,
            **rule(f"!self.matches('{URL_PASSWORD_RE}')", URL_PASSWORD_MESSAGE),
        ),
        "ref": string(
            "Branch, tag, semver range ('>=1.2 <2') or commit SHA to follow.",
            maxLength=REF_MAX,
            default=DEFAULT_REF,
        ),
        "path": repo_path("Directory inside the repository to render.", default=DEFAULT_PATH),
        "chart": matching(
            "A chart in the Helm repository or OCI registry of repoURL.",
            CHART_NAME_RE,
            DNS_SUBDOMAIN_MAX,
        ),
        "version": string(
            "Chart version or OCI tag: exact, a semver range ('^1.2'), or (OCI) sha256:<digest>;"
            " default: the newest release.",
            maxLength=REF_MAX,
        ),
        "secretRef": secret_ref(
            "A Secret in the Application's namespace with username and password (HTTPS) or "
            "identity and known_hosts (SSH); for Helm repositories and registries also token, "
            "ca.crt, or .dockerconfigjson."
        ),
        "verify": object_schema(
            "Refuse commits not signed by these keys.",
            {
                "secretRef": secret_ref(
                    "A Secret with allowed_signers (SSH) and/or gpg_public_keys (armored)."
                )
            },
            required=["secretRef"],
        ),
    },
    required=["repoURL"],
)

_RENDER = {
    **object_schema(
        "How the source directory becomes objects.",
        {
            "kind": {
                **string(
                    "auto picks by the files present (Chart.yaml: helm, kustomization.yaml: "
                    "kustomize, else plain)."
                ),
                "enum": [k.value for k in RenderKind],
                "default": DEFAULT_RENDER_KIND.value,
            },
            "jsonnet": object_schema(
                "Jsonnet options for .jsonnet files in a plain directory (as Argo CD's).",
                {
                    "tlas": string_map("Top-level arguments (strings)."),
                    "extVars": string_map("External variables, read with std.extVar."),
                },
            ),
            "helm": object_schema(
                "Helm options (kind helm or auto).",
                {
                    "releaseName": matching(
                        "Release name; default: the Application's name.",
                        DNS_SUBDOMAIN_RE,
                        HELM_RELEASE_MAX,
                    ),
                    "valuesFiles": {
                        "type": "array",
                        "description": "Values files inside the repository, in order.",
                        "maxItems": 32,
                        "items": repo_path("A values file inside the repository."),
                    },
                    "values": {
                        "type": "object",
                        "description": "Inline values, applied after the values files.",
                        "x-kubernetes-preserve-unknown-fields": True,
                    },
                    "valuesFrom": {
                        "type": "array",
                        "description": "Values from ConfigMaps or Secrets, merged after the "
                        "values files and before the inline values.",
                        "maxItems": VALUES_FROM_MAX,
                        "items": object_schema(
                            "One key of a ConfigMap or Secret holding a YAML values document.",
                            {
                                "kind": {
                                    **string("ConfigMap or Secret."),
                                    "enum": ["ConfigMap", "Secret"],
                                },
                                "name": matching("Its name.", DNS_SUBDOMAIN_RE, DNS_SUBDOMAIN_MAX),
                                "valuesKey": matching(
                                    "The key (default values.yaml).",
                                    CONFIG_KEY_RE,
                                    DNS_SUBDOMAIN_MAX,
                                ),
                                "optional": {
                                    "type": "boolean",
                                    "description": "A missing object or key is no error.",
                                },
                            },
                            required=["kind", "name"],
                        ),
                    },
                    "repositories": {
                        "type": "array",
                        "description": "Repositories the chart's dependencies come from, "
                        "with their credentials.",
                        "maxItems": HELM_REPOSITORIES_MAX,
                        "items": object_schema(
                            "A Helm repository (https://).",
                            {
                                "url": matching("Its URL.", HELM_REPO_URL_RE, REPO_URL_MAX),
                                "secretRef": secret_ref("username and password, or token; ca.crt."),
                            },
                            required=["url"],
                        ),
                    },
                },
            ),
        },
    ),
    "default": {},
    **rule(
        "!has(self.helm) || self.kind in ['auto', 'helm']",
        "helm options need render.kind helm or auto",
    ),
}

_RETRY = {
    **object_schema(
        "Backoff after a failure: initialDelay, doubling up to maxDelay.",
        {
            "initialDelay": duration("First delay after a failure.", DEFAULT_INITIAL_DELAY),
            "maxDelay": duration("Longest delay between attempts.", DEFAULT_MAX_DELAY),
        },
    ),
    "default": {},
    **rule(
        # has(): the default {} is validated before its fields are defaulted.
        "!has(self.initialDelay) || !has(self.maxDelay) || "
        "duration(self.initialDelay) <= duration(self.maxDelay)",
        "initialDelay must not be longer than maxDelay",
    ),
}

_DEPENDENCY = object_schema(
    "An Application that must be Ready first.",
    {
        "name": matching("Name of the Application.", DNS_SUBDOMAIN_RE, DNS_SUBDOMAIN_MAX),
        "namespace": matching(
            "Its namespace; default: this Application's namespace.", DNS_LABEL_RE, DNS_LABEL_MAX
        ),
    },
    required=["name"],
)

_KUBECONFIG_REF = object_schema(
    "The Secret, and its key holding the kubeconfig (default value).",
    {
        "name": matching("Name of the Secret.", DNS_SUBDOMAIN_RE, DNS_SUBDOMAIN_MAX),
        "key": matching("Key of the kubeconfig.", CONFIG_KEY_RE, DNS_SUBDOMAIN_MAX),
    },
    required=["name"],
)

_SPEC = object_schema(
    "Which repository, ref and path to render, where to apply it, and how.",
    {
        "source": _SOURCE,
        "render": _RENDER,
        "destination": object_schema(
            "Where the objects go.",
            {
                "namespace": matching(
                    "Namespace for namespaced objects without one, and for the inventory; "
                    "default: the Application's namespace.",
                    DNS_LABEL_RE,
                    DNS_LABEL_MAX,
                ),
                "kubeConfig": object_schema(
                    "Another cluster (as Flux): its kubeconfig, self-contained, in a Secret of "
                    "the Application's namespace; default: the controller's own cluster.",
                    {"secretRef": _KUBECONFIG_REF},
                    required=["secretRef"],
                ),
            },
        ),
        "interval": duration(
            "How often to check Git and correct drift (jittered by 10%).", DEFAULT_INTERVAL
        ),
        "timeout": duration("How long applying and waiting may take.", DEFAULT_TIMEOUT),
        "prune": boolean(
            "Delete objects that left Git (never after a failed fetch, render or apply).",
            DEFAULT_PRUNE,
        ),
        "selfHeal": boolean(
            "Revert changes made by others to fields clew manages.", DEFAULT_SELF_HEAL
        ),
        "wait": boolean("Ready only when every object is healthy.", DEFAULT_WAIT),
        "suspend": boolean("Stop all changes; status is still reported.", DEFAULT_SUSPEND),
        "adopt": boolean(
            "Take over objects another Application or inventory owns (their ApplySet label "
            "moves here); without it such an object is a conflict and left alone.",
            DEFAULT_ADOPT,
        ),
        "retry": _RETRY,
        "dependsOn": {
            "type": "array",
            "description": "Applications that must be Ready before this one is synced.",
            "maxItems": DEPENDS_ON_MAX,
            "items": _DEPENDENCY,
        },
        "serviceAccountName": matching(
            "A ServiceAccount in the Application's namespace the controller impersonates when "
            "applying; default: the controller's own identity.",
            DNS_LABEL_RE,
            DNS_LABEL_MAX,
        ),
        "decryption": object_schema(
            "Decrypt SOPS-encrypted Secrets in the source (as Flux's kustomize-controller).",
            {
                "provider": {**string("The decryption provider."), "enum": ["sops"]},
                "secretRef": secret_ref(
                    "A Secret in the Application's namespace: age identities in keys ending "
                    ".agekey, armored PGP private keys in keys ending .asc."
                ),
            },
        ),
        "postBuild": object_schema(
            "Replace ${VAR} and ${VAR:=default} in the rendered objects (as Flux's postBuild).",
            {
                "substitute": string_map("Variables; they win over substituteFrom."),
                "substituteFrom": {
                    "type": "array",
                    "description": "ConfigMaps and Secrets whose keys are variables, in order.",
                    "maxItems": 32,
                    "items": object_schema(
                        "A ConfigMap or Secret in the Application's namespace.",
                        {
                            "kind": {**string("ConfigMap or Secret."), "enum": _VARIABLE_KINDS},
                            "name": matching("Its name.", DNS_SUBDOMAIN_RE, DNS_SUBDOMAIN_MAX),
                            "optional": boolean("A missing one is not an error.", False),
                        },
                        required=["kind", "name"],
                    ),
                },
            },
        ),
        "pin": object_schema(
            "Apply exactly this revision instead of following ref (set by clew rollback).",
            {"revision": matching("A full commit SHA (lowercase).", REVISION_RE, 64)},
            required=["revision"],
        ),
    },
    required=["source"],
)

# metav1.Condition, as every Kubernetes API writes it.
_SCHEMA = {
    "type": "object",
    "description": "Renders a path of a Git repository at a ref and keeps the cluster in sync.",
    "properties": {
        "apiVersion": {"type": "string"},
        "kind": {"type": "string"},
        "metadata": {"type": "object"},
        "spec": _SPEC,
        "status": STATUS,
    },
    "required": ["spec"],
    # metadata.namespace is not visible to CEL; a dependency naming itself without a namespace is
    # caught here, with a namespace by the controller (clew.controller.api.spec.parse).
    **rule(
        "!has(self.spec) || !has(self.spec.dependsOn) || self.spec.dependsOn.all(d, "
        "has(d.__namespace__) || d.name != self.metadata.name)",
        "an Application cannot depend on itself",
        field_path=".spec.dependsOn",
    ),
}

APPLICATION_CRD: dict[str, Any] = custom_resource_definition(
    CRD_NAME,
    KIND,
    PLURAL,
    _SCHEMA,
    columns=[
        {
            "name": "Revision",
            "type": "string",
            "jsonPath": ".status.lastAppliedRevision",
            "priority": 0,
        }
    ],
    # Not "apps": kubectl already resolves that to the apps API group for many users.
    short_names=["app"],
)
