"""A real node for a local control plane: containerd (Debian's) with runc, the CNI bridge plugin,
the real kubelet and kube-scheduler built from the pinned Kubernetes module, and a pause image
built here (no registry is reachable, so nothing is ever pulled: images come from tarballs
through :func:`import_image`).

Everything lives under the control plane's data directory (containerd's root, state and socket,
the kubelet's root, CNI configuration and IP leases) and on ports picked free at start, so
several run side by side. What the sandbox refuses, and the settings that work around it, are
in ``docs/local-control-plane.md``.

containerd's shims outlive containerd by design, and PID 1 here reaps nothing: :func:`cleanup`
kills the shims of this node (found by this node's socket path) with everything under them,
then unmounts what the containers left mounted below the data directory.
"""

from __future__ import annotations

import contextlib
import json
import os
import signal
import subprocess
import time
from collections.abc import Callable
from pathlib import Path

import yaml

from clew.testing import oci, tools
from clew.testing.pki import PKI

PAUSE_IMAGE = "clew.local/pause:v1"
NAMESPACE = "k8s.io"  # containerd's namespace for the CRI
CNI_BIN = "/usr/lib/cni"  # Debian's containernetworking-plugins
SERVICE_IP = "10.0.0.1"  # the kubernetes Service (the control plane's service range)
DEBIAN_PACKAGES = ("containerd", "runc", "containernetworking-plugins")

Launch = Callable[[str, list[str]], None]
Wait = Callable[[str, Callable[[], bool]], None]


def containerd_socket(data_dir: Path) -> Path:
    return data_dir / "containerd" / "containerd.sock"


def ctr(data_dir: Path, *args: str, timeout: float = 120) -> subprocess.CompletedProcess[str]:
    """Run ``ctr`` against this node's containerd, in the CRI's namespace."""
    argv = ["ctr", "--address", str(containerd_socket(data_dir)), "--namespace", NAMESPACE]
    return subprocess.run(
        [*argv, *args], capture_output=True, text=True, timeout=timeout, check=True
    )


def import_image(data_dir: Path, archive: Path) -> None:
    """Import an OCI archive (``clew.testing.image``'s tarball) so Pods can use it with
    ``imagePullPolicy: IfNotPresent`` or ``Never``."""
    ctr(data_dir, "images", "import", "--no-unpack=false", str(archive))


def _pause_archive() -> Path:
    """The sandbox image: one layer holding the static pause binary, cached by its digest."""
    binary = tools.binary("pause")
    directory = binary.parent / "pause-image"
    archive = directory / "pause.tar"
    if archive.is_file():
        return archive
    staging = directory / "staging"
    (staging / "root").mkdir(parents=True, exist_ok=True)
    os.link(binary, staging / "root" / "pause") if not (
        staging / "root" / "pause"
    ).exists() else None
    layer = oci.write_layer(staging / "root", staging / "layer.tar.gz", 0)
    config = {"Entrypoint": ["/pause"], "User": "65535:65535"}
    oci.write_layout(staging / "oci", [layer], config, 0, PAUSE_IMAGE)
    oci.write_archive(staging / "oci", directory / "pause.tar.partial", 0)
    os.replace(directory / "pause.tar.partial", archive)
    return archive


def _containerd_config(data_dir: Path, cni_dir: Path) -> str:
    root = data_dir / "containerd"
    cri = 'plugins."io.containerd.grpc.v1.cri"'
    return f"""version = 2
root = "{root / "root"}"
state = "{root / "state"}"
[grpc]
  address = "{containerd_socket(data_dir)}"
[ttrpc]
  address = "{containerd_socket(data_dir)}.ttrpc"
[metrics]
  address = ""
[plugins."io.containerd.internal.v1.opt"]
  path = "{root / "opt"}"
[{cri}]
  sandbox_image = "{PAUSE_IMAGE}"
  # oom_score_adj below containerd's own needs CAP_SYS_RESOURCE, which the sandbox lacks.
  restrict_oom_score_adj = true
  # hugetlb is the only controller on this hybrid host's cgroup v2 hierarchy.
  tolerate_missing_hugetlb_controller = true
  disable_hugetlb_controller = true
  netns_mounts_under_state_dir = true
  stream_server_address = "127.0.0.1"
  stream_server_port = "0"
[{cri}.containerd]
  snapshotter = "overlayfs"
  default_runtime_name = "runc"
[{cri}.containerd.runtimes.runc]
  runtime_type = "io.containerd.runc.v2"
[{cri}.containerd.runtimes.runc.options]
  SystemdCgroup = false
[{cri}.cni]
  bin_dir = "{CNI_BIN}"
  conf_dir = "{cni_dir}"
"""


def _subnet(port: int) -> int:
    """A /24 in 10.244.0.0/16 that no route on this machine uses yet."""
    routes = subprocess.run(["ip", "-4", "route"], capture_output=True, text=True, check=False)
    for offset in range(250):
        third = (port + offset) % 250 + 1
        if f"10.244.{third}.0/24" not in routes.stdout:
            return third
    raise RuntimeError("no free 10.244.x.0/24 subnet for the node's Pods")


def _cni_config(data_dir: Path, bridge: str, third: int) -> dict[str, object]:
    return {
        "cniVersion": "1.0.0",
        "name": "clew",
        "plugins": [
            {
                "type": "bridge",
                "bridge": bridge,
                "isGateway": True,
                "ipMasq": False,  # no iptables rules to leave behind; Pods reach the host
                "hairpinMode": True,
                "ipam": {
                    "type": "host-local",
                    "ranges": [[{"subnet": f"10.244.{third}.0/24"}]],
                    "routes": [{"dst": "0.0.0.0/0"}],
                    "dataDir": str(data_dir / "cni" / "ipam"),
                },
            },
        ],
    }


def _bridge(name: str, gateway: str) -> None:
    """The Pods' bridge, made before the kubelet starts: its address is the node's IP (the
    kubelet refuses a loopback one), where Pods reach the host. The CNI plugin reuses it."""
    for argv in (
        ["ip", "link", "add", "name", name, "type", "bridge"],
        ["ip", "addr", "add", f"{gateway}/24", "dev", name],
        ["ip", "link", "set", name, "up"],
    ):
        subprocess.run(argv, capture_output=True, text=True, check=True)


def _nat_rules(bridge: str, address: str, apiserver_port: int) -> list[list[str]]:
    """What kube-proxy would do for the one Service Pods need, and a way to the host's loopback
    services: from the bridge, ``10.0.0.1:443`` (the ``kubernetes`` Service) goes to the API
    server, and any port of the node's IP to the same port on 127.0.0.1 (the Git servers)."""
    rule = ["PREROUTING", "-i", bridge, "-p", "tcp"]
    return [
        [*rule, "-d", f"{SERVICE_IP}/32", "--dport", "443", "-j", "DNAT",
         "--to-destination", f"127.0.0.1:{apiserver_port}"],
        [*rule, "-d", f"{address}/32", "-j", "DNAT", "--to-destination", "127.0.0.1"],
    ]  # fmt: skip


def _route_to_host(bridge: str, address: str, apiserver_port: int) -> None:
    # DNAT to 127.0.0.1 from another interface needs route_localnet on that interface.
    Path(f"/proc/sys/net/ipv4/conf/{bridge}/route_localnet").write_text("1")
    for rule in _nat_rules(bridge, address, apiserver_port):
        subprocess.run(["iptables", "-t", "nat", "-A", *rule], capture_output=True, check=True)


def node_ip(data_dir: Path) -> str:
    """The node's IP: its bridge's address, which Pods and the API server reach it at."""
    return str(json.loads((data_dir / "bridge").read_text())["ip"])


def _kubelet_config(
    data_dir: Path, ca: Path, ports: dict[str, int], address: str
) -> dict[str, object]:
    return {
        "apiVersion": "kubelet.config.k8s.io/v1beta1",
        "kind": "KubeletConfiguration",
        "address": address,
        "port": ports["kubelet"],
        "readOnlyPort": 0,
        "healthzBindAddress": "127.0.0.1",
        "healthzPort": ports["kubelet-healthz"],
        "authentication": {
            "anonymous": {"enabled": False},
            "webhook": {"enabled": False},
            "x509": {"clientCAFile": str(ca)},
        },
        "authorization": {"mode": "AlwaysAllow"},  # only the CA's clients get in at all
        "containerRuntimeEndpoint": f"unix://{containerd_socket(data_dir)}",
        "cgroupDriver": "cgroupfs",  # no systemd here
        # No QoS cgroup tree and no node-allocatable enforcement: nested, the kubelet does not
        # own the cgroup hierarchy it runs in.
        "cgroupsPerQOS": False,
        "enforceNodeAllocatable": [],
        "failSwapOn": False,
        "failCgroupV1": False,  # this host is cgroup v1 (hybrid)
        "oomScoreAdj": 0,  # lowering it is refused without CAP_SYS_RESOURCE
        "resolvConf": "/etc/resolv.conf",
        "clusterDomain": "cluster.local",
        "evictionHard": {
            "memory.available": "1Mi",
            "nodefs.available": "1%",
            "imagefs.available": "1%",
        },
        "imageGCHighThresholdPercent": 100,
        "imageMinimumGCAge": "24h",
        "syncFrequency": "5s",
        "fileCheckFrequency": "5s",
        "nodeStatusUpdateFrequency": "5s",
        "serializeImagePulls": False,
        "podPidsLimit": -1,
    }


def start(
    data_dir: Path,
    pki: PKI,
    server: str,
    node_name: str,
    kubeconfig: Callable[[str, str, tuple[str, ...]], Path],
    launch: Launch,
    wait: Wait,
    ports: dict[str, int],
) -> None:
    """Start containerd, kube-scheduler and the kubelet; return once containerd answers (the
    caller waits for the Node to be Ready). ``kubeconfig(name, common_name, organizations)``
    writes a kubeconfig with a client certificate and returns its path."""
    if os.geteuid() != 0:
        raise PermissionError("a real node needs root (containerd, network namespaces, mounts)")
    missing = tools.missing(tools.REAL_NODE)
    if missing:
        raise tools.ToolsMissing(
            f"{', '.join(t.name for t in missing)} not built yet. Build them with: "
            ".venv/bin/python -m clew.testing.tools build " + " ".join(tools.REAL_NODE)
        )
    for program in ("containerd", "runc", "ctr"):
        if subprocess.run(["which", program], capture_output=True, check=False).returncode:
            raise tools.ToolsMissing(
                f"{program} is not installed: apt-get install {' '.join(DEBIAN_PACKAGES)}"
            )
    cni_dir = data_dir / "cni" / "net.d"
    cni_dir.mkdir(parents=True, exist_ok=True)
    bridge = f"clew{ports['kubelet'] % 100000}"
    third = _subnet(ports["kubelet"])
    address = f"10.244.{third}.1"
    apiserver_port = int(server.rsplit(":", 1)[1])
    state = {"name": bridge, "ip": address, "apiserver_port": apiserver_port}
    (data_dir / "bridge").write_text(json.dumps(state))
    _bridge(bridge, address)
    _route_to_host(bridge, address, apiserver_port)
    (cni_dir / "10-clew.conflist").write_text(
        json.dumps(_cni_config(data_dir, bridge, third), indent=2)
    )
    config = data_dir / "containerd.toml"
    config.write_text(_containerd_config(data_dir, cni_dir))
    launch("containerd", ["containerd", "--config", str(config), "--log-level", "warn"])
    wait("containerd", lambda: _answers(data_dir))
    import_image(data_dir, _pause_archive())

    scheduler = kubeconfig("scheduler", "system:kube-scheduler", ())
    launch(
        "kube-scheduler",
        [
            str(tools.binary("kube-scheduler")),
            f"--kubeconfig={scheduler}",
            f"--authentication-kubeconfig={scheduler}",
            f"--authorization-kubeconfig={scheduler}",
            "--bind-address=127.0.0.1",
            f"--secure-port={ports['scheduler']}",
            "--leader-elect=false",
        ],
    )

    node = kubeconfig("kubelet", f"system:node:{node_name}", ("system:nodes",))
    kubelet_config = data_dir / "kubelet.yaml"
    kubelet_config.write_text(
        yaml.safe_dump(_kubelet_config(data_dir, pki.ca.cert, ports, address))
    )
    launch(
        "kubelet",
        [
            str(tools.binary("kubelet")),
            f"--config={kubelet_config}",
            f"--kubeconfig={node}",
            f"--root-dir={data_dir / 'kubelet'}",
            f"--cert-dir={data_dir / 'kubelet' / 'pki'}",
            f"--hostname-override={node_name}",
            f"--node-ip={address}",
            "--v=1",
        ],
    )


def _answers(data_dir: Path) -> bool:
    if not containerd_socket(data_dir).exists():
        return False
    try:
        ctr(data_dir, "version", timeout=5)
    except (subprocess.CalledProcessError, subprocess.TimeoutExpired):
        return False
    return True


def _processes() -> dict[int, tuple[int, str]]:
    """pid -> (parent pid, command line) of every process."""
    found: dict[int, tuple[int, str]] = {}
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text()
            cmdline = (entry / "cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace")
        except OSError:
            continue
        parent = int(stat.rsplit(")", 1)[1].split()[1])
        found[int(entry.name)] = (parent, cmdline)
    return found


def cleanup(data_dir: Path) -> None:
    """Kill this node's containerd shims and everything under them (the containers), then
    unmount what is still mounted under ``data_dir`` and delete the node's bridge."""
    socket = str(containerd_socket(data_dir))
    processes = _processes()
    shims = [
        pid for pid, (_, cmd) in processes.items() if "containerd-shim" in cmd and socket in cmd
    ]
    doomed = set(shims)
    grew = True
    while grew:
        children = {pid for pid, (ppid, _) in processes.items() if ppid in doomed} - doomed
        doomed |= children
        grew = bool(children)
    for pid in doomed:
        with contextlib.suppress(ProcessLookupError):
            os.kill(pid, signal.SIGKILL)
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline and any(
        Path(f"/proc/{pid}").exists() and not _zombie(pid) for pid in doomed
    ):
        time.sleep(0.05)
    mounts = []
    for line in Path("/proc/self/mountinfo").read_text().splitlines():
        point = line.split()[4].replace("\\040", " ")
        if point.startswith(f"{data_dir}/"):
            mounts.append(point)
    for point in sorted(mounts, key=len, reverse=True):
        subprocess.run(["umount", "-l", point], capture_output=True, check=False)
    bridge = data_dir / "bridge"
    if bridge.is_file():
        state = json.loads(bridge.read_text())
        for rule in _nat_rules(state["name"], state["ip"], state["apiserver_port"]):
            subprocess.run(["iptables", "-t", "nat", "-D", *rule], capture_output=True, check=False)
        subprocess.run(["ip", "link", "del", state["name"]], capture_output=True, check=False)


def _zombie(pid: int) -> bool:
    try:
        return (Path(f"/proc/{pid}") / "stat").read_text().rsplit(")", 1)[1].split()[0] == "Z"
    except OSError:
        return True
