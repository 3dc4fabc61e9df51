"""The snapshot cache: resolve a Git source, fetch it shallowly once, hand out immutable trees.

Sharing: concurrent ``fetch`` calls in one process share one ``ls-remote`` per (url,
credentials) and one download per (url, credentials, commit); the file lock of
:mod:`clew.source.store` extends that to other processes. A snapshot already on disk costs only
the ``ls-remote`` that resolves the ref (nothing at all for a full commit SHA).

Consistency: the fetch names the commit ``ls-remote`` returned, so the content always matches
the recorded revision. If the ref moved and the server no longer serves the old commit, the ref
is resolved again (a few times at most).

Access is proven per credentials: a commit cached for one source is handed to another only after
that source's credentials listed it (``ls-remote``) or fetched it, so knowing a SHA is never
enough to read a private repository through the cache.
"""

from __future__ import annotations

import asyncio
import collections
import contextlib
import functools
from collections.abc import Callable, Coroutine, Hashable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeVar

from clew.model import Snapshot
from clew.source.credentials import Credentials, git_session, split_userinfo
from clew.source.errors import RefNotFound, SourceError
from clew.source.git import (
    COMMIT_FORMAT,
    DEFAULT_TIMEOUT,
    NETWORK_OPTIONS,
    REMOTE_PROTOCOLS,
    clean_env,
    parse_commit_info,
    redact_url,
    run,
    run_git,
)
from clew.source.local import local
from clew.source.refs import RemoteRefs, Resolved, is_full_sha, ls_remote_args, pick
from clew.source.signature import SignaturePolicy, verify_commit
from clew.source.store import Entry, SnapshotStore, remove_tree
from clew.source.tree import check_path, relative_path

__all__ = ["GitSource", "SnapshotCache"]

T = TypeVar("T")

# A ref that moves again between each ls-remote and its fetch this many times is a busy server,
# not a race: report it instead of looping.
_ATTEMPTS = 3
DEFAULT_MAX_BYTES = 2 << 30


@dataclass(frozen=True)
class GitSource:
    """A repository and a ref in it: branch, tag, semver range, commit SHA or ``refs/...``.

    ``verify``, when set, makes every fetch check the commit's signature against it.
    """

    url: str
    ref: str = "HEAD"
    credentials: Credentials | None = None
    verify: SignaturePolicy | None = None

    def __repr__(self) -> str:
        return (
            f"GitSource(url={redact_url(self.url)!r}, ref={self.ref!r}, "
            f"credentials={self.credentials!r}, verify={self.verify is not None})"
        )


_Key = tuple[str, Credentials | None, str]


class SnapshotCache:
    """Resolves and fetches Git sources into ``root``, keeping at most about ``max_bytes``.

    ``timeout`` bounds each git call. ``allow_local_urls`` lets ``file://`` URLs and paths be
    fetched like remotes (for tests and single-user setups; a shared operator should not read
    its own disk on behalf of users).
    """

    def __init__(
        self,
        root: Path,
        max_bytes: int = DEFAULT_MAX_BYTES,
        *,
        timeout: float = DEFAULT_TIMEOUT,
        allow_local_urls: bool = False,
    ) -> None:
        self.root = Path(root)
        self.max_bytes = max_bytes
        self.timeout = timeout
        self._protocols = REMOTE_PROTOCOLS + (":file" if allow_local_urls else "")
        self._store = SnapshotStore(self.root)
        self._listings: dict[Hashable, asyncio.Task[RemoteRefs]] = {}
        self._downloads: dict[Hashable, asyncio.Task[Entry]] = {}
        self._proven: set[_Key] = set()  # (url, credentials, sha) known to be readable
        # Commits this process is fetching or handing out right now: never evicted. Read live
        # by the eviction thread, after it holds a commit's file lock.
        self._pinned: collections.Counter[str] = collections.Counter()

    # -- public ------------------------------------------------------------------------------

    async def resolve(self, source: GitSource) -> str:
        """The commit SHA `source.ref` points to now (one ``ls-remote``; none for a full SHA)."""
        url, credentials = _effective(source)
        return (await self._resolve(url, credentials, source.ref)).sha

    async def fetch(self, source: GitSource, path: str = ".") -> Snapshot:
        """A read-only snapshot of `source` at the commit its ref points to now.

        `path` names the directory to render inside it (``Snapshot.path``, absolute). Raises a
        :class:`clew.model.SourceError` subclass from :mod:`clew.source.errors`.
        """
        relative_path(path)  # reject "../x" and "/x" before touching the network
        url, credentials = _effective(source)
        for attempt in range(1, _ATTEMPTS + 1):
            resolved = await self._resolve(url, credentials, source.ref)
            with self._pin(resolved.sha):
                key = (url, credentials, resolved.sha)
                start = functools.partial(self._materialize, key, resolved.advertised)
                try:
                    entry = await _shared(self._downloads, key, start)
                except RefNotFound:
                    # The server no longer serves the commit ls-remote gave: the ref moved
                    # (force-push) and the old commit is gone. Resolve again.
                    if not resolved.ref or attempt == _ATTEMPTS:
                        raise
                    continue
                return await self._hand_out(entry, source, url, path)
        raise AssertionError("unreachable")  # pragma: no cover

    def local(self, directory: Path, path: str = ".") -> Snapshot:
        """A local directory as a snapshot, in place: :func:`clew.source.local.local`."""
        return local(directory, path)

    # -- handing out -------------------------------------------------------------------------

    @contextlib.contextmanager
    def _pin(self, sha: str) -> Iterator[None]:
        self._pinned[sha] += 1
        try:
            yield
        finally:
            self._pinned[sha] -= 1
            if not self._pinned[sha]:
                del self._pinned[sha]

    async def _hand_out(self, entry: Entry, source: GitSource, url: str, path: str) -> Snapshot:
        """Verify, locate `path`, evict what no longer fits; `entry` is pinned by the caller."""
        self._store.touch(entry.sha)
        if source.verify is not None:
            raw = self._store.raw_commit(entry.sha)
            await verify_commit(raw, entry.sha, source.verify, timeout=self.timeout)
        target = check_path(entry.root, path)
        await asyncio.to_thread(self._store.evict, self.max_bytes, keep=self._pinned)
        return Snapshot(
            root=entry.root,
            path=target,
            source=redact_url(url),
            ref=source.ref,
            revision=entry.sha,
            digest=entry.digest,
            commit=entry.commit,
        )

    # -- resolving ---------------------------------------------------------------------------

    async def _resolve(self, url: str, credentials: Credentials | None, spec: str) -> Resolved:
        spec = spec.strip()
        if is_full_sha(spec.lower()):
            return Resolved(spec.lower(), advertised=False)
        args = ls_remote_args(spec, url)
        listing = await _shared(
            self._listings,
            (url, credentials, tuple(args)),
            lambda: self._ls_remote(url, credentials, args),
        )
        return pick(listing, spec)

    async def _ls_remote(
        self, url: str, credentials: Credentials | None, args: list[str]
    ) -> RemoteRefs:
        with git_session(url, credentials, protocols=self._protocols) as env:
            out = await run_git(
                [*NETWORK_OPTIONS, "ls-remote", *args],
                env=env,
                timeout=self.timeout,
                action="ls-remote",
                url=url,
                secrets=credentials.secrets() if credentials else (),
            )
        return RemoteRefs.parse(out)

    # -- fetching ----------------------------------------------------------------------------

    async def _materialize(self, key: _Key, advertised: bool) -> Entry:
        url, credentials, sha = key
        async with self._store.lock(sha):
            entry = self._store.load(sha)
            if entry is None or not (advertised or key in self._proven):
                entry = await self._download(url, credentials, sha, existing=entry)
        self._proven.add(key)
        return entry

    async def _download(
        self, url: str, credentials: Credentials | None, sha: str, existing: Entry | None
    ) -> Entry:
        """Fetch `sha` at depth 1 into a work directory, check it out, install it atomically.

        With `existing`, the fetch only proves these credentials can read the commit.
        """
        work = self._store.work_dir(sha)
        try:
            (work / "home").mkdir()
            env = clean_env(work / "home", protocols="")
            gitdir = f"--git-dir={work / 'git'}"
            await run_git(["init", "-q", "--bare", str(work / "git")], env=env)
            with git_session(url, credentials, protocols=self._protocols) as net_env:
                await run_git(
                    [
                        *NETWORK_OPTIONS,
                        # Rejects malformed objects, e.g. trees holding ".." or ".git".
                        *("-c", "fetch.fsckObjects=true"),
                        gitdir,
                        "fetch",
                        *("-q", "--depth=1", "--no-tags", "--no-write-fetch-head"),
                        *("--no-auto-gc", "--no-recurse-submodules"),
                        *("--", url, f"+{sha}:refs/clew/snapshot"),
                    ],
                    env=net_env,
                    timeout=self.timeout,
                    action="fetch",
                    url=url,
                    secrets=credentials.secrets() if credentials else (),
                )
            if existing is not None:
                return existing
            status, raw, err = await run(["git", gitdir, "cat-file", "commit", sha], env=env)
            if status != 0:
                raise SourceError(
                    f"fetched {redact_url(url)} but commit {sha[:12]} is missing: "
                    f"{err.decode(errors='replace').strip()}",
                    hint="the server sent an incomplete pack; retrying later",
                )
            log = await run_git([gitdir, "log", "-1", f"--format={COMMIT_FORMAT}", sha], env=env)
            tree = work / "tree"
            tree.mkdir()
            await run_git(
                [gitdir, f"--work-tree={tree}", "checkout", "-q", "-f", "--detach", sha],
                env=env,
                timeout=self.timeout,
            )
            commit = parse_commit_info(log)
            return await asyncio.to_thread(self._store.install, sha, tree, raw, commit)
        finally:
            await asyncio.to_thread(remove_tree, work)


def _effective(source: GitSource) -> tuple[str, Credentials | None]:
    """The URL without userinfo, and the credentials (explicit ones win over the URL's)."""
    url = source.url.strip()
    if not url or url.startswith("-"):
        raise SourceError(f"invalid repository URL {redact_url(url)!r}", hint="check the URL")
    clean, user, password = split_userinfo(url)
    if source.credentials is not None or (user is None and password is None):
        return clean, source.credentials
    return clean, Credentials(username=user, password=password)


async def _shared(
    table: dict[Hashable, asyncio.Task[T]],
    key: Hashable,
    start: Callable[[], Coroutine[Any, Any, T]],
) -> T:
    """Join the in-flight task for `key`, or start it: concurrent callers share one result.

    Shielded: a caller that is cancelled leaves the work running for the others.
    """
    task = table.get(key)
    if task is None:
        task = asyncio.create_task(start())
        table[key] = task

        def forget(done: asyncio.Task[T]) -> None:
            if table.get(key) is done:
                del table[key]
            if not done.cancelled():
                done.exception()  # retrieved: no "never retrieved" noise when all waiters left

        task.add_done_callback(forget)
    return await asyncio.shield(task)
