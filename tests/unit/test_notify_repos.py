"""Repository URLs in every form an Application may spell them (https with or without
credentials and .git, ssh:// with ports, scp-like) give GitHub's owner/repo and GitLab's project
path (subgroups kept, URL-encoded for the API); local paths and URLs without a usable path are
refused with a hint to set the repository on the target."""

from __future__ import annotations

import pytest

from clew.notify.repos import (
    UnknownRepository,
    github_repository,
    gitlab_project,
    gitlab_project_id,
    repository_path,
)


@pytest.mark.parametrize(
    ("url", "path"),
    [
        ("https://github.com/org/shop", "org/shop"),
        ("https://github.com/org/shop.git", "org/shop"),
        ("https://github.com/org/shop.git/", "org/shop"),
        ("https://x-access-token:abc@github.com/Org/Shop.git", "Org/Shop"),
        ("http://git.example.com:8080/org/shop", "org/shop"),
        ("ssh://git@github.com/org/shop.git", "org/shop"),
        ("ssh://git@git.example.com:2222/org/shop.git", "org/shop"),
        ("git@github.com:org/shop.git", "org/shop"),
        ("git@github.com:/org/shop.git", "org/shop"),
        ("github.com:org/shop", "org/shop"),
        ("git://github.com/org/shop.git", "org/shop"),
        ("https://gitlab.com/group/sub/deeper/project.git", "group/sub/deeper/project"),
        ("git@gitlab.example.com:group/sub/project.git", "group/sub/project"),
        ("https://github.com/my.org/my-repo.js", "my.org/my-repo.js"),
    ],
)
def test_repository_path(url: str, path: str) -> None:
    assert repository_path(url) == path


@pytest.mark.parametrize(
    "url",
    [
        "/srv/git/shop",
        "./shop",
        "file:///srv/git/shop.git",
        "https://github.com/",
        "https://github.com",
        "https://github.com/org/sh op",
        "git@github.com:",
    ],
)
def test_urls_without_a_forge_repository_are_refused(url: str) -> None:
    with pytest.raises(UnknownRepository):
        repository_path(url)


def test_github_needs_exactly_owner_and_repo() -> None:
    assert github_repository("git@github.com:org/shop.git") == "org/shop"
    with pytest.raises(UnknownRepository, match="repository: owner/repo"):
        github_repository("https://github.com/org/sub/shop")
    with pytest.raises(UnknownRepository):
        github_repository("https://github.com/shop")


def test_gitlab_project_keeps_subgroups_and_is_url_encoded() -> None:
    project = gitlab_project("https://gitlab.com/group/sub/project.git")
    assert project == "group/sub/project"
    assert gitlab_project_id(project) == "group%2Fsub%2Fproject"
    assert gitlab_project_id("a.b/c-d_e") == "a.b%2Fc-d_e"
    with pytest.raises(UnknownRepository, match="project: group/project"):
        gitlab_project("https://gitlab.com/lonely")
