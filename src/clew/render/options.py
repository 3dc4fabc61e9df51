"""How to render one path: which renderer, and the knobs of Helm and Kustomize."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

from clew.render.limits import MAX_OBJECTS, MAX_RENDER_BYTES
from clew.render.sops import SopsKeys

RenderKind = Literal["auto", "plain", "kustomize", "helm"]


@dataclass(frozen=True, slots=True)
class RenderOptions:
    """Options of :func:`clew.render.render`. The defaults render a plain tree or a Kustomization
    found by detection, offline and with no plugins.

    ``kind``: ``auto`` picks Kustomize when the directory has a kustomization file, Helm when it
    has ``Chart.yaml``, else a plain YAML/JSON tree.

    Helm: ``release_name`` (default: the chart's name), ``namespace`` (``.Release.Namespace``),
    ``values_files`` (paths relative to the snapshot root, applied in order), ``values`` (inline
    values, applied last so they win), ``kube_version`` (``.Capabilities.KubeVersion``).
    ``helm_binary``: the helm to run; else ``$CLEW_HELM``, else ``helm`` on ``PATH``.

    Kustomize: ``allow_remote_bases`` lets resources name Git or HTTP URLs (off: a snapshot is
    rendered from what it holds). ``kubectl_binary``: the kubectl whose ``kustomize`` to run; else
    ``$CLEW_KUBECTL``, else the one installed next to this Python, else ``kubectl`` on ``PATH``.

    ``timeout``: seconds one helm or kustomize run may take.

    ``api_versions``: extra ``.Capabilities.APIVersions`` (the target cluster's, from discovery);
    ``values_files`` are tried relative to the chart first, then to the snapshot root.

    ``decryption``: the keys SOPS-encrypted files are decrypted with (:mod:`clew.render.sops`);
    without keys an encrypted file is an error. ``substitute``: post-build variables
    (:mod:`clew.render.substitute`); ``None`` turns substitution off, as when Flux's
    ``postBuild`` is absent. ``jsonnet_tla`` and ``jsonnet_ext_vars``: Jsonnet top-level
    arguments and external variables (strings), as Argo CD's ``directory.jsonnet``.

    Limits (see :mod:`clew.render.limits`): ``max_bytes`` bounds the manifests read (files or a
    tool's output) and the objects rendered (as JSON); ``max_objects`` bounds the objects.
    """

    kind: RenderKind = "auto"
    release_name: str = ""
    namespace: str = "default"
    values_files: tuple[str, ...] = ()
    # Not hashed: a dict cannot be, and two option sets differing only in values rarely meet in a
    # set. Equality still compares them.
    values: dict[str, Any] = field(default_factory=dict, hash=False)
    kube_version: str | None = None
    api_versions: tuple[str, ...] = ()
    decryption: SopsKeys | None = None
    substitute: dict[str, str] | None = field(default=None, hash=False, repr=False)
    jsonnet_tla: dict[str, str] = field(default_factory=dict, hash=False)
    jsonnet_ext_vars: dict[str, str] = field(default_factory=dict, hash=False)
    allow_remote_bases: bool = False
    helm_binary: str | Path | None = None
    kubectl_binary: str | Path | None = None
    timeout: float = 60.0
    max_bytes: int = MAX_RENDER_BYTES
    max_objects: int = MAX_OBJECTS
