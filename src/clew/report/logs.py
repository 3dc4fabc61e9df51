"""JSON logs that carry the Application, revision and reconcile id of the work in progress.

The context lives in a ``contextvars.ContextVar``, so every log line written while a reconcile
runs — in clew's code or a library's — carries it, across ``await`` points, without passing a
logger around. One JSON object per line, for log pipelines; a line written inside a traced span
(see :mod:`~clew.report.tracing`) also carries its ``trace_id`` and ``span_id``.
"""

from __future__ import annotations

import contextlib
import contextvars
import datetime as dt
import json
import logging
import sys
from collections.abc import Iterator
from typing import Any

from clew.report.tracing import current_ids

_context: contextvars.ContextVar[tuple[tuple[str, str], ...]] = contextvars.ContextVar(
    "clew_log_context", default=()
)


@contextlib.contextmanager
def bound(**fields: str) -> Iterator[None]:
    """Add ``fields`` to every log line written inside the block (and tasks it starts)."""
    token = _context.set((*_context.get(), *fields.items()))
    try:
        yield
    finally:
        _context.reset(token)


def bind(**fields: str) -> None:
    """Add ``fields`` for the rest of the current task (e.g. the revision once it is known)."""
    _context.set((*_context.get(), *fields.items()))


class JsonFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        entry: dict[str, Any] = {
            "time": dt.datetime.fromtimestamp(record.created, dt.UTC).isoformat(
                timespec="milliseconds"
            ),
            "level": record.levelname.lower(),
            "logger": record.name,
            "msg": record.getMessage(),
            **dict(_context.get()),
        }
        if ids := current_ids():
            entry["trace_id"], entry["span_id"] = ids
        if record.exc_info:
            entry["error"] = self.formatException(record.exc_info)
        return json.dumps(entry, default=str)


def configure(level: str = "INFO", *, json_lines: bool = True) -> None:
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(
        JsonFormatter()
        if json_lines
        else logging.Formatter("%(asctime)s %(levelname)s %(name)s %(message)s")
    )
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level.upper())
    for noisy in ("httpx2", "uvicorn.access"):
        logging.getLogger(noisy).setLevel(logging.WARNING)
