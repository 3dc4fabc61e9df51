"""render: a snapshot path to plain objects — plain YAML/JSON/Jsonnet trees, Kustomize, Helm;
then SOPS decryption and post-build variable substitution, on objects.

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

import typing as _typing
from dataclasses import dataclass, field
from pathlib import Path

from clew.model import lazy

if _typing.TYPE_CHECKING:
    from clew.model import Manifest
    from clew.render.errors import (
        DecryptionError,
        InvalidManifestError,
        SubstitutionError,
        ToolError,
        UnsafeSourceError,
    )
    from clew.render.helm import render_helm
    from clew.render.hooks import split_hooks
    from clew.render.kustomize import find_kustomization, render_kustomize
    from clew.render.limits import MAX_OBJECT_BYTES, MAX_OBJECTS, MAX_RENDER_BYTES, check_output
    from clew.render.objects import check_unique
    from clew.render.options import RenderKind, RenderOptions
    from clew.render.paths import MAX_FILE_BYTES, SnapshotDir
    from clew.render.plain import render_plain
    from clew.render.sops import SopsKeys, parse_age_keys
    from clew.render.sops_objects import decrypt_rendered
    from clew.render.substitute import VARIABLE_NAME

# Each name is imported from its module on first use, and :func:`render_all` imports only the
# renderer the source needs: ``clew render`` of a Kustomization loads no Helm, Jsonnet or plain
# tree reader, nor the parse cache (start-up time, tests/unit/test_cli_start.py).
_HOME = {
    "DecryptionError": "errors",
    "InvalidManifestError": "errors",
    "MAX_FILE_BYTES": "paths",
    "MAX_OBJECTS": "limits",
    "MAX_OBJECT_BYTES": "limits",
    "MAX_RENDER_BYTES": "limits",
    "RenderKind": "options",
    "RenderOptions": "options",
    "SnapshotDir": "paths",
    "SopsKeys": "sops",
    "SubstitutionError": "errors",
    "ToolError": "errors",
    "UnsafeSourceError": "errors",
    "VARIABLE_NAME": "substitute",
    "check_output": "limits",
    "check_unique": "objects",
    "decrypt_rendered": "sops_objects",
    "find_kustomization": "kustomize",
    "parse_age_keys": "sops",
    "render_helm": "helm",
    "render_kustomize": "kustomize",
    "render_plain": "plain",
    "split_hooks": "hooks",
}

__all__ = [
    "MAX_FILE_BYTES",
    "MAX_OBJECTS",
    "MAX_OBJECT_BYTES",
    "MAX_RENDER_BYTES",
    "VARIABLE_NAME",
    "DecryptionError",
    "InvalidManifestError",
    "RenderKind",
    "RenderOptions",
    "Rendered",
    "SnapshotDir",
    "SopsKeys",
    "SubstitutionError",
    "ToolError",
    "UnsafeSourceError",
    "check_output",
    "check_unique",
    "decrypt_rendered",
    "detect",
    "find_kustomization",
    "parse_age_keys",
    "render",
    "render_all",
    "render_helm",
    "render_kustomize",
    "render_plain",
    "split_hooks",
]

_SKIPPED_SHOWN = 5


__getattr__ = lazy.exports(__name__, _HOME, globals())


@dataclass
class Rendered:
    """A render's objects and its warnings (files that were not rendered)."""

    manifests: list[Manifest]
    warnings: list[str] = field(default_factory=list)


def detect(directory: Path) -> RenderKind:
    """``kustomize`` when ``directory`` has a kustomization file, else ``helm`` when it has
    ``Chart.yaml``, else ``plain`` (also for a single file)."""
    from clew.render.kustomize import find_kustomization

    if not directory.is_dir():
        return "plain"
    if find_kustomization(directory) is not None:
        return "kustomize"
    if (directory / "Chart.yaml").is_file():
        return "helm"
    return "plain"


def render(root: Path, path: str = ".", options: RenderOptions | None = None) -> list[Manifest]:
    """The objects that ``path`` renders to (:func:`render_all` without its warnings)."""
    return render_all(root, path, options).manifests


def render_all(root: Path, path: str = ".", options: RenderOptions | None = None) -> Rendered:
    """The objects that ``path`` (a directory or file relative to the snapshot ``root``) renders
    to, SOPS-encrypted Secrets decrypted and post-build variables substituted, with a warning
    for files that were not rendered. Raises a :class:`clew.model.RenderError` when it cannot be
    rendered, when it would read outside the snapshot, when it defines the same object twice,
    when it passes a limit (bytes, objects, one object's size), and when files are there but
    none of them renders (nothing is skipped silently)."""
    from clew.render.errors import InvalidManifestError
    from clew.render.limits import check_output
    from clew.render.objects import check_unique
    from clew.render.options import RenderOptions
    from clew.render.paths import SnapshotDir

    options = options or RenderOptions()
    snapshot = SnapshotDir(root)
    rel, real = snapshot.resolve(path, what="render path")
    if not real.exists():
        raise InvalidManifestError(f"the render path {path!r} does not exist in the snapshot")
    kind = detect(real) if options.kind == "auto" else options.kind
    warnings: list[str] = []
    if kind == "plain":
        from clew.render.plain import render_plain

        plain = render_plain(snapshot, rel, real, options)
        manifests = plain.manifests
        if plain.skipped:
            warnings.append(_skipped(plain.skipped))
            if not manifests:
                raise InvalidManifestError(
                    f"nothing rendered: {warnings[0]}",
                    file=rel,
                    hint="clew renders YAML, JSON and Jsonnet files, Kustomizations and Helm "
                    "charts",
                )
    elif not real.is_dir():
        raise InvalidManifestError(f"{kind} renders a directory, not a file", file=rel)
    elif kind == "kustomize":
        from clew.render.kustomize import render_kustomize

        manifests = render_kustomize(snapshot, rel, real, options)
    else:
        from clew.render.helm import render_helm

        manifests = render_helm(snapshot, rel, real, options)
    if kind != "plain":  # a plain tree decrypts file by file, as it reads them
        from clew.render.sops_objects import decrypt_rendered

        manifests = decrypt_rendered(snapshot, manifests, options.decryption)
    check_output(manifests, max_bytes=options.max_bytes, max_objects=options.max_objects, where=rel)
    check_unique(manifests)
    return Rendered(manifests, warnings)


def _skipped(files: list[str]) -> str:
    shown = ", ".join(files[:_SKIPPED_SHOWN])
    more = f" and {len(files) - _SKIPPED_SHOWN} more" if len(files) > _SKIPPED_SHOWN else ""
    noun = "file" if len(files) == 1 else "files"
    return f"{len(files)} {noun} not rendered (not YAML, JSON or Jsonnet): {shown}{more}"
