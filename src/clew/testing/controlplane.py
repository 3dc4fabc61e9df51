"""A real local Kubernetes control plane: etcd, kube-apiserver, kube-controller-manager, and a
small kubelet stand-in, started from the binaries :mod:`clew.testing.tools` builds. With
``kubelet="real"`` the node is real instead: containerd, the kubelet and kube-scheduler
(:mod:`clew.testing.node`), so Pods really run.

Every port is picked free at start, so several control planes can run side by side. The data lives
in a temporary directory that :meth:`ControlPlane.stop` deletes, unless ``persist`` is set.
Processes run in their own sessions and are stopped with their whole process group, so nothing is
left behind. A component that fails to become ready raises :class:`StartupError` carrying the tail
of its log.
"""

from __future__ import annotations

import base64
import os
import shutil
import ssl
import sys
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from clew.testing import node, probes, tools
from clew.testing.pki import PKI, KeyPair
from clew.testing.processes import Component, free_port, log_tail, stop_pid

NODE_NAME = "clew-node"
RESTRICTED_NAMESPACE = "clew-system"
RESTRICTED_SA = "clew-restricted"

CONTROLLERS = (
    "namespace-controller",
    "garbage-collector-controller",
    "deployment-controller",
    "replicaset-controller",
    "statefulset-controller",
    "daemonset-controller",
    "job-controller",
    "cronjob-controller",
    "serviceaccount-controller",
    "serviceaccount-token-controller",
    "endpoints-controller",
    "endpointslice-controller",
    "root-ca-certificate-publisher-controller",
    "ttl-after-finished-controller",
    "disruption-controller",
    # Fills the aggregated built-in roles (admin, edit, view) that RBAC bindings refer to.
    "clusterrole-aggregation-controller",
    "persistentvolume-binder-controller",
)


class StartupError(RuntimeError):
    """A component did not become ready; the message ends with the tail of its log."""


def kubeconfig(
    server: str, ca_pem: bytes, user: str, *, cert: KeyPair | None = None, token: str = ""
) -> dict[str, Any]:
    """A self-contained kubeconfig (certificates embedded) for one user."""
    user_entry: dict[str, str] = {}
    if cert is not None:
        user_entry["client-certificate-data"] = base64.b64encode(cert.cert.read_bytes()).decode()
        user_entry["client-key-data"] = base64.b64encode(cert.key.read_bytes()).decode()
    if token:
        user_entry["token"] = token
    return {
        "apiVersion": "v1",
        "kind": "Config",
        "clusters": [
            {
                "name": "clew-local",
                "cluster": {
                    "server": server,
                    "certificate-authority-data": base64.b64encode(ca_pem).decode(),
                },
            }
        ],
        "users": [{"name": user, "user": user_entry}],
        "contexts": [
            {
                "name": f"{user}@clew-local",
                "context": {"cluster": "clew-local", "user": user, "namespace": "default"},
            }
        ],
        "current-context": f"{user}@clew-local",
    }


def _write_private(path: Path, text: str) -> Path:
    path.write_text(text)
    path.chmod(0o600)
    return path


@dataclass
class ControlPlane:
    """One local control plane. ``start()`` returns when the API server is ready and the node is
    Ready; ``stop()`` ends every process and removes the data unless ``persist``."""

    data_dir: Path | None = None
    persist: bool = False
    start_timeout: float = 90.0
    say: Callable[[str], None] = field(default=lambda _msg: None, repr=False)
    extra_args: dict[str, list[str]] = field(default_factory=dict)
    kubelet: str = "standin"  # or "real": containerd + the kubelet + kube-scheduler
    _readiness: dict[str, Callable[[], bool]] = field(default_factory=dict, repr=False)
    components: dict[str, Component] = field(default_factory=dict)
    ports: dict[str, int] = field(default_factory=dict)

    @property
    def dir(self) -> Path:
        assert self.data_dir is not None, "start() first"
        return self.data_dir

    @property
    def server(self) -> str:
        return f"https://127.0.0.1:{self.ports['apiserver']}"

    @property
    def admin_kubeconfig(self) -> Path:
        return self.dir / "admin.kubeconfig"

    @property
    def restricted_kubeconfig(self) -> Path:
        return self.dir / "restricted.kubeconfig"

    # -- start ----------------------------------------------------------------------------------

    def start(self) -> None:
        started = time.monotonic()
        if self.data_dir is None:
            self.data_dir = Path(tempfile.mkdtemp(prefix="clew-local-"))
        self.dir.mkdir(parents=True, exist_ok=True)
        binaries = {
            name: tools.binary(name)
            for name in ("etcd", "kube-apiserver", "kube-controller-manager")
        }
        try:
            self._start_all(binaries)
        except BaseException:
            self.stop()
            raise
        self.say(f"control plane ready at {self.server} in {time.monotonic() - started:.1f}s")

    def _start_all(self, binaries: dict[str, Path]) -> None:
        pki = PKI(self.dir / "pki")
        serving = pki.issue(
            "apiserver",
            common_name="kube-apiserver",
            dns=("localhost", "kubernetes", "kubernetes.default", "kubernetes.default.svc"),
            ips=("127.0.0.1", "10.0.0.1"),
            server=True,
        )
        admin = pki.issue("admin", common_name="clew-admin", organizations=("system:masters",))
        kcm = pki.issue("kcm", common_name="system:kube-controller-manager")
        # The API server's identity towards kubelets (logs, exec); the kubelet trusts the CA.
        to_kubelet = pki.issue(
            "apiserver-kubelet", common_name="kube-apiserver", organizations=("system:masters",)
        )
        sa = pki.service_account_keys()
        self.ports = {
            "etcd": free_port(),
            "etcd-peer": free_port(),
            "apiserver": free_port(),
            "controller-manager": free_port(),
        }
        if self.kubelet == "real":
            self.ports.update(
                kubelet=free_port(), scheduler=free_port(), **{"kubelet-healthz": free_port()}
            )
        _write_private(
            self.admin_kubeconfig,
            yaml.safe_dump(kubeconfig(self.server, pki.ca_pem, "clew-admin", cert=admin)),
        )
        kcm_kubeconfig = _write_private(
            self.dir / "kcm.kubeconfig",
            yaml.safe_dump(kubeconfig(self.server, pki.ca_pem, "kcm", cert=kcm)),
        )
        logs = self.dir / "logs"
        logs.mkdir(exist_ok=True)

        etcd_url = f"http://127.0.0.1:{self.ports['etcd']}"
        peer_url = f"http://127.0.0.1:{self.ports['etcd-peer']}"
        self._launch(
            "etcd",
            [
                str(binaries["etcd"]),
                "--name=clew",
                f"--data-dir={self.dir / 'etcd'}",
                f"--listen-client-urls={etcd_url}",
                f"--advertise-client-urls={etcd_url}",
                f"--listen-peer-urls={peer_url}",
                f"--initial-advertise-peer-urls={peer_url}",
                f"--initial-cluster=clew={peer_url}",
                "--unsafe-no-fsync=true",  # throw-away data: durability costs seconds per test
                "--log-level=warn",
            ],
        )
        self._wait("etcd", lambda: probes.http_ok(f"{etcd_url}/health", None))
        self.say("etcd ready")

        self._launch(
            "kube-apiserver",
            [
                str(binaries["kube-apiserver"]),
                f"--etcd-servers={etcd_url}",
                f"--secure-port={self.ports['apiserver']}",
                "--bind-address=127.0.0.1",
                "--advertise-address=127.0.0.1",
                f"--cert-dir={self.dir / 'apiserver'}",
                f"--tls-cert-file={serving.cert}",
                f"--tls-private-key-file={serving.key}",
                f"--client-ca-file={pki.ca.cert}",
                "--service-account-issuer=https://kubernetes.default.svc.cluster.local",
                f"--service-account-key-file={sa.cert}",
                f"--service-account-signing-key-file={sa.key}",
                "--service-cluster-ip-range=10.0.0.0/24",
                "--authorization-mode=Node,RBAC",  # Node: what a kubelet may read and write
                f"--kubelet-client-certificate={to_kubelet.cert}",
                f"--kubelet-client-key={to_kubelet.key}",
                "--kubelet-preferred-address-types=InternalIP",  # the node name does not resolve
                "--allow-privileged=true",
                "--profiling=false",
            ],
        )
        admin_tls = probes.client_tls(pki.ca.cert, admin)
        self._wait("kube-apiserver", lambda: probes.http_ok(f"{self.server}/readyz", admin_tls))
        self.say("kube-apiserver ready")

        self._launch(
            "kube-controller-manager",
            [
                str(binaries["kube-controller-manager"]),
                f"--kubeconfig={kcm_kubeconfig}",
                f"--authentication-kubeconfig={kcm_kubeconfig}",
                f"--authorization-kubeconfig={kcm_kubeconfig}",
                "--bind-address=127.0.0.1",
                f"--secure-port={self.ports['controller-manager']}",
                f"--cert-dir={self.dir / 'kcm'}",
                "--leader-elect=false",
                f"--controllers={','.join(self._controllers())}",
                f"--root-ca-file={pki.ca.cert}",
                f"--service-account-private-key-file={sa.key}",
                "--use-service-account-credentials=true",
                "--cluster-name=clew-local",
            ],
        )
        insecure = ssl.create_default_context()
        insecure.check_hostname = False
        insecure.verify_mode = ssl.CERT_NONE  # its self-signed health endpoint; nothing secret
        kcm_health = f"https://127.0.0.1:{self.ports['controller-manager']}/healthz"
        self._wait("kube-controller-manager", lambda: probes.http_ok(kcm_health, insecure))
        # RBAC bindings to the built-in admin role grant nothing until the aggregation
        # controller has filled it in.
        self._wait(
            "kube-controller-manager",
            lambda: probes.has_rules(self.server, admin_tls, "admin"),
        )
        self.say("kube-controller-manager ready")

        if self.kubelet == "real":
            self._start_real_node(pki)
        else:
            self._launch(
                "kubelet",
                [
                    sys.executable,
                    "-m",
                    "clew.testing.kubelet",
                    f"--kubeconfig={self.admin_kubeconfig}",
                    f"--node={NODE_NAME}",
                ],
            )
        self._wait("kubelet", lambda: probes.node_ready(self.server, admin_tls, NODE_NAME))
        self.say(f"node {NODE_NAME} Ready")

        token = probes.run_sync(lambda: _restricted_account(self.admin_kubeconfig))
        _write_private(
            self.restricted_kubeconfig,
            yaml.safe_dump(kubeconfig(self.server, pki.ca_pem, RESTRICTED_SA, token=token)),
        )

    def _controllers(self) -> tuple[str, ...]:
        # A real kubelet registers its Node tainted not-ready; this controller lifts the taint
        # once the Node is Ready (the stand-in's Node never carries it).
        return CONTROLLERS + (("node-lifecycle-controller",) if self.kubelet == "real" else ())

    def _start_real_node(self, pki: PKI) -> None:
        def client(name: str, common_name: str, organizations: tuple[str, ...]) -> Path:
            cert = pki.issue(name, common_name=common_name, organizations=organizations)
            config = kubeconfig(self.server, pki.ca_pem, common_name, cert=cert)
            return _write_private(self.dir / f"{name}.kubeconfig", yaml.safe_dump(config))

        node.start(
            self.dir, pki, self.server, NODE_NAME, client, self._launch, self._wait, self.ports
        )
        self.say("containerd ready; kubelet and kube-scheduler started")

    def _launch(self, name: str, argv: list[str]) -> None:
        if name not in self.components:
            argv = argv + self.extra_args.get(name, [])
        component = Component(name, argv, self.dir / "logs" / f"{name}.log")
        env = dict(os.environ)
        env.pop("KUBECONFIG", None)
        component.start(env)
        self.components[name] = component

    def restart(self, name: str) -> None:
        """Stop one component and start it again with the same flags and ports (for tests of
        what survives an API server restart); returns once it is ready again."""
        component = self.components[name]
        stop_pid(component.pid)
        self._launch(name, component.argv)
        self._wait(name, self._readiness[name])

    def _wait(self, name: str, ready: Callable[[], bool]) -> None:
        self._readiness[name] = ready
        component = self.components[name]
        deadline = time.monotonic() + self.start_timeout
        while time.monotonic() < deadline:
            if not component.alive():
                raise StartupError(
                    f"{name} exited during start-up; last lines of {component.log}:\n"
                    + log_tail(component.log)
                )
            if ready():
                return
            time.sleep(0.1)
        raise StartupError(
            f"{name} not ready after {self.start_timeout:.0f}s; last lines of {component.log}:\n"
            + log_tail(component.log)
        )

    # -- stop -----------------------------------------------------------------------------------

    def stop(self) -> None:
        order = ("kubelet", "kube-scheduler", "containerd", "kube-controller-manager")
        for name in (*order, "kube-apiserver", "etcd"):
            component = self.components.pop(name, None)
            if component is not None:
                stop_pid(component.pid)
            if name == "containerd" and self.kubelet == "real" and self.data_dir is not None:
                node.cleanup(self.data_dir)  # the shims (and containers) outlive containerd
        if self.data_dir is not None and not self.persist:
            shutil.rmtree(self.data_dir, ignore_errors=True)

    # -- state, for `clew local` commands in later processes ------------------------------------

    def to_state(self) -> dict[str, Any]:
        return {
            "data_dir": str(self.dir),
            "persist": self.persist,
            "server": self.server,
            "ports": self.ports,
            "pids": {name: c.pid for name, c in self.components.items()},
            "admin_kubeconfig": str(self.admin_kubeconfig),
            "restricted_kubeconfig": str(self.restricted_kubeconfig),
            "kubernetes": tools.K8S_VERSION,
            "etcd": tools.ETCD_VERSION,
            "kubelet": self.kubelet,
        }

    @classmethod
    def from_state(cls, state: dict[str, Any]) -> ControlPlane:
        plane = cls(
            data_dir=Path(state["data_dir"]),
            persist=bool(state.get("persist")),
            kubelet=state.get("kubelet", "standin"),
        )
        plane.ports = {k: int(v) for k, v in state["ports"].items()}
        for name, pid in state["pids"].items():
            plane.components[name] = Component(
                name, [], plane.dir / "logs" / f"{name}.log", int(pid)
            )
        return plane

    def running(self) -> dict[str, bool]:
        return {name: c.alive() for name, c in self.components.items()}


async def _restricted_account(admin_kubeconfig: Path) -> str:
    """Create the restricted ServiceAccount and return a token for it.

    It is not in ``system:masters`` (which priority and fairness exempts), so benchmarks and tests
    run with it see the limits a real controller sees. It may manage namespaced workloads in every
    namespace (the built-in ``admin`` role), Namespaces and CustomResourceDefinitions, and nothing
    else cluster-wide.
    """
    from clew.testing.restricted import ensure_restricted_account

    return await ensure_restricted_account(admin_kubeconfig, RESTRICTED_NAMESPACE, RESTRICTED_SA)
