"""Jsonnet files of a plain tree, evaluated as Argo CD's directory source does: each ``.jsonnet``
file is one program whose output is an object, a list of objects or a ``List``; ``.libsonnet``
files are libraries, read only through ``import``.

The binding is the ``jsonnet`` package (the C++ interpreter). Top-level arguments and external
variables are strings (``std.extVar``, ``function(name) …``). Imports resolve relative to the
importing file and must stay inside the snapshot (the same check as every other read), so a
program cannot read ``/etc/passwd`` or a file outside its commit.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import _jsonnet

from clew.model import Manifest
from clew.render.errors import InvalidManifestError, UnsafeSourceError
from clew.render.objects import to_manifests
from clew.render.paths import MAX_FILE_BYTES, SnapshotDir
from clew.render.yamlload import Document

JSONNET_SUFFIXES = frozenset({".jsonnet"})
LIBRARY_SUFFIXES = frozenset({".libsonnet"})
_MAX_STACK = 500
_MAX_TRACE = 20


def _importer(snapshot: SnapshotDir, file: str) -> Any:
    """The import callback: ``(importing dir, path) -> (found path, bytes)`` inside the snapshot."""

    def load(directory: str, path: str) -> tuple[str, bytes]:
        base = snapshot.relative(Path(directory).resolve()) if directory else "."
        rel, real = snapshot.resolve(path, base=base, what="jsonnet import", referrer=file)
        if not real.is_file():
            raise RuntimeError(f"{rel}: no such file in the snapshot")
        if real.stat().st_size > MAX_FILE_BYTES:
            raise RuntimeError(f"{rel}: over the {MAX_FILE_BYTES} byte limit for a file")
        return str(real), real.read_bytes()

    return load


def _message(exc: Exception, snapshot: SnapshotDir) -> str:
    text = str(exc).replace(f"{snapshot.root}/", "").strip()
    return text if len(text) < 4000 else "…" + text[-4000:]


def render_jsonnet(
    snapshot: SnapshotDir,
    file: str,
    real: Path,
    tla: dict[str, str],
    ext_vars: dict[str, str],
) -> list[Manifest]:
    """The objects one ``.jsonnet`` file evaluates to."""
    try:
        output = _jsonnet.evaluate_file(
            str(real),
            tla_vars=tla,
            ext_vars=ext_vars,
            import_callback=_importer(snapshot, file),
            max_stack=_MAX_STACK,
            max_trace=_MAX_TRACE,
        )
    except RuntimeError as exc:
        message = _message(exc, snapshot)
        if "leaves the snapshot" in message or "outside the snapshot" in message:
            raise UnsafeSourceError(f"jsonnet: {message}", file=file) from None
        raise InvalidManifestError(
            f"jsonnet evaluation failed: {message}",
            file=file,
            hint="top-level arguments and external variables come from the Application's "
            "spec.render.jsonnet (tlas, extVars) or --jsonnet-tla/--jsonnet-ext-var",
        ) from None
    data = json.loads(output)
    items = data if isinstance(data, list) else [data]
    return to_manifests([Document(i + 1, 1, item) for i, item in enumerate(items)], file)
