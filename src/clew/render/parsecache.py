"""Parsed manifest files kept between renders, so a commit that changes one file re-parses one
file (issue 14, S3).

The controller renders the same repository again for every commit, and parsing YAML is most of a
plain render's CPU. A file whose bytes are the same as in an earlier render parses to the same
documents, so the documents are kept in a bounded, in-process LRU keyed by a digest of the text
that was parsed (after post-build substitution) and by the byte limit it was checked against.
The file's name is not part of the key and not part of the value: errors and origins name it,
and neither is cached. Only successful loads are stored, so a file that failed fails again, with
the same message; every check that is not about the text (file size, UTF-8 names and content,
the render's byte and object limits, duplicates) still runs on every render.

Entries hold pickled documents and every hit unpickles a fresh copy: later stages set namespaces
and labels on the objects they get, and must never change what the next render reads. Pickling
also keeps the loader's exact value types (``Uint64``, floats, ``bytes``). The cache is bounded
by entries and by pickled bytes; Jsonnet, Kustomize and Helm output is not cached.
"""

from __future__ import annotations

import hashlib
import pickle
import threading
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from clew.render.yamlload import Document

MAX_ENTRIES = 20_000
MAX_CACHED_BYTES = 64 * 1024 * 1024
"""The pickled documents held in all: 1.2 times the YAML of small objects, 0.7 times that of
large CRDs (measured); a file larger than this is parsed every time."""

Loader = Callable[..., list[Document]]


@dataclass
class CacheStats:
    hits: int = 0
    misses: int = 0
    entries: int = 0
    bytes: int = 0


class ParseCache:
    """An LRU of pickled documents, bounded by ``max_entries`` and ``max_bytes``; thread-safe
    (renders run in worker threads)."""

    def __init__(self, max_entries: int = MAX_ENTRIES, max_bytes: int = MAX_CACHED_BYTES) -> None:
        self.max_entries = max_entries
        self.max_bytes = max_bytes
        self._entries: OrderedDict[bytes, bytes] = OrderedDict()
        self._lock = threading.Lock()
        self.stats = CacheStats()

    def load(self, load: Loader, text: str, file: str, *, max_bytes: int) -> list[Document]:
        """``load(text, file, max_bytes=max_bytes)``, or a copy of what it returned for the same
        text and limit before."""
        key = _key(text, max_bytes)
        with self._lock:
            blob = self._entries.get(key)
            if blob is not None:
                self._entries.move_to_end(key)
                self.stats.hits += 1
            else:
                self.stats.misses += 1
        if blob is not None:
            rows: list[tuple[int, int, Any]] = pickle.loads(blob)  # noqa: S301 - pickled by us
            return [Document(*row) for row in rows]
        documents = load(text, file, max_bytes=max_bytes)  # raises: nothing is stored
        try:
            # Plain tuples: unpickling a slotted dataclass costs more than the tuple's contents.
            rows = [(d.index, d.line, d.data) for d in documents]
            blob = pickle.dumps(rows, protocol=pickle.HIGHEST_PROTOCOL)
        except (pickle.PicklingError, TypeError, AttributeError, RecursionError):
            return documents  # a value pickle cannot copy: parse it every time
        self._store(key, blob)
        return documents

    def _store(self, key: bytes, blob: bytes) -> None:
        if len(blob) > self.max_bytes:
            return
        with self._lock:
            old = self._entries.pop(key, None)
            if old is not None:
                self.stats.bytes -= len(old)
            self._entries[key] = blob
            self.stats.bytes += len(blob)
            while len(self._entries) > self.max_entries or self.stats.bytes > self.max_bytes:
                _, evicted = self._entries.popitem(last=False)
                self.stats.bytes -= len(evicted)
            self.stats.entries = len(self._entries)

    def clear(self) -> None:
        with self._lock:
            self._entries.clear()
            self.stats = CacheStats()


def _key(text: str, max_bytes: int) -> bytes:
    digest = hashlib.blake2b(text.encode("utf-8", "surrogatepass"), digest_size=20)
    return digest.digest() + max_bytes.to_bytes(8, "little")


PARSED = ParseCache()
"""The process's cache, shared by every plain render."""
