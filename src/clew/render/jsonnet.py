"""Jsonnet files of a plain tree, evaluated as Argo CD's directory source does: each ``.jsonnet``
file is one program whose output is an object, a list of objects or a ``List``; ``.libsonnet``
files are libraries, read only through ``import``.

The binding is the ``jsonnet`` package (the C++ interpreter), run in a child process
(:mod:`clew.render.jsonnet_child`) so the render timeout and byte limit hold as for helm and
kustomize. Top-level arguments and external variables are strings (``std.extVar``,
``function(name) …``). Imports resolve relative to the importing file and must stay inside the
snapshot (the same check as every other read), so a program cannot read ``/etc/passwd`` or a
file outside its commit.
"""

from __future__ import annotations

import json
import os
import sys
import tempfile
from pathlib import Path
from typing import Any

from clew.model import Manifest
from clew.render.errors import InvalidManifestError, UnsafeSourceError
from clew.render.objects import to_manifests
from clew.render.options import RenderOptions
from clew.render.paths import SnapshotDir
from clew.render.runner import run, sealed_env
from clew.render.yamlload import Document

JSONNET_SUFFIXES = frozenset({".jsonnet"})
LIBRARY_SUFFIXES = frozenset({".libsonnet"})
_ESCAPED = 3
_HINT = (
    "top-level arguments and external variables come from the Application's "
    "spec.render.jsonnet (tlas, extVars) or --jsonnet-tla/--jsonnet-ext-var"
)


def evaluate(snapshot: SnapshotDir, files: list[str], options: RenderOptions) -> dict[str, Any]:
    """Every program's output (parsed JSON) by file, evaluated in one child process."""
    if not files:
        return {}
    args = {
        "root": str(snapshot.root),
        "files": files,
        "tla": options.jsonnet_tla,
        "ext": options.jsonnet_ext_vars,
    }
    with tempfile.TemporaryDirectory(prefix="clew-jsonnet-") as tmp:
        # The child imports clew as this process does, nothing else of the caller's environment.
        path = os.pathsep.join(p for p in sys.path if p)
        env = sealed_env(Path(tmp), {"PYTHONPATH": path, "PYTHONDONTWRITEBYTECODE": "1"})
        proc = run(
            [sys.executable, "-m", "clew.render.jsonnet_child", json.dumps(args)],
            env=env,
            cwd=Path(tmp),
            timeout=options.timeout,
            what="jsonnet",
            max_bytes=options.max_bytes,
        )
    if proc.returncode != 0:
        file, _, message = proc.stderr.strip().partition("\n")
        if proc.returncode == _ESCAPED:
            raise UnsafeSourceError(f"jsonnet: {message}", file=file)
        message = message if len(message) < 4000 else "…" + message[-4000:]
        raise InvalidManifestError(f"jsonnet evaluation failed: {message}", file=file, hint=_HINT)
    results: dict[str, Any] = json.loads(proc.stdout)
    return results


def to_objects(file: str, data: Any) -> list[Manifest]:
    """The objects of one program's output."""
    items = data if isinstance(data, list) else [data]
    return to_manifests([Document(i + 1, 1, item) for i, item in enumerate(items)], file)
