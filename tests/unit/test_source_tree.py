"""Tree digests are deterministic and cover exactly what rendering sees; paths cannot escape.

Proves: the digest ignores creation order, times, modes and ``.git`` but changes with any path,
content or symlink target; a golden digest pins the format; relative paths are normalised and
``..``/absolute paths refused; a symlink leaving the root is ``PathEscapes``; ``local()`` uses
the directory in place with a ``local:`` revision and HEAD's commit when inside a work tree.
"""

from __future__ import annotations

import hashlib
import os
import subprocess
from pathlib import Path, PurePosixPath

import pytest

from clew.source import PathEscapes, PathNotFound, digest_tree, local
from clew.source.tree import check_path, make_read_only, make_writable, relative_path


def write_tree(root: Path, files: dict[str, str], links: dict[str, str] | None = None) -> Path:
    for rel, text in files.items():
        (root / rel).parent.mkdir(parents=True, exist_ok=True)
        (root / rel).write_text(text)
    for rel, target in (links or {}).items():
        (root / rel).parent.mkdir(parents=True, exist_ok=True)
        (root / rel).symlink_to(target)
    return root


FILES = {"app/deploy.yaml": "kind: Deployment\n", "app/svc.yaml": "kind: Service\n", "z": ""}


def test_digest_is_order_and_metadata_independent(tmp_path: Path) -> None:
    a = write_tree(tmp_path / "a", FILES, {"link": "app"})
    b = write_tree(tmp_path / "b", dict(reversed(FILES.items())), {"link": "app"})
    (b / "empty-dir").mkdir()
    (b / ".git").mkdir()
    (b / ".git" / "HEAD").write_text("ref: refs/heads/main\n")
    (b / "app" / "svc.yaml").chmod(0o600)
    os.utime(b / "z", (0, 0))
    assert digest_tree(a) == digest_tree(b)
    # The format is part of the contract (local revisions depend on it), written out here:
    # sorted entries, "F path NUL size NUL content" for files, "L path NUL len NUL target".
    expected = hashlib.sha256(
        b"F app/deploy.yaml\x0017\x00kind: Deployment\n"
        b"F app/svc.yaml\x0014\x00kind: Service\n"
        b"L link\x003\x00app"
        b"F z\x000\x00"
    )
    assert digest_tree(a) == "sha256:" + expected.hexdigest()


@pytest.mark.parametrize(
    "change",
    [
        lambda r: (r / "z").write_text("x"),  # content
        lambda r: (r / "app" / "svc.yaml").rename(r / "app" / "svc2.yaml"),  # path
        lambda r: ((r / "link").unlink(), (r / "link").symlink_to("z")),  # symlink target
        lambda r: (r / "new").write_text(""),  # an added empty file
        lambda r: (r / "z").unlink(),  # a removed empty file
    ],
)
def test_digest_changes_with_what_rendering_sees(tmp_path: Path, change: object) -> None:
    root = write_tree(tmp_path / "t", FILES, {"link": "app"})
    before = digest_tree(root)
    change(root)  # type: ignore[operator]
    assert digest_tree(root) != before


def test_file_and_symlink_with_same_bytes_differ(tmp_path: Path) -> None:
    as_file = write_tree(tmp_path / "f", {"x": "target"})
    as_link = write_tree(tmp_path / "l", {}, {"x": "target"})
    assert digest_tree(as_file) != digest_tree(as_link)


@pytest.mark.parametrize(
    ("path", "expected"),
    [(".", "."), ("", "."), ("apps/prod/", "apps/prod"), ("./a/../b", "b"), ("a//b/.", "a/b")],
)
def test_relative_path_normalises(path: str, expected: str) -> None:
    assert relative_path(path) == PurePosixPath(expected)


@pytest.mark.parametrize("path", ["/etc", "..", "../x", "a/../../x", "a\\..\\..\\x"])
def test_relative_path_refuses_escapes(path: str) -> None:
    with pytest.raises(PathEscapes):
        relative_path(path)


def test_symlink_leaving_the_root_escapes(tmp_path: Path) -> None:
    outside = tmp_path / "outside"
    outside.mkdir()
    root = write_tree(tmp_path / "root", FILES, {"out": str(outside), "rel": "../outside"})
    (root / "in").symlink_to("app")
    for path in ("out", "rel", "out/sub"):
        with pytest.raises(PathEscapes, match="outside the snapshot"):
            check_path(root, path)
    assert check_path(root, "in") == (root / "app").resolve()


def test_missing_path_or_file_is_not_found(tmp_path: Path) -> None:
    root = write_tree(tmp_path / "root", FILES, {"loop": "loop"})
    for path in ("nope", "z", "loop"):
        with pytest.raises(PathNotFound):
            check_path(root, path)


def test_read_only_tree_has_no_write_bits_and_can_be_undone(tmp_path: Path) -> None:
    root = write_tree(tmp_path / "t", FILES, {"link": "app"})
    make_read_only(root)
    modes = [p.lstat().st_mode for p in [root, *root.rglob("*")] if not p.is_symlink()]
    assert len(modes) == 5  # root, app, its two files, and z
    assert all(mode & 0o222 == 0 for mode in modes)
    make_writable(root)
    (root / "app" / "new").write_text("ok")  # directories are writable again


def git(*args: str, cwd: Path) -> str:
    env = {
        "PATH": os.environ["PATH"],
        "HOME": str(cwd),
        "GIT_CONFIG_GLOBAL": os.devnull,
        "GIT_CONFIG_NOSYSTEM": "1",
    }
    ident = ["-c", "user.name=Dev", "-c", "user.email=dev@example.invalid"]
    return subprocess.run(
        ["git", *ident, *args],
        cwd=cwd,
        env=env,
        check=True,
        capture_output=True,
        text=True,
        timeout=30,
    ).stdout.strip()


def test_local_directory_is_used_in_place(tmp_path: Path) -> None:
    root = write_tree(tmp_path / "plain", FILES)
    snapshot = local(root, "app")
    assert snapshot.root == root.resolve()
    assert snapshot.path == root.resolve() / "app"
    assert snapshot.digest == digest_tree(root)
    assert snapshot.revision == "local:" + snapshot.digest.removeprefix("sha256:")[:12]
    assert snapshot.commit is None
    (root / "z").write_text("edited")
    assert local(root).revision != snapshot.revision


def test_local_work_tree_reports_head(tmp_path: Path) -> None:
    root = write_tree(tmp_path / "repo", FILES)
    git("init", "-q", cwd=root)
    git("add", ".", cwd=root)
    git("commit", "-q", "-m", "Add app", cwd=root)
    head = git("rev-parse", "HEAD", cwd=root)
    snapshot = local(root / "app")  # a subdirectory of the work tree
    assert snapshot.commit is not None
    assert (snapshot.commit.sha, snapshot.commit.subject) == (head, "Add app")
    assert snapshot.commit.author == "Dev"
    # .git is not content: the digest equals that of the same files without a repository.
    assert local(root).digest == digest_tree(write_tree(tmp_path / "copy", FILES))


def test_local_refuses_escaping_path_and_missing_directory(tmp_path: Path) -> None:
    with pytest.raises(PathEscapes):
        local(tmp_path, "../..")
    with pytest.raises(PathNotFound):
        local(tmp_path / "missing")
