"""render: a snapshot path to plain objects — plain YAML/JSON trees, Kustomize, Helm.

One call, :func:`render`, picks the renderer (or takes the one named in :class:`RenderOptions`),
runs it and returns :class:`clew.model.Manifest` values in a deterministic order. Rendering never
touches a cluster, never reads outside the snapshot and never reaches the network (unless remote
Kustomize bases are allowed); every failure is a :class:`clew.model.RenderError` subclass from
:mod:`clew.render.errors`. What one render may produce is bounded (:mod:`clew.render.limits`).
Namespaces are left as rendered: defaulting them needs discovery, which is the plan stage's.
:func:`split_hooks` separates Helm hooks from the release's ordinary objects and puts them in run
order.
"""

from __future__ import annotations

from pathlib import Path

from clew.model import Manifest
from clew.render.errors import InvalidManifestError, ToolError, UnsafeSourceError
from clew.render.helm import render_helm
from clew.render.hooks import split_hooks
from clew.render.kustomize import find_kustomization, render_kustomize
from clew.render.limits import MAX_OBJECT_BYTES, MAX_OBJECTS, MAX_RENDER_BYTES, check_output
from clew.render.objects import check_unique
from clew.render.options import RenderKind, RenderOptions
from clew.render.paths import MAX_FILE_BYTES, SnapshotDir
from clew.render.plain import render_plain

__all__ = [
    "MAX_FILE_BYTES",
    "MAX_OBJECTS",
    "MAX_OBJECT_BYTES",
    "MAX_RENDER_BYTES",
    "InvalidManifestError",
    "RenderKind",
    "RenderOptions",
    "SnapshotDir",
    "ToolError",
    "UnsafeSourceError",
    "check_output",
    "check_unique",
    "detect",
    "find_kustomization",
    "render",
    "render_helm",
    "render_kustomize",
    "render_plain",
    "split_hooks",
]


def detect(directory: Path) -> RenderKind:
    """``kustomize`` when ``directory`` has a kustomization file, else ``helm`` when it has
    ``Chart.yaml``, else ``plain`` (also for a single file)."""
    if not directory.is_dir():
        return "plain"
    if find_kustomization(directory) is not None:
        return "kustomize"
    if (directory / "Chart.yaml").is_file():
        return "helm"
    return "plain"


def render(root: Path, path: str = ".", options: RenderOptions | None = None) -> list[Manifest]:
    """The objects that ``path`` (a directory or file relative to the snapshot ``root``) renders
    to. Raises a :class:`clew.model.RenderError` when it cannot be rendered, when it would read
    outside the snapshot, when it defines the same object twice, or when it passes a limit
    (bytes, objects, one object's size)."""
    options = options or RenderOptions()
    snapshot = SnapshotDir(root)
    rel, real = snapshot.resolve(path, what="render path")
    if not real.exists():
        raise InvalidManifestError(f"the render path {path!r} does not exist in the snapshot")
    kind = detect(real) if options.kind == "auto" else options.kind
    if kind == "plain":
        manifests = render_plain(snapshot, rel, real, options.max_bytes)
    elif not real.is_dir():
        raise InvalidManifestError(f"{kind} renders a directory, not a file", file=rel)
    elif kind == "kustomize":
        manifests = render_kustomize(snapshot, rel, real, options)
    else:
        manifests = render_helm(snapshot, rel, real, options)
    check_output(manifests, max_bytes=options.max_bytes, max_objects=options.max_objects, where=rel)
    check_unique(manifests)
    return manifests
