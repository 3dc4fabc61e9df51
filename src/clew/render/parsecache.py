"""Parsed manifest files kept between renders, so a commit that changes one file re-parses one
file (issue 14, S3).

The controller renders the same repository again for every commit, and parsing YAML is most of a
plain render's CPU. A file whose bytes are the same as in an earlier render parses to the same
documents, so the documents are kept in a bounded, in-process LRU keyed by a digest of the text
that was parsed (after post-build substitution) and by the byte limit it was checked against.
The file's name is not part of the key and not part of the value: errors and origins name it,
and neither is cached. Only successful loads are stored, so a file that failed fails again, with
the same message; every check that is not about the text (file size, UTF-8 names and content,
the render's byte and object limits, duplicates) still runs on every render, a cached object's
JSON size measured once.

Entries hold the documents themselves, frozen (:mod:`clew.model.frozen`), and every hit hands
out the same objects, with no copy: 19.5 MB of CRDs cost nothing to render again (issue 16,
crds22). Later stages set namespaces and labels on copies of the levels they change, and an
attempt to change a cached object in place raises, so the next render reads what the file
says. Values derived from a frozen object are kept in its memo for as long as the entry lives
(its JSON size here, its labelled copies and fingerprint in the plan). The cache is bounded by
entries and by the characters of the text parsed; Jsonnet, Kustomize and Helm output is not
cached.
"""

from __future__ import annotations

import hashlib
import threading
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass

from clew.model.frozen import freeze
from clew.render.yamlload import Document

MAX_ENTRIES = 20_000
MAX_CACHED_BYTES = 32 * 1024 * 1024
"""The text (in characters) whose parsed objects are held in all, so 22 CRDs of 1.3 MB fit. The
objects take more in memory: 2.9 times their text for large CRDs, 7.4 times for small objects
(measured with tracemalloc, bench.s10's crds22 and app130). A file larger than this is parsed
every time."""

Loader = Callable[..., list[Document]]


@dataclass
class CacheStats:
    hits: int = 0
    misses: int = 0
    entries: int = 0
    bytes: int = 0


class ParseCache:
    """An LRU of frozen documents, bounded by ``max_entries`` and by ``max_bytes`` of parsed
    text; thread-safe (renders run in worker threads)."""

    def __init__(self, max_entries: int = MAX_ENTRIES, max_bytes: int = MAX_CACHED_BYTES) -> None:
        self.max_entries = max_entries
        self.max_bytes = max_bytes
        self._entries: OrderedDict[bytes, tuple[list[Document], int]] = OrderedDict()
        self._lock = threading.Lock()
        self.stats = CacheStats()

    def load(self, load: Loader, text: str, file: str, *, max_bytes: int) -> list[Document]:
        """``load(text, file, max_bytes=max_bytes)`` with its values frozen, or the very
        documents it returned for the same text and limit before (shared: read-only)."""
        key = _key(text, max_bytes)
        with self._lock:
            entry = self._entries.get(key)
            if entry is not None:
                self._entries.move_to_end(key)
                self.stats.hits += 1
                return entry[0]
            self.stats.misses += 1
        documents = load(text, file, max_bytes=max_bytes)  # raises: nothing is stored
        try:
            frozen = [Document(d.index, d.line, freeze(d.data)) for d in documents]
        except RecursionError:
            return documents  # nested too deeply to walk: parsed every time, as a plain value
        self._store(key, frozen, len(text))
        return frozen

    def _store(self, key: bytes, documents: list[Document], size: int) -> None:
        if size > self.max_bytes:
            return
        with self._lock:
            old = self._entries.pop(key, None)
            if old is not None:
                self.stats.bytes -= old[1]
            self._entries[key] = (documents, size)
            self.stats.bytes += size
            while len(self._entries) > self.max_entries or self.stats.bytes > self.max_bytes:
                _, (_, evicted) = self._entries.popitem(last=False)
                self.stats.bytes -= evicted
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
