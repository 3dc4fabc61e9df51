"""Loading YAML and JSON documents the way Kubernetes reads them, with errors that point at a line.

PyYAML's C parser does the scanning and composing (the pure-Python one is ~10x slower on large
trees); the values are built with go-yaml v2's rules, as kubectl's sigs.k8s.io/yaml does, not
PyYAML's: see :mod:`clew.render.yamlscalars` (scalars, keys, numbers), :mod:`clew.render.yamltree`
(merge keys, aliases, duplicate keys) and :mod:`clew.render.yamlstream` (document separators,
directives). Two choices are stricter than kubectl, which keeps the last of a duplicate key and
silently drops a document after ``...``: both are refused, as silently dropping half of a manifest
is the worst kind of GitOps surprise.

PyYAML shares an aliased node instead of copying it, so a "billion laughs" file loads quickly and
small, and only blows up later, when the objects are encoded for the API server. Before
composing, a stream with anchors is therefore measured on libyaml's events (linear in the text)
as if every alias were expanded, and refused when the expansion passes yaml.v3's alias ratio or
the render byte limit (see :mod:`clew.render.limits`); libyaml itself caps nesting at 1,000
levels.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from typing import Any

import yaml
from yaml.events import (
    AliasEvent,
    CollectionEndEvent,
    CollectionStartEvent,
    DocumentStartEvent,
    Event,
    ScalarEvent,
)

from clew.render.errors import InvalidManifestError
from clew.render.limits import MAX_RENDER_BYTES, excessive_aliasing
from clew.render.yamlscalars import JSONNumberError, json_number_hooks
from clew.render.yamlstream import check_stream
from clew.render.yamltree import KubeConstruction

_JSON_START = re.compile(r"\s*\{")


# What a constructor may let escape on a value it does not check.
_CONSTRUCTION_ERRORS = (ArithmeticError, AttributeError, LookupError, TypeError, ValueError)


class KubeLoader(KubeConstruction, yaml.CSafeLoader):
    """``CSafeLoader``'s C parser and composer, values built as kubectl builds them. A subclass:
    the global ``CSafeLoader`` stays untouched."""


@dataclass(frozen=True, slots=True)
class Document:
    """One document of a file: its 1-based position, the 1-based line it starts on, its data
    (``None`` for an empty document)."""

    index: int
    line: int
    data: Any


class _Expansion:
    """What a stream would be with every alias expanded: nodes (as yaml.v3 counts decodes), how
    many of them come from aliases, and bytes of scalar text."""

    def __init__(self, file: str, max_bytes: int) -> None:
        self.file = file
        self.max_bytes = max_bytes
        self.decoded = self.aliased = self.bytes = 0
        self.anchors: dict[str, tuple[int, int]] = {}  # anchor -> (nodes, bytes) expanded
        # Open collections: [anchor, nodes, bytes]; an alias to an open anchor would recurse.
        self.open: list[list[Any]] = []
        self.open_anchors: set[str] = set()

    def add(self, nodes: int, size: int) -> None:
        if self.open:
            self.open[-1][1] += nodes
            self.open[-1][2] += size

    def event(self, event: Event) -> None:
        if isinstance(event, DocumentStartEvent):
            self.anchors.clear()  # anchors are scoped to their document
        elif isinstance(event, ScalarEvent):
            size = len(event.value) + 1
            self.decoded += 1
            self.bytes += size
            if event.anchor:
                self.anchors[event.anchor] = (1, size)
            self.add(1, size)
        elif isinstance(event, CollectionStartEvent):
            self.decoded += 1
            self.bytes += 2
            self.open.append([event.anchor, 1, 2])
            if event.anchor:
                self.open_anchors.add(event.anchor)
        elif isinstance(event, CollectionEndEvent) and self.open:
            anchor, nodes, size = self.open.pop()
            if anchor:
                self.anchors[anchor] = (nodes, size)
                self.open_anchors.discard(anchor)
            self.add(nodes, size)
        elif isinstance(event, AliasEvent):
            self.alias(event)

    def alias(self, event: AliasEvent) -> None:
        line = event.start_mark.line + 1 if event.start_mark else None
        if event.anchor in self.open_anchors:
            raise InvalidManifestError(
                f"invalid YAML: alias *{event.anchor} refers to the node that contains it",
                file=self.file,
                line=line,
            )
        nodes, size = self.anchors.get(event.anchor or "", (0, 0))  # unknown: PyYAML reports it
        self.decoded += 1 + nodes
        self.aliased += nodes
        self.bytes += size
        self.add(1 + nodes, size)
        if excessive_aliasing(self.decoded, self.aliased):
            raise InvalidManifestError(
                f"excessive aliasing: alias *{event.anchor} expands the file to {self.decoded} "
                f"nodes, {self.aliased} of them copies; Kubernetes' YAML decoder refuses that much",
                file=self.file,
                line=line,
                hint="write the repeated parts out, or generate them with Kustomize or Helm",
            )
        if self.bytes > self.max_bytes:
            raise InvalidManifestError(
                f"excessive aliasing: alias *{event.anchor} expands the file to over "
                f"{self.max_bytes} bytes, the render limit",
                file=self.file,
                line=line,
            )


def _check_aliases(text: str, file: str, max_bytes: int) -> None:
    """Refuse a stream whose aliases expand too far, before anything is composed."""
    expansion = _Expansion(file, max_bytes)
    parser = KubeLoader(text)
    try:
        while (event := parser.get_event()) is not None:
            expansion.event(event)
    finally:
        parser.dispose()


def load_yaml(text: str, file: str, *, max_bytes: int = MAX_RENDER_BYTES) -> list[Document]:
    """Every document of a YAML stream, in order. Malformed YAML, or aliases that expand past
    yaml.v3's alias ratio or ``max_bytes``, raise :class:`InvalidManifestError` naming ``file``
    and the line. Like kubectl, a stream that starts with ``{`` is read as JSON first, and as YAML
    when it is not JSON."""
    if _JSON_START.match(text) and (as_json := _json_first(text, file)) is not None:
        return as_json
    text, non_specific = check_stream(text, file)  # kubectl's document rules, go-yaml's escapes
    loader = KubeLoader(text)
    loader.non_specific = non_specific
    documents: list[Document] = []
    try:
        if "&" in text:  # no anchor, no alias; most manifests skip the extra pass
            _check_aliases(text, file, max_bytes)
        while loader.check_node():
            node = loader.get_node()
            line = node.start_mark.line + 1 if node is not None else 1
            try:
                data = loader.construct_document(node) if node is not None else None
            except _CONSTRUCTION_ERRORS as exc:  # from a constructor's second half (generators)
                raise InvalidManifestError(f"invalid YAML: {exc}", file=file, line=line) from None
            documents.append(Document(len(documents) + 1, line, data))
    except yaml.MarkedYAMLError as exc:
        raise _yaml_error(exc, file) from None
    except yaml.YAMLError as exc:  # e.g. a control character the reader refuses; no mark
        raise _reader_error(exc, text, file) from None
    finally:
        loader.dispose()
    return documents


def _reader_error(exc: yaml.YAMLError, text: str, file: str) -> InvalidManifestError:
    if isinstance(exc, yaml.reader.ReaderError):
        line = text.count("\n", 0, exc.position) + 1
        code = exc.character if isinstance(exc.character, int) else ord(exc.character)
        detail = f"unacceptable character #x{code:04x}: {exc.reason}"
        return InvalidManifestError(f"invalid YAML: {detail}", file=file, line=line)
    return InvalidManifestError(f"invalid YAML: {exc}", file=file)


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


def load_json(text: str, file: str, *, max_bytes: int = MAX_RENDER_BYTES) -> list[Document]:
    """A JSON file, read as kubectl reads any manifest: by its content, not its name (JSON when it
    starts with ``{`` and parses, else YAML; a ``List`` is expanded later); blank: none."""
    return load_yaml(text, file, max_bytes=max_bytes)


def _json_first(text: str, file: str) -> list[Document] | None:
    """The JSON document, or None when it is not JSON (NaN is not: kubectl reads it as YAML)."""
    hooks = json_number_hooks(text)
    hooks["parse_constant"] = _not_json
    try:
        # Numbers as the API server gets them from kubectl (int64, else float64).
        data = json.loads(text, object_pairs_hook=_refuse_duplicates, **hooks)
    except (json.JSONDecodeError, _NotJSONError):
        return None
    except ValueError as exc:  # a duplicate key (json gives no position for it), or a number
        line = exc.line if isinstance(exc, JSONNumberError) else None
        raise InvalidManifestError(f"invalid JSON: {exc}", file=file, line=line) from None
    return [Document(1, 1, data)]


class _NotJSONError(ValueError):
    pass


def _not_json(token: str) -> Any:
    raise _NotJSONError(token)
