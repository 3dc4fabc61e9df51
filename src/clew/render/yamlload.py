"""Loading YAML and JSON documents the way Kubernetes reads them, with errors that point at a line.

PyYAML's C parser does the scanning (the pure-Python one is ~10x slower on large trees). Two
differences from ``yaml.safe_load`` matter for Kubernetes:

- Timestamps stay strings. PyYAML's YAML 1.1 resolver turns ``2024-01-01`` into a ``date``, which
  is not JSON and not what the API server would store; Kubernetes' own decoder keeps the string.
- A duplicate key in a mapping is an error instead of "the last one wins", as ``kubectl`` and the
  API server do: silently dropping half of a manifest is the worst kind of GitOps surprise.
"""

from __future__ import annotations

import json
from collections.abc import Hashable
from dataclasses import dataclass
from typing import Any

import yaml
from yaml.constructor import ConstructorError
from yaml.nodes import MappingNode, ScalarNode

from clew.render.errors import InvalidManifestError

_TIMESTAMP = "tag:yaml.org,2002:timestamp"
_MERGE = "tag:yaml.org,2002:merge"


class KubeLoader(yaml.CSafeLoader):
    """``CSafeLoader`` without the timestamp resolver, refusing duplicate mapping keys.

    A subclass with its own resolver table: the global ``CSafeLoader`` stays untouched.
    """

    def construct_mapping(self, node: MappingNode, deep: bool = False) -> dict[Hashable, Any]:
        seen: set[tuple[str, str]] = set()
        for key_node, _ in node.value:
            # Merge keys (<<) may be overridden by explicit keys by design; only compare plain keys.
            if isinstance(key_node, ScalarNode) and key_node.tag != _MERGE:
                key = (key_node.tag, key_node.value)
                if key in seen:
                    raise ConstructorError(
                        "while constructing a mapping",
                        node.start_mark,
                        f"found duplicate key {key_node.value!r}",
                        key_node.start_mark,
                    )
                seen.add(key)
        return super().construct_mapping(node, deep)


# Its own table (PyYAML copies the parent's only on add_implicit_resolver), minus timestamps.
KubeLoader.yaml_implicit_resolvers = {
    first: [(tag, regexp) for tag, regexp in resolvers if tag != _TIMESTAMP]
    for first, resolvers in yaml.CSafeLoader.yaml_implicit_resolvers.items()
}


@dataclass(frozen=True, slots=True)
class Document:
    """One document of a file: its 1-based position, the 1-based line it starts on, its data
    (``None`` for an empty document)."""

    index: int
    line: int
    data: Any


def load_yaml(text: str, file: str) -> list[Document]:
    """Every document of a YAML stream, in order. Malformed YAML raises
    :class:`InvalidManifestError` naming ``file`` and the line."""
    loader = KubeLoader(text)
    documents: list[Document] = []
    try:
        while loader.check_node():
            node = loader.get_node()
            line = node.start_mark.line + 1 if node is not None else 1
            data = loader.construct_document(node) if node is not None else None
            documents.append(Document(len(documents) + 1, line, data))
    except yaml.MarkedYAMLError as exc:
        raise _yaml_error(exc, file) from None
    except yaml.YAMLError as exc:  # e.g. a control character the reader refuses; no mark
        raise InvalidManifestError(f"invalid YAML: {exc}", file=file) from None
    finally:
        loader.dispose()
    return documents


def _yaml_error(exc: yaml.MarkedYAMLError, file: str) -> InvalidManifestError:
    mark = exc.problem_mark or exc.context_mark
    context = exc.context or ""
    if exc.context and exc.context_mark and mark and exc.context_mark.line != mark.line:
        context += f" (from line {exc.context_mark.line + 1})"
    detail = ": ".join(p for p in (context, exc.problem) if p) or "malformed document"
    if mark is not None:
        detail += f" (column {mark.column + 1})"
    line = mark.line + 1 if mark is not None else None
    return InvalidManifestError(f"invalid YAML: {detail}", file=file, line=line)


def _refuse_duplicates(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    result: dict[str, Any] = {}
    for key, value in pairs:
        if key in result:
            raise ValueError(f"duplicate key {key!r}")
        result[key] = value
    return result


def load_json(text: str, file: str) -> list[Document]:
    """A JSON file as one document (a ``List`` is expanded later, like in YAML); blank: none."""
    if not text.strip():
        return []
    try:
        data = json.loads(text, object_pairs_hook=_refuse_duplicates)
    except json.JSONDecodeError as exc:
        raise InvalidManifestError(
            f"invalid JSON: {exc.msg} (column {exc.colno})", file=file, line=exc.lineno
        ) from None
    except ValueError as exc:  # a duplicate key; json gives no position for it
        raise InvalidManifestError(f"invalid JSON: {exc}", file=file) from None
    return [Document(1, 1, data)]
