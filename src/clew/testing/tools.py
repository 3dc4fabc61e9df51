"""The real binaries clew's tests and demo run: etcd, kube-apiserver, kube-controller-manager.

They are built from pinned Go modules (the ``gomod/`` directories next to this file, with their
``go.sum``) through the Go module proxy, and cached under a directory keyed by every version, so the
second run builds nothing. A cold build of Kubernetes takes many minutes on two cores: progress is
printed as packages compile.

Run ``python -m clew.testing.tools build`` (the test and demo scripts do) to build what is missing.
"""

from __future__ import annotations

import contextlib
import fcntl
import hashlib
import json
import os
import shutil
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from importlib import resources
from pathlib import Path

K8S_VERSION = "v1.36.3"
ETCD_VERSION = "v3.6.16"

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
)


def cache_root() -> Path:
    """``$CLEW_CACHE_DIR``, else ``$XDG_CACHE_HOME/clew``, else ``~/.cache/clew``."""
    if env := os.environ.get("CLEW_CACHE_DIR"):
        return Path(env)
    base = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(base) / "clew"


def _gomod_dir(module: str) -> Path:
    return Path(str(resources.files("clew.testing") / "gomod" / module))


def tools_key() -> str:
    """Every version that decides the binaries, plus a digest of the pinned module files."""
    digest = hashlib.sha256()
    for module in sorted({t.module for t in TOOLS}):
        for fname in ("go.mod", "go.sum"):
            path = _gomod_dir(module) / fname
            if path.exists():
                digest.update(path.read_bytes())
    return f"k8s-{K8S_VERSION}_etcd-{ETCD_VERSION}_{digest.hexdigest()[:10]}"


def bin_dir() -> Path:
    return cache_root() / "tools" / tools_key() / "bin"


def binary(name: str) -> Path:
    """The path of a built tool, or :class:`ToolsMissing` naming the command to build it."""
    path = bin_dir() / name
    if not path.is_file():
        raise ToolsMissing(
            f"{name} is not built yet (looked in {path.parent}). Build the control-plane tools "
            "with: ./scripts/test (builds then tests) or "
            ".venv/bin/python -m clew.testing.tools build"
        )
    return path


def missing() -> list[GoTool]:
    return [t for t in TOOLS if not (bin_dir() / t.name).is_file()]


@contextlib.contextmanager
def _lock(path: Path) -> Iterator[None]:
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("w") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)  # two builds at once would double the work and memory
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


def _go_env() -> dict[str, str]:
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
    work = cache_root() / "gomod" / tools_key() / module
    work.mkdir(parents=True, exist_ok=True)
    for fname in ("go.mod", "go.sum"):
        src = _gomod_dir(module) / fname
        if src.exists():
            shutil.copyfile(src, work / fname)
    env = _go_env()
    say(f"[{module}] downloading modules through the Go module proxy")
    subprocess.run([go, "mod", "download"], cwd=work, env=env, check=True)
    packages = [t.package for t in tools]
    total = _count_deps(work, packages, env)
    staging = bin_dir().parent / "staging"
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
        bin_dir().mkdir(parents=True, exist_ok=True)
        os.replace(staging / tool.name, bin_dir() / tool.name)
        say(f"[{tool.name}] built in {time.monotonic() - started:.0f}s")


def build(say: Callable[[str], None] = print) -> Path:
    """Build whatever is missing; returns the binary directory. Safe to call concurrently."""
    with _lock(cache_root() / "tools" / "build.lock"):
        todo = missing()
        if not todo:
            say(f"control-plane tools ready in {bin_dir()}")
            return bin_dir()
        for module in sorted({t.module for t in todo}):
            _build_module(module, [t for t in todo if t.module == module], say)
        manifest = {
            "kubernetes": K8S_VERSION,
            "etcd": ETCD_VERSION,
            "go": subprocess.run(
                ["go", "env", "GOVERSION"], capture_output=True, text=True, check=False
            ).stdout.strip(),
        }
        (bin_dir() / "manifest.json").write_text(json.dumps(manifest, indent=2) + "\n")
        return bin_dir()


def main(argv: list[str] | None = None) -> int:
    args = sys.argv[1:] if argv is None else argv
    command = args[0] if args else "build"
    if command == "build":
        build(lambda msg: print(msg, flush=True))
        return 0
    if command == "path":
        print(bin_dir())
        return 0 if not missing() else 1
    print("usage: python -m clew.testing.tools [build|path]", file=sys.stderr)
    return 2


if __name__ == "__main__":
    raise SystemExit(main())
