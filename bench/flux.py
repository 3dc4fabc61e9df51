"""B2, Flux's own apply engine as the peer: ``bench/fluxssa`` (fluxcd/pkg/ssa's ResourceManager,
driven as kustomize-controller drives it) built from its pinned Go modules into the tools cache,
keyed by the digest of its go.mod, go.sum and main.go, and run on the same objects, as the same
ServiceAccount, against the same control plane as clew and the other baselines.

    .venv/bin/python -m bench.flux build     # build it now (bench.run builds it when missing)
"""

from __future__ import annotations

import hashlib
import json
import shutil
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

from bench import measure
from clew.testing import tools

SOURCE = Path(__file__).resolve().parent / "fluxssa"
SSA_VERSION = "v0.78.0"  # fluxcd/pkg/ssa, pinned in fluxssa/go.mod


def _files() -> list[Path]:
    return [SOURCE / name for name in ("go.mod", "go.sum", "main.go")]


def binary_path() -> Path:
    digest = hashlib.sha256()
    for path in _files():
        digest.update(path.name.encode() + b"\0" + path.read_bytes())
    key = f"fluxssa-{SSA_VERSION}-{digest.hexdigest()[:12]}"
    return tools.cache_root() / "tools" / key / "fluxssa"


def build(say: Callable[[str], None] = print) -> Path:
    """The built B2 binary, building it first if this source was never built (a cold build
    compiles client-go and controller-runtime: about 2-3 minutes on two cores)."""
    path = binary_path()
    with tools.build_lock(tools.cache_root() / "tools" / "build.lock"):
        if path.is_file():
            return path
        go = shutil.which("go")
        if go is None:
            raise tools.ToolsMissing("bench/fluxssa needs the Go toolchain (go >= 1.26)")
        work = path.parent / "src"
        work.mkdir(parents=True, exist_ok=True)
        for src in _files():
            shutil.copyfile(src, work / src.name)
        say(f"[fluxssa] building Flux's engine (fluxcd/pkg/ssa {SSA_VERSION}) from Go modules")
        cmd = [go, "build", "-p", "2", "-trimpath", "-ldflags", "-s -w", "-o", str(path) + ".tmp"]
        subprocess.run([*cmd, "."], cwd=work, env=tools.go_env(), check=True)
        Path(str(path) + ".tmp").replace(path)
        say(f"[fluxssa] built {path}")
        return path


VARIANTS = {
    # kustomize-controller's defaults: --concurrent-ssa 4, --kube-api-qps 50 (burst 300).
    "b2": ["-concurrency", "4", "-qps", "50"],
    # The engine alone: no client-side rate limit, clew's and B0's concurrency (16).
    "b2u": ["-concurrency", "16", "-qps", "0"],
}


def apply(
    binary: Path,
    tree: Path,
    kubeconfig: Path,
    name: str,
    namespace: str,
    variant: str = "b2",
    prune: bool = False,
) -> tuple[measure.Run, dict[str, Any]]:
    """One run of B2 over every ``*.yaml`` of ``tree``; its JSON line (seconds, actions)."""
    argv = [str(binary), "-kubeconfig", str(kubeconfig), "-name", name, "-namespace", namespace]
    argv += [*VARIANTS[variant], *(["-prune"] if prune else [])]
    run = measure.run([*argv, str(tree)])
    if run.returncode != 0:
        raise RuntimeError(f"fluxssa failed:\n{run.stderr[-2000:]}")
    result: dict[str, Any] = json.loads(run.stdout)
    return run, result


def main(argv: list[str]) -> int:
    if argv[:1] != ["build"]:
        print("usage: python -m bench.flux build", file=sys.stderr)
        return 2
    print(build(lambda msg: print(msg, flush=True)))
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
