"""``clew rollback app --revert``: roll back the GitOps way, with a revert commit pushed to the
Application's branch, so Git stays the truth and the controller applies the revert like any push.

Git runs with :func:`clew.source.credentials.git_session`: a clean environment, the password
read by a ``GIT_ASKPASS`` script from a 0600 file, SSH keys and known_hosts as 0600 files. No
secret is ever put on a command line or into a URL. The clone is private and removed afterwards.
"""

from __future__ import annotations

import re
import tempfile
from dataclasses import dataclass
from pathlib import Path

from clew.cli.apps_common import DEFAULT_AUTHOR
from clew.cli.apps_ops import OperationFailed
from clew.model import ClewError
from clew.source import Credentials
from clew.source.credentials import git_session, split_userinfo
from clew.source.git import NETWORK_OPTIONS, classify, run, run_git
from clew.source.refs import RemoteRefs, pick

__all__ = ["Identity", "RevertResult", "push_rejected", "revert"]

NETWORK_TIMEOUT = 300.0  # a full fetch of a branch's history may take a while

_IDENTITY = re.compile(r"\s*(?P<name>[^<>]*?)\s*<(?P<email>[^<>\s]+)>\s*")
_HEX = re.compile(r"[0-9a-f]{4,64}")
# What git prints when a push is not a fast-forward: someone pushed since we fetched.
_REJECTED = re.compile(r"\[rejected\]|non-fast-forward|fetch first")


@dataclass(frozen=True)
class Identity:
    """Who the revert commit is by: ``Name <email>``."""

    name: str
    email: str

    @classmethod
    def parse(cls, text: str) -> Identity:
        match = _IDENTITY.fullmatch(text)
        if not match or not match["name"]:
            raise ClewError(
                f"--author {text!r} is not 'Name <email>'", hint=f"e.g. --author {DEFAULT_AUTHOR!r}"
            )
        return cls(match["name"], match["email"])


@dataclass(frozen=True)
class RevertResult:
    commit: str
    branch: str
    reverted: tuple[str, ...]  # newest first


def push_rejected(stderr: str) -> bool:
    """Whether a failed push was refused because the branch moved (run again), rather than
    for credentials or the network."""
    return bool(_REJECTED.search(stderr))


class _Git:
    """git in one private clone, with the session's environment and the secrets to redact."""

    def __init__(self, work: Path, env: dict[str, str], url: str, secrets: tuple[str, ...]):
        self.work, self.env, self.url, self.secrets = work, env, url, secrets

    async def __call__(self, *args: str, network: bool = False) -> str:
        return await run_git(
            [*NETWORK_OPTIONS, *args] if network else list(args),
            env=self.env,
            cwd=self.work,
            timeout=NETWORK_TIMEOUT if network else 60.0,
            url=self.url if network else "",
            secrets=self.secrets,
        )

    async def ok(self, *args: str) -> bool:
        status, _, _ = await run(["git", *args], env=self.env, cwd=self.work)
        return status == 0


async def revert(
    url: str,
    ref: str,
    creds: Credentials | None,
    applied: str,
    *,
    to: str | None,
    author: Identity,
) -> RevertResult:
    """Revert ``applied`` (or every commit in ``to..applied``, newest first, as one commit) on
    the branch ``ref`` names, and push it. Nothing is pushed when it raises: a
    :class:`ClewError` for what the user must change (not a branch, not an ancestor, no access),
    :class:`OperationFailed` when git cannot revert (a conflict) or the branch moved."""
    url, user, password = split_userinfo(url)
    if creds is None and (user or password):
        creds = Credentials(username=user, password=password)
    secrets = creds.secrets() if creds else ()
    if not _HEX.fullmatch(applied):
        raise ClewError(
            f"the applied revision {applied!r} is not a commit SHA",
            hint="wait until the Application has applied a revision",
        )
    with git_session(url, creds) as env, tempfile.TemporaryDirectory(prefix="clew-revert-") as tmp:
        env.update(
            GIT_AUTHOR_NAME=author.name,
            GIT_AUTHOR_EMAIL=author.email,
            GIT_COMMITTER_NAME=author.name,
            GIT_COMMITTER_EMAIL=author.email,
            GIT_EDITOR="true",  # never wait for an editor
        )
        git = _Git(Path(tmp), env, url, secrets)
        listing = await git("ls-remote", "--heads", "--tags", "--", url, network=True)
        resolved = pick(RemoteRefs.parse(listing), ref)
        if not resolved.ref.startswith("refs/heads/"):
            raise ClewError(
                f"spec.source.ref {ref!r} is not a branch: only a branch can take a revert commit",
                hint="pin an earlier revision instead: `clew rollback app NAME --to REVISION`",
            )
        branch = resolved.ref.removeprefix("refs/heads/")
        tracking = f"refs/remotes/origin/{branch}"
        await git("init", "-q")
        await git(
            "fetch", "-q", "--no-tags", "--", url, f"+{resolved.ref}:{tracking}", network=True
        )
        await git("checkout", "-q", "-B", branch, tracking)
        if not await git.ok("merge-base", "--is-ancestor", applied, "HEAD"):
            raise ClewError(
                f"the applied revision {applied[:12]} is not on branch {branch} (force-pushed?)",
                hint="revert by hand, or pin a revision with `clew rollback app NAME --to`",
            )
        reverted = await _revert(git, applied, to)
        commit = (await git("rev-parse", "HEAD")).strip()
        try:
            status, _, err = await run(
                ["git", *NETWORK_OPTIONS, "push", "-q", "--", url, f"HEAD:refs/heads/{branch}"],
                env=env,
                cwd=git.work,
                timeout=NETWORK_TIMEOUT,
            )
        except TimeoutError:
            raise OperationFailed(
                f"git push timed out after {NETWORK_TIMEOUT:g}s",
                hint=f"check whether {commit[:12]} reached {branch} before running again",
            ) from None
        if status != 0:
            stderr = err.decode(errors="replace")
            if push_rejected(stderr):
                raise OperationFailed(
                    f"the branch {branch} moved while the revert was prepared; nothing was pushed",
                    hint="run the command again",
                )
            raise classify(stderr, action="push", url=url, secrets=secrets)
    return RevertResult(commit, branch, reverted)


async def _revert(git: _Git, applied: str, to: str | None) -> tuple[str, ...]:
    """Make the revert commit in the clone; the commits reverted, newest first."""
    commits: tuple[str, ...] = (applied,)
    revisions = [applied]
    if to is not None:
        if not _HEX.fullmatch(to) or not await git.ok(
            "rev-parse", "--verify", "-q", f"{to}^{{commit}}"
        ):
            raise ClewError(f"--to {to}: no such commit on the branch", hint="check the SHA")
        to = (await git("rev-parse", f"{to}^{{commit}}")).strip()
        if not await git.ok("merge-base", "--is-ancestor", to, applied):
            raise ClewError(
                f"--to {to[:12]} is not an ancestor of the applied revision {applied[:12]}",
                hint="give an earlier commit of the branch",
            )
        commits = tuple((await git("rev-list", f"{to}..{applied}")).split())
        if not commits:
            raise ClewError(f"{to[:12]} is the applied revision: nothing to revert")
        revisions = [f"{to}..{applied}"]  # git reverts a range newest first
    if (await git("rev-list", "--merges", "--no-walk", *commits)).strip():
        raise ClewError(
            "a merge commit is among the commits to revert",
            hint="revert it by hand: `git revert -m 1 <merge>`",
        )
    status, _, err = await run(
        ["git", "revert", "--no-commit", *revisions], env=git.env, cwd=git.work
    )
    if status != 0:
        said = err.decode(errors="replace").strip().splitlines()
        raise OperationFailed(
            f"git could not revert {', '.join(c[:12] for c in commits)} on the branch (a "
            "conflict with later commits?); nothing was pushed",
            hint="revert by hand and resolve the conflict"
            + (f" (git: {said[-1]})" if said else ""),
        )
    if await git.ok("diff", "--cached", "--quiet"):
        raise ClewError("the commits to revert change nothing: nothing to push")
    if to is None:
        subject = (await git("log", "-1", "--format=%s", applied)).strip()
        message = f'Revert "{subject}"\n\nThis reverts commit {applied}.'
    else:
        listed = "\n".join(f"This reverts commit {c}." for c in commits)
        message = f"Revert to {to[:12]}\n\n{listed}"
    await git("commit", "-q", "-m", message)
    return commits
