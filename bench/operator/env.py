"""The benchmark's world: one fresh local control plane, the Application CRD, the controller's
RBAC for the restricted ServiceAccount, a real Git HTTP server with a user, and teardown that
waits (on watches) until a scenario's namespaces are gone, so the next one starts quiet.
"""

from __future__ import annotations

import contextlib
import secrets
import shutil
import sys
import tempfile
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from pathlib import Path

import httpx2 as httpx

from bench.operator import rbac
from bench.operator.controller import Controller, proc_cpu
from clew.cluster import Cluster, NotFound
from clew.model import Health
from clew.testing.controlplane import ControlPlane
from clew.testing.gitserver import GitHttpServer, Repo, create_repo
from clew.testing.operator import install_crd
from clew.wait import wait_for

GIT_USER = "bench"


def say(message: str) -> None:
    print(message, file=sys.stderr, flush=True)


@dataclass
class Environment:
    plane: ControlPlane
    admin: Cluster
    git: GitHttpServer
    http: httpx.AsyncClient  # loopback: webhooks and the controller's /metrics
    work: Path
    notes: list[str] = field(default_factory=list)  # for the report: what went wrong, found

    @property
    def password(self) -> str:
        return self.git.users[GIT_USER]

    def repo(self, name: str) -> Repo:
        return create_repo(self.git.root, name, workdir=self.work / f"repo-{name}")

    def url(self, repo: Repo) -> str:
        return self.git.repo_url(repo.name)

    def stopped(self, scenario: str, ctl: Controller) -> None:
        """Stop ``ctl`` and note what it logged beyond info."""
        ctl.stop()
        for message, count in ctl.problems().most_common(10):
            self.notes.append(f"{scenario}: the controller logged {count}x `{message}`")


@contextlib.asynccontextmanager
async def environment(keep: bool = False, kcm_qps: int = 0) -> AsyncIterator[Environment]:
    """Everything a scenario needs; ``keep`` leaves the work directory (controller logs,
    repositories) behind for a look afterwards.

    ``kcm_qps`` raises kube-controller-manager's client rate limit (default 20/s, burst 30).
    With it, the deployment controller marks about five Deployments a second as rolled out,
    which alone takes 200 s for S5's 1,000 (measured: raw apply 8 s, all healthy 199 s); at
    500/s the same floor is under 20 s, so S5 measures clew rather than that limit.
    """
    work = Path(tempfile.mkdtemp(prefix="clew-bench-operator-"))
    extra = [f"--kube-api-qps={kcm_qps}", f"--kube-api-burst={2 * kcm_qps}"] if kcm_qps else []
    plane = ControlPlane(say=say, extra_args={"kube-controller-manager": extra})
    plane.start()
    git = GitHttpServer(work / "git", users={GIT_USER: secrets.token_urlsafe(18)})
    try:
        git.start()
        async with (
            Cluster.from_kubeconfig(plane.admin_kubeconfig) as admin,
            httpx.AsyncClient(timeout=30, trust_env=False) as http,
        ):
            await install_crd(admin, plane.server)
            await rbac.grant_controller(admin)
            yield Environment(plane, admin, git, http, work)
    finally:
        git.stop()
        plane.stop()
        if keep:
            say(f"work directory kept: {work}")
        else:
            shutil.rmtree(work, ignore_errors=True)


COMPONENTS = ("kube-apiserver", "etcd", "kube-controller-manager")


def components_cpu(plane: ControlPlane) -> dict[str, float]:
    """CPU-seconds so far of the control plane's processes: is the machine the bound?"""
    return {name: proc_cpu(plane.components[name].pid).total for name in COMPONENTS}


async def teardown(admin: Cluster, namespaces: list[str]) -> None:
    """Delete ``namespaces`` and wait until they are gone."""
    objs = [{"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": n}} for n in namespaces]
    for name in namespaces:
        with contextlib.suppress(NotFound):
            await admin.delete("v1", "Namespace", name)
    result = await wait_for(admin, objs, timeout=900, until=Health.NOT_FOUND)
    if not result.ok:
        raise RuntimeError(f"namespaces not deleted: {result.summary()}")
