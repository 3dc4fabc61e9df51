"""From loaded documents to :class:`Manifest` values: every renderer's output passes through here,
so a plain file, a Kustomization and a chart are held to the same rules.

A document must be a mapping with ``apiVersion``, ``kind`` and ``metadata.name`` (GitOps tracks
objects by name, so ``generateName`` is refused). Empty documents are dropped; a ``List`` (``kind:
List`` or any ``*List`` with ``items``, as ``kubectl get -o yaml`` writes) is expanded in place.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from clew.model import Manifest, ObjectRef
from clew.model.frozen import memo
from clew.render.errors import InvalidManifestError
from clew.render.yamlload import Document


def _describe(value: Any) -> str:
    if isinstance(value, list):
        return "a list"
    if isinstance(value, str):
        return "a string"
    return f"a {type(value).__name__}"


def _check(obj: Any, where: str, file: str, line: int | None) -> dict[str, Any]:
    """``obj`` as a Kubernetes object, or an error naming the document ``where``."""
    if not isinstance(obj, dict):
        raise InvalidManifestError(
            f"{where} is {_describe(obj)}, not a Kubernetes object", file=file, line=line
        )
    for field in ("apiVersion", "kind"):
        value = obj.get(field)
        if not isinstance(value, str) or not value:
            raise InvalidManifestError(
                f"{where} has no {field}" if value is None else f"{where}: {field} is not a string",
                file=file,
                line=line,
            )
    meta = obj.get("metadata")
    if not isinstance(meta, dict):
        raise InvalidManifestError(f"{where} ({obj['kind']}) has no metadata", file=file, line=line)
    name = meta.get("name")
    if not isinstance(name, str) or not name:
        if "generateName" in meta:
            raise InvalidManifestError(
                f"{where} ({obj['kind']}) uses metadata.generateName",
                file=file,
                line=line,
                hint="clew tracks objects by name: give it a fixed metadata.name",
            )
        raise InvalidManifestError(
            f"{where} ({obj['kind']}) has no metadata.name"
            if name is None
            else f"{where} ({obj['kind']}): metadata.name is not a non-empty string",
            file=file,
            line=line,
        )
    namespace = meta.get("namespace")
    if namespace is not None and not isinstance(namespace, str):
        raise InvalidManifestError(
            f"{where} ({obj['kind']}/{name}): metadata.namespace is not a string",
            file=file,
            line=line,
        )
    return obj


def _is_list(obj: dict[str, Any]) -> bool:
    kind = obj.get("kind")
    return isinstance(kind, str) and kind.endswith("List") and isinstance(obj.get("items"), list)


def to_manifests(
    documents: Iterable[Document], file: str, origin: str | None = None
) -> list[Manifest]:
    """The objects of one file's documents. Each origin is ``origin`` when given (a tool's output
    names its source itself), else ``<file>#<document>``, with ``.items[<i>]`` for a List's
    items (documents count from 1, empty ones included, so the number finds it in the file)."""
    out: list[Manifest] = []
    for doc in documents:
        if doc.data is None:
            continue
        # A frozen document (the parse cache's) checks out the same way every time: its
        # Manifests are kept in its memo, per file and origin (errors are not kept).
        known = memo(doc.data)
        key = ("render.manifests", file, doc.index, origin)
        if known is not None and key in known:
            out.extend(known[key])
            continue
        made = _document(doc, file, origin)
        if known is not None:
            known[key] = made
        out.extend(made)
    return out


def _document(doc: Document, file: str, origin: str | None) -> tuple[Manifest, ...]:
    """The objects of one document (a List's items, or itself)."""
    where = f"document {doc.index}"
    base = origin if origin is not None else f"{file}#{doc.index}"
    if isinstance(doc.data, dict) and _is_list(doc.data):
        return tuple(
            Manifest(
                _check(item, f"{where} item {i}", file, doc.line),
                base if origin is not None else f"{base}.items[{i}]",
            )
            for i, item in enumerate(doc.data["items"])
        )
    return (Manifest(_check(doc.data, where, file, doc.line), base),)


def check_unique(manifests: Iterable[Manifest]) -> None:
    """Refuse the same object (group, kind, namespace, name) twice, naming both origins: applying
    both would make the last one silently win."""
    seen: dict[ObjectRef, str] = {}
    for manifest in manifests:
        ref = manifest.ref
        first = seen.get(ref)
        if first is not None:
            group = f" (group {ref.group})" if ref.group else ""
            raise InvalidManifestError(
                f"{ref}{group} is defined twice: in {first} and in {manifest.origin}",
                hint="remove one of them, or give them different names or namespaces",
            )
        seen[ref] = manifest.origin
