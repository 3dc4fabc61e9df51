"""The real binaries clew's tests and demo run: etcd, kube-apiserver, kube-controller-manager
(the control plane) and helm (the render stage); and, built the first time a test asks for it, an
OpenTelemetry Collector (``otelcol``: the tracing tests' OTLP receiver) and ``sops`` (the SOPS
tests encrypt their fixtures with it).

They are built from pinned Go modules (the ``gomod/`` directories next to this file, with their
``go.sum``) through the Go module proxy, and cached under a directory keyed by every version, so the
second run builds nothing. A cold build of Kubernetes takes many minutes on two cores: progress is
printed as packages compile.

The control plane, helm and the collector are keyed separately, so pinning another helm or collector
never rebuilds Kubernetes (and the reverse).

Run ``python -m clew.testing.tools build`` (the test and demo scripts do) to build what is missing,
or ``python -m clew.testing.tools build helm`` for one tool.
"""

from __future__ import annotations

import contextlib
import fcntl
import json
import os
import shutil
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

from clew import tools as _cache

# The pins and the cache layout live in production code (clew.tools), which finds a built helm
# without importing this kit; named here too, for the kit's callers.
K8S_VERSION = _cache.K8S_VERSION
ETCD_VERSION = _cache.ETCD_VERSION
HELM_VERSION = _cache.HELM_VERSION
HELM_KUBE_MINOR = _cache.HELM_KUBE_MINOR
OTELCOL_VERSION = _cache.OTELCOL_VERSION
REGISTRY_VERSION = _cache.REGISTRY_VERSION
_CONTROL_PLANE_MODULES = _cache.CONTROL_PLANE_MODULES
cache_root = _cache.cache_root
bin_dir = _cache.bin_dir
module_key = _cache.module_key
tools_key = _cache.tools_key
_module_files = _cache.module_files

_VERSION_PACKAGES = ("k8s.io/component-base/version", "k8s.io/client-go/pkg/version")


class ToolsMissing(RuntimeError):
    """A binary is not built yet; the message says the command that builds it."""


@dataclass(frozen=True)
class GoTool:
    name: str
    module: str  # directory under gomod/
    package: str
    ldflags: str = "-s -w"
    tags: str = ""


def _k8s_ldflags() -> str:
    major, minor = K8S_VERSION.lstrip("v").split(".")[:2]
    flags = ["-s", "-w"]
    for pkg in _VERSION_PACKAGES:
        flags += [
            f"-X {pkg}.gitVersion={K8S_VERSION}",
            f"-X {pkg}.gitMajor={major}",
            f"-X {pkg}.gitMinor={minor}",
            f"-X {pkg}.gitTreeState=clean",
            f"-X {pkg}.buildDate=1970-01-01T00:00:00Z",
        ]
    return " ".join(flags)


def _helm_ldflags() -> str:
    # The same -X flags as helm's Makefile for a tagged release, so `helm version` tells the truth.
    flags = [
        "-s",
        "-w",
        f"-X helm.sh/helm/v3/internal/version.version={HELM_VERSION}",
        "-X helm.sh/helm/v3/internal/version.metadata=",
        "-X helm.sh/helm/v3/internal/version.gitTreeState=clean",
    ]
    for pkg in ("helm.sh/helm/v3/pkg/lint/rules", "helm.sh/helm/v3/pkg/chartutil"):
        flags += [f"-X {pkg}.k8sVersionMajor=1", f"-X {pkg}.k8sVersionMinor={HELM_KUBE_MINOR}"]
    return " ".join(flags)


TOOLS: tuple[GoTool, ...] = (
    GoTool("etcd", "etcd", "go.etcd.io/etcd/server/v3"),
    GoTool(
        "kube-apiserver",
        "k8s",
        "k8s.io/kubernetes/cmd/kube-apiserver",
        _k8s_ldflags(),
        "selinux,notest",
    ),
    GoTool(
        "kube-controller-manager",
        "k8s",
        "k8s.io/kubernetes/cmd/kube-controller-manager",
        _k8s_ldflags(),
        "selinux,notest",
    ),
    GoTool("helm", "helm", "helm.sh/helm/v3/cmd/helm", _helm_ldflags()),
)

ON_DEMAND: tuple[GoTool, ...] = (
    # A wrapper module with its own main.go (gomod/otelcol): otlp receiver, file exporter.
    GoTool("otelcol", "otelcol", "clew.dev/tools/otelcol"),
    # The real node (`clew local up --kubelet real`): the kubelet and the scheduler that binds
    # Pods to it, from the same pinned module as the API server, and the sandbox's pause process.
    GoTool("kubelet", "k8s", "k8s.io/kubernetes/cmd/kubelet", _k8s_ldflags(), "selinux,notest"),
    GoTool(
        "kube-scheduler",
        "k8s",
        "k8s.io/kubernetes/cmd/kube-scheduler",
        _k8s_ldflags(),
        "selinux,notest",
    ),
    GoTool("pause", "pause", "clew.dev/tools/pause"),
    # The SOPS tests encrypt their fixtures with the real sops at test time.
    GoTool(
        "sops",
        "sops",
        "github.com/getsops/sops/v3/cmd/sops",
        f"-s -w -X github.com/getsops/sops/v3/version.Version={_cache.SOPS_VERSION.lstrip('v')}",
    ),
    # The OCI registry of the test kit (testing/registry.py): htpasswd auth, TLS.
    GoTool(
        "registry",
        "registry",
        "github.com/distribution/distribution/v3/cmd/registry",
        f"-s -w -X github.com/distribution/distribution/v3/version.version={REGISTRY_VERSION}",
    ),
)
"""Tools that ``build()`` without names leaves alone: a test builds them when it needs them
(``build(say, ("otelcol",))``), so a plain bootstrap costs what it did."""

CONTROL_PLANE = ("etcd", "kube-apiserver", "kube-controller-manager")
REAL_NODE = ("kubelet", "kube-scheduler", "pause")
"""What ``clew local up --kubelet real`` needs besides the control plane."""
"""The tools a local control plane needs, for ``missing(CONTROL_PLANE)`` and
``build(say, CONTROL_PLANE)``."""


def _tool(name: str) -> GoTool:
    for tool in (*TOOLS, *ON_DEMAND):
        if tool.name == name:
            return tool
    known = ", ".join(t.name for t in (*TOOLS, *ON_DEMAND))
    raise KeyError(f"unknown tool {name!r}; known: {known}")


def binary(name: str) -> Path:
    """The path of a built tool, or :class:`ToolsMissing` naming the command to build it."""
    path = bin_dir(_tool(name).module) / name
    if not path.is_file():
        raise ToolsMissing(
            f"{name} is not built yet (looked in {path.parent}). Build it with: "
            f".venv/bin/python -m clew.testing.tools build {name} (or build every tool with "
            "./scripts/bootstrap or .venv/bin/python -m clew.testing.tools build)"
        )
    return path


def missing(names: tuple[str, ...] | None = None) -> list[GoTool]:
    """The tools (all, or those named) that are not built yet."""
    wanted = TOOLS if names is None else tuple(_tool(n) for n in names)
    return [t for t in wanted if not (bin_dir(t.module) / t.name).is_file()]


@contextlib.contextmanager
def build_lock(path: Path) -> Iterator[None]:
    """Hold the file lock ``path`` (every build of a cached tool, here or in bench/, takes it)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("w") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)  # two builds at once would double the work and memory
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


def go_env() -> dict[str, str]:
    """The environment for ``go build`` of a pinned module: static, module mode, local toolchain."""
    env = dict(os.environ)
    env.update(CGO_ENABLED="0", GOFLAGS="-mod=mod -buildvcs=false", GOTOOLCHAIN="local")
    return env


def _count_deps(workdir: Path, packages: list[str], env: dict[str, str]) -> int:
    out = subprocess.run(
        ["go", "list", "-deps", *packages],
        cwd=workdir,
        env=env,
        capture_output=True,
        text=True,
        check=False,
    )
    return max(1, len(out.stdout.splitlines()))


def _build_module(module: str, tools: list[GoTool], say: Callable[[str], None]) -> None:
    """Build every tool of one Go module into the cache, printing progress as packages compile."""
    go = shutil.which("go")
    if go is None:
        raise ToolsMissing("the Go toolchain (go >= 1.26) is needed to build the control plane")
    work = cache_root() / "gomod" / module_key(module) / module
    work.mkdir(parents=True, exist_ok=True)
    for src in _module_files(module):
        shutil.copyfile(src, work / src.name)
    env = go_env()
    say(f"[{module}] downloading modules through the Go module proxy")
    subprocess.run([go, "mod", "download"], cwd=work, env=env, check=True)
    packages = [t.package for t in tools]
    total = _count_deps(work, packages, env)
    staging = bin_dir(module).parent / "staging"
    staging.mkdir(parents=True, exist_ok=True)
    for tool in tools:
        started = time.monotonic()
        cmd = [go, "build", "-v", "-p", "2", "-trimpath", "-ldflags", tool.ldflags]
        if tool.tags:
            cmd += ["-tags", tool.tags]
        cmd += ["-o", str(staging / tool.name), tool.package]
        say(
            f"[{tool.name}] building {tool.package} "
            f"(about {total} packages; cold builds take minutes)"
        )
        proc = subprocess.Popen(cmd, cwd=work, env=env, stderr=subprocess.PIPE, text=True)
        assert proc.stderr is not None
        last = 0.0
        tail: list[str] = []
        for compiled, line in enumerate(proc.stderr, start=1):
            tail = [*tail[-30:], line.rstrip()]
            now = time.monotonic()
            if now - last >= 15:
                last = now
                say(f"[{tool.name}] {compiled} packages compiled ({now - started:.0f}s)")
        if proc.wait() != 0:
            raise RuntimeError(f"building {tool.name} failed:\n" + "\n".join(tail))
        bin_dir(module).mkdir(parents=True, exist_ok=True)
        os.replace(staging / tool.name, bin_dir(module) / tool.name)
        say(f"[{tool.name}] built in {time.monotonic() - started:.0f}s")


def _write_manifest(module: str) -> None:
    if module in _CONTROL_PLANE_MODULES:
        versions = {"kubernetes": K8S_VERSION, "etcd": ETCD_VERSION}
    else:
        versions = {module: _cache.MODULE_VERSIONS[module]}
    versions["go"] = subprocess.run(
        ["go", "env", "GOVERSION"], capture_output=True, text=True, check=False
    ).stdout.strip()
    (bin_dir(module) / "manifest.json").write_text(json.dumps(versions, indent=2) + "\n")


def build(say: Callable[[str], None] = print, names: tuple[str, ...] | None = None) -> Path:
    """Build whatever is missing (of every tool, or of those named); returns the control plane's
    binary directory. Safe to call concurrently."""
    with build_lock(cache_root() / "tools" / "build.lock"):
        todo = missing(names)
        if not todo:
            say(f"tools ready in {cache_root() / 'tools'}")
            return bin_dir()
        for module in sorted({t.module for t in todo}):
            _build_module(module, [t for t in todo if t.module == module], say)
            _write_manifest(module)
        return bin_dir()


def main(argv: list[str] | None = None) -> int:
    args = sys.argv[1:] if argv is None else argv
    command = args[0] if args else "build"
    names = tuple(args[1:]) or None
    try:
        if command == "build":
            build(lambda msg: print(msg, flush=True), names)
            return 0
        if command == "path":  # no names: the control plane's directory; else each binary
            if names is None:
                print(bin_dir())
                return 0 if not missing(CONTROL_PLANE) else 1
            for name in names:
                print(bin_dir(_tool(name).module) / name)
            return 0 if not missing(names) else 1
    except KeyError as exc:
        print(f"error: {exc.args[0]}", file=sys.stderr)
        return 2
    print("usage: python -m clew.testing.tools [build|path] [TOOL...]", file=sys.stderr)
    return 2


if __name__ == "__main__":
    raise SystemExit(main())
