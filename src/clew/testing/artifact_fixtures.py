"""pytest fixtures for real artifact servers on loopback (:mod:`clew.testing.helmrepo`,
:mod:`clew.testing.registry`).

- ``helm_repo`` (session): a :class:`HelmRepoServer` over HTTPS with Basic auth, user
  ``HELM_USER`` with a random password in ``.users``; trust ``.ca_pem`` / ``.ca_file``. Tests add
  their own charts (``add_chart``), under names of their own.
- ``oci_registry`` (session): a :class:`Registry` (distribution v3) over HTTPS with htpasswd,
  user ``REGISTRY_USER``; built into the tools cache the first time (a few minutes). Tests push
  to repositories of their own.
"""

from __future__ import annotations

import secrets
from collections.abc import Iterator

import pytest

from clew.testing import registry, tools
from clew.testing.helmrepo import HelmRepoServer

__all__ = ["HELM_USER", "REGISTRY_USER", "helm_repo", "oci_registry"]

HELM_USER = "charts"
REGISTRY_USER = "pusher"


@pytest.fixture(scope="session")
def helm_repo(tmp_path_factory: pytest.TempPathFactory) -> Iterator[HelmRepoServer]:
    try:
        helm = tools.binary("helm")
    except tools.ToolsMissing as exc:
        pytest.fail(str(exc), pytrace=False)
    users = {HELM_USER: secrets.token_urlsafe(18)}
    with HelmRepoServer(tmp_path_factory.mktemp("helm-repo"), users=users, helm=helm) as server:
        yield server


@pytest.fixture(scope="session")
def oci_registry(tmp_path_factory: pytest.TempPathFactory) -> Iterator[registry.Registry]:
    users = {REGISTRY_USER: secrets.token_urlsafe(18)}
    try:
        with registry.running(tmp_path_factory.mktemp("registry"), users=users) as server:
            yield server
    except (tools.ToolsMissing, registry.RegistryError) as exc:
        pytest.fail(str(exc), pytrace=False)
