"""Bare repositories to serve: `create_repo` and `Repo`, which writes commits, tags and
rewrites through a private work tree with the git CLI."""

from __future__ import annotations

import itertools
import shutil
import tempfile
import weakref
from collections.abc import Mapping
from pathlib import Path

from clew.testing.gitserver.common import GitServerError, _run_git, clean_git_env, repo_dirname

__all__ = ["DEFAULT_AUTHOR", "Repo", "create_repo"]

DEFAULT_AUTHOR = ("Clew Test", "clew-test@example.invalid")
# Commits get a fake, strictly increasing clock so shas are reproducible run to run.
_EPOCH = 1_700_000_000


def create_repo(
    root: Path, name: str, *, workdir: Path | None = None, default_branch: str = "main"
) -> Repo:
    """Create the bare repository `<root>/<name>.git` (empty, HEAD -> `default_branch`).

    `workdir` (empty or missing) holds the private work tree; by default a temporary
    directory removed when the `Repo` is garbage-collected or the interpreter exits.
    """
    bare = Path(root).resolve() / repo_dirname(name)
    if bare.exists():
        raise GitServerError(f"repository {bare} already exists")
    return Repo(bare, workdir=workdir, default_branch=default_branch, init=True)


class Repo:
    """A bare repository plus a private work tree to write commits, tags and rewrites into it.

    Every write starts from the bare repository's current state, so pushes made by the
    code under test (over HTTP or SSH) are picked up.
    """

    def __init__(
        self,
        bare: Path,
        *,
        workdir: Path | None = None,
        default_branch: str = "main",
        init: bool = False,
    ) -> None:
        self.path = Path(bare)
        self.name = self.path.name.removesuffix(".git")
        self.default_branch = default_branch
        if workdir is None:
            workdir = Path(tempfile.mkdtemp(prefix=f"clew-repo-{self.name}-"))
            self._cleanup = weakref.finalize(self, shutil.rmtree, workdir, ignore_errors=True)
        self.workdir = Path(workdir)
        self.worktree = self.workdir / "tree"
        (self.workdir / "home").mkdir(parents=True, exist_ok=True)
        self._env = clean_git_env(self.workdir / "home")
        self._clock = itertools.count()
        if init:
            self._git("init", "-q", "--bare", f"--initial-branch={default_branch}", str(self.path))
        self._git("clone", "-q", str(self.path), str(self.worktree))

    # -- writing -----------------------------------------------------------------------------

    def commit(
        self,
        files: Mapping[str, str | bytes | None],
        message: str = "Update",
        *,
        branch: str | None = None,
        author: tuple[str, str] = DEFAULT_AUTHOR,
    ) -> str:
        """Commit `files` (path -> content; None deletes) on `branch` and push it; return the sha.

        A new branch starts from the default branch, or as a root commit in an empty repo.
        """
        branch = branch or self.default_branch
        self._checkout(branch)
        for rel, content in files.items():
            target = self._tree_path(rel)
            if content is None:
                self._git("rm", "-r", "-q", "--ignore-unmatch", "--", rel, cwd=self.worktree)
                if target.is_dir():  # untracked leftovers git rm does not touch
                    shutil.rmtree(target)
                elif target.exists():
                    target.unlink()
                continue
            target.parent.mkdir(parents=True, exist_ok=True)
            target.write_bytes(content.encode() if isinstance(content, str) else content)
        self._git("add", "-A", cwd=self.worktree)
        self._git(
            *self._identity(author),
            "commit",
            "-q",
            "--allow-empty",
            "-m",
            message,
            cwd=self.worktree,
            env=self._dated_env(),
        )
        sha = self._rev_parse("HEAD")
        self._git("push", "-q", "origin", f"HEAD:refs/heads/{branch}", cwd=self.worktree)
        return sha

    def orphan_commit(
        self,
        files: Mapping[str, str | bytes],
        message: str = "Unrelated history",
        *,
        author: tuple[str, str] = DEFAULT_AUTHOR,
    ) -> str:
        """Make a parentless commit holding exactly `files`, on no branch; return its sha.

        Publish it with `force_push(branch, sha)` to replace a branch with unrelated history.
        """
        index_env = {**self._dated_env(), "GIT_INDEX_FILE": str(self.workdir / "orphan-index")}
        Path(index_env["GIT_INDEX_FILE"]).unlink(missing_ok=True)
        for rel, content in files.items():
            self._tree_path(rel)  # validates the path
            data = content.encode() if isinstance(content, str) else content
            blob = self._git(
                "hash-object", "-w", "--stdin", cwd=self.worktree, input_bytes=data
            ).strip()
            self._git(
                "update-index",
                "--add",
                "--cacheinfo",
                f"100644,{blob},{rel}",
                cwd=self.worktree,
                env=index_env,
            )
        tree = self._git("write-tree", cwd=self.worktree, env=index_env).strip()
        return self._git(
            *self._identity(author),
            "commit-tree",
            tree,
            "-m",
            message,
            cwd=self.worktree,
            env=index_env,
        ).strip()

    def force_push(self, branch: str, sha: str) -> None:
        """Point `branch` at `sha` with `git push --force` (older commit, unrelated history...)."""
        self._git("fetch", "-q", "--prune", "origin", cwd=self.worktree)
        commit = self._rev_parse(f"{sha}^{{commit}}")
        self._git(
            "push", "-q", "--force", "origin", f"{commit}:refs/heads/{branch}", cwd=self.worktree
        )

    def tag(
        self,
        name: str,
        ref: str = "HEAD",
        *,
        annotated: bool = False,
        message: str | None = None,
        force: bool = False,
    ) -> str:
        """Tag `ref` (resolved in the bare repository: HEAD is the default branch's tip).

        Returns the sha of the tagged commit. `force` moves an existing tag.
        """
        args = [*self._identity(DEFAULT_AUTHOR), "tag"]
        if force:
            args.append("-f")
        if annotated:
            args += ["-a", "-m", message or f"Tag {name}"]
        self._git(*args, name, ref, cwd=self.path, env=self._dated_env())
        return self._git(
            "rev-parse", "--verify", f"refs/tags/{name}^{{commit}}", cwd=self.path
        ).strip()

    # -- reading -----------------------------------------------------------------------------

    def head(self, branch: str | None = None) -> str:
        """The sha `branch` (default: the default branch) points to in the bare repository."""
        ref = f"refs/heads/{branch or self.default_branch}^{{commit}}"
        return self._git("rev-parse", "--verify", ref, cwd=self.path).strip()

    # -- internals ---------------------------------------------------------------------------

    def _checkout(self, branch: str) -> None:
        """Reset the work tree to the bare repository's `branch` (or its start point)."""
        self._git("fetch", "-q", "--prune", "origin", cwd=self.worktree)
        for start in (branch, self.default_branch):
            if self._ref_exists(f"refs/remotes/origin/{start}"):
                self._git(
                    "checkout", "-q", "-f", "-B", branch, f"origin/{start}", cwd=self.worktree
                )
                break
        else:
            self._git("checkout", "-q", "-f", "--orphan", branch, cwd=self.worktree)
            self._git("rm", "-r", "-q", "--cached", "--ignore-unmatch", ".", cwd=self.worktree)
        self._git("clean", "-q", "-f", "-d", "-x", cwd=self.worktree)

    def _tree_path(self, rel: str) -> Path:
        target = (self.worktree / rel).resolve()
        tree = self.worktree.resolve()
        if target == tree or tree not in target.parents or ".git" in Path(rel).parts:
            raise ValueError(f"path {rel!r} is not a file inside the repository")
        return target

    def _identity(self, author: tuple[str, str]) -> list[str]:
        name, email = author
        return ["-c", f"user.name={name}", "-c", f"user.email={email}"]

    def _dated_env(self) -> dict[str, str]:
        date = f"@{_EPOCH + 60 * next(self._clock)} +0000"
        return {**self._env, "GIT_AUTHOR_DATE": date, "GIT_COMMITTER_DATE": date}

    def _ref_exists(self, ref: str) -> bool:
        proc = _run_git(
            ["rev-parse", "--verify", "-q", ref], env=self._env, cwd=self.worktree, check=False
        )
        return proc.returncode == 0

    def _rev_parse(self, rev: str) -> str:
        return self._git("rev-parse", "--verify", rev, cwd=self.worktree).strip()

    def _git(
        self,
        *args: str,
        cwd: Path | None = None,
        env: Mapping[str, str] | None = None,
        input_bytes: bytes | None = None,
    ) -> str:
        proc = _run_git(args, env=env or self._env, cwd=cwd, input_bytes=input_bytes)
        return proc.stdout.decode()
