"""The process one Jsonnet program runs in (``python -m clew.render.jsonnet_child``).

The interpreter cannot be interrupted from Python, so a program that loops or grows without end
would hold its caller forever; in a child it is killed at the render timeout and its output is
capped like helm's and kustomize's (:func:`clew.render.runner.run`). One child evaluates every
program of a render. Arguments come as one JSON argument: ``{"root", "files", "tla", "ext"}``;
the results go to stdout as one JSON object, file name to output. Exit 1: a program failed (its
file on the first line of stderr, the message after); exit 3: an import left the snapshot.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

import _jsonnet

from clew.model import RenderError
from clew.render.paths import MAX_FILE_BYTES, SnapshotDir

_MAX_STACK = 500
_MAX_TRACE = 20
_ESCAPED = 3


class _Escape(RuntimeError):
    pass


def _importer(snapshot: SnapshotDir, file: str) -> Any:
    """The import callback: ``(importing dir, path) -> (found path, bytes)`` inside the snapshot."""

    def load(directory: str, path: str) -> tuple[str, bytes]:
        base = snapshot.relative(Path(directory).resolve()) if directory else "."
        try:
            rel, real = snapshot.resolve(path, base=base, what="jsonnet import", referrer=file)
        except RenderError as exc:
            raise _Escape(str(exc)) from None
        if not real.is_file():
            raise RuntimeError(f"{rel}: no such file in the snapshot")
        if real.stat().st_size > MAX_FILE_BYTES:
            raise RuntimeError(f"{rel}: over the {MAX_FILE_BYTES} byte limit for a file")
        return str(real), real.read_bytes()

    return load


def main(argv: list[str]) -> int:
    args = json.loads(argv[0])
    snapshot = SnapshotDir(args["root"])
    results: dict[str, Any] = {}
    for file in args["files"]:
        try:
            output = _jsonnet.evaluate_file(
                str(snapshot.root / file),
                tla_vars=args["tla"],
                ext_vars=args["ext"],
                import_callback=_importer(snapshot, file),
                max_stack=_MAX_STACK,
                max_trace=_MAX_TRACE,
            )
        except RuntimeError as exc:
            message = str(exc).replace(f"{snapshot.root}/", "").strip()
            sys.stderr.write(f"{file}\n{message}")
            escaped = "leaves the snapshot" in message or "outside the snapshot" in message
            return _ESCAPED if escaped else 1
        results[file] = json.loads(output)
    sys.stdout.write(json.dumps(results))
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
