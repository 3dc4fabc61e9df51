"""Real Git servers on loopback for tests, and helpers to make repositories to serve.

- `GitHttpServer`: smart HTTP, `git http-backend` run as CGI behind a tiny threaded HTTP server,
  with HTTP Basic authentication (a token is a password: GitHub-style `x-access-token:<token>`
  works by registering the user `x-access-token`).
- `GitSshServer`: OpenSSH `sshd` as a child process, public-key authentication only.
- `create_repo` / `Repo`: bare repositories under a root directory, written through a private
  work tree with the git CLI.

Both servers serve the same layout (`<root>/<name>.git`), so given the same root they serve
the same repositories. Secrets never appear on a command line or in a URL: git gets them from
0600 files through `GIT_ASKPASS`, and they are never logged.
"""

from clew.testing.gitserver.common import (
    GitCommandError,
    GitServerError,
    clean_git_env,
    repo_dirname,
)
from clew.testing.gitserver.http import GitHttpServer, HttpRequestRecord
from clew.testing.gitserver.repo import DEFAULT_AUTHOR, Repo, create_repo
from clew.testing.gitserver.ssh import GitSshServer

__all__ = [
    "DEFAULT_AUTHOR",
    "GitCommandError",
    "GitHttpServer",
    "GitServerError",
    "GitSshServer",
    "HttpRequestRecord",
    "Repo",
    "clean_git_env",
    "create_repo",
    "repo_dirname",
]
