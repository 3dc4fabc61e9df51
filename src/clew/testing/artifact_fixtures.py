"""pytest fixtures for real artifact servers on loopback (see :mod:`clew.testing.helmrepo`).

- ``helm_repo`` (session): a :class:`HelmRepoServer` over HTTPS with Basic auth, user
  ``HELM_USER`` with a random password in ``.users``; trust ``.ca_pem`` / ``.ca_file``. Tests add
  their own charts (``add_chart``), under names of their own.
"""

from __future__ import annotations

import secrets
from collections.abc import Iterator

import pytest

from clew.testing import tools
from clew.testing.helmrepo import HelmRepoServer

__all__ = ["HELM_USER", "helm_repo"]

HELM_USER = "charts"


@pytest.fixture(scope="session")
def helm_repo(tmp_path_factory: pytest.TempPathFactory) -> Iterator[HelmRepoServer]:
    try:
        helm = tools.binary("helm")
    except tools.ToolsMissing as exc:
        pytest.fail(str(exc), pytrace=False)
    users = {HELM_USER: secrets.token_urlsafe(18)}
    with HelmRepoServer(tmp_path_factory.mktemp("helm-repo"), users=users, helm=helm) as server:
        yield server
