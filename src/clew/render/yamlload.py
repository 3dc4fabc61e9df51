"""Loading YAML and JSON documents the way Kubernetes reads them, with errors that point at a line.

PyYAML's C parser does the scanning and composing (the pure-Python one is ~10x slower on large
trees); the values are built with go-yaml v2's rules, as kubectl's sigs.k8s.io/yaml does, not
PyYAML's: see :mod:`clew.render.yamlscalars` (scalars, keys, numbers), :mod:`clew.render.yamltree`
(merge keys, aliases, duplicate keys) and :mod:`clew.render.yamlstream` (document separators,
directives). Two choices are stricter than kubectl, which keeps the last of a duplicate key and
silently drops a document after ``...``: both are refused, as silently dropping half of a manifest
is the worst kind of GitOps surprise.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from typing import Any

import yaml

from clew.render.errors import InvalidManifestError
from clew.render.yamlscalars import JSONNumberError, json_number_hooks
from clew.render.yamlstream import check_stream
from clew.render.yamltree import KubeConstruction

_JSON_START = re.compile(r"\s*\{")


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


def load_yaml(text: str, file: str) -> list[Document]:
    """Every document of a YAML stream, in order. Malformed YAML raises
    :class:`InvalidManifestError` naming ``file`` and the line. Like kubectl, a stream that starts
    with ``{`` is read as JSON first, and as YAML when it is not JSON."""
    if _JSON_START.match(text) and (as_json := _json_first(text, file)) is not None:
        return as_json
    text, non_specific = check_stream(text, file)  # kubectl's document rules, go-yaml's escapes
    loader = KubeLoader(text)
    loader.non_specific = non_specific
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


def load_json(text: str, file: str) -> list[Document]:
    """A JSON file, read as kubectl reads any manifest: by its content, not its name (JSON when it
    starts with ``{`` and parses, else YAML; a ``List`` is expanded later); blank: none."""
    return load_yaml(text, file)


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
