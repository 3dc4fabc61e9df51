"""Where clew finds the binaries built into its cache: the cache directory, the key of each pinned
Go module, and :func:`cached_helm` (the helm the CLI and the controller render with when no other
is given).

Production code reads the cache here; building it is the test kit's job
(:mod:`clew.testing.tools`), which production code never imports. The pinned modules
(``testing/gomod/<module>``: go.mod, go.sum, wrapper sources) are read as package data, because
their digest is part of the cache key.
"""

from __future__ import annotations

import hashlib
import os
from pathlib import Path

__all__ = [
    "ETCD_VERSION",
    "HELM_KUBE_MINOR",
    "HELM_VERSION",
    "K8S_VERSION",
    "OTELCOL_VERSION",
    "REGISTRY_VERSION",
    "SOPS_VERSION",
    "bin_dir",
    "cache_root",
    "cached_helm",
    "gomod_dir",
    "module_files",
    "module_key",
    "tools_key",
]

K8S_VERSION = "v1.36.3"
ETCD_VERSION = "v3.6.16"
HELM_VERSION = "v3.22.0"
# helm's default .Capabilities.KubeVersion comes from the client-go it is built with (v0.37 for
# helm v3.22); its Makefile passes these through ldflags, without which helm reports v1.20.
HELM_KUBE_MINOR = "37"
# The collector's core release (its stable modules are v1.67.0; contrib modules v0.161.0).
OTELCOL_VERSION = "v0.161.0"
# sops encrypts the SOPS tests' fixtures; clew itself decrypts natively (clew.render.sops).
SOPS_VERSION = "v3.13.3"
# The OCI registry of the test kit: distribution/distribution (cmd/registry).
REGISTRY_VERSION = "v3.1.2"

# Go modules whose binaries share one cache directory (keyed by ``tools_key()``); every other
# module gets a directory keyed by its own version and files.
CONTROL_PLANE_MODULES = ("etcd", "k8s")
MODULE_VERSIONS = {
    "helm": HELM_VERSION,
    "otelcol": OTELCOL_VERSION,
    "pause": "v1",
    "sops": SOPS_VERSION,
    "registry": REGISTRY_VERSION,
}


def cache_root() -> Path:
    """``$CLEW_CACHE_DIR``, else ``$XDG_CACHE_HOME/clew``, else ``~/.cache/clew``."""
    if env := os.environ.get("CLEW_CACHE_DIR"):
        return Path(env)
    base = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(base) / "clew"


def gomod_dir(module: str) -> Path:
    """The pinned Go module ``module`` (package data; importing ``clew`` alone, not the kit)."""
    # Beside this file, not through importlib.resources (which costs `clew render` a few ms of
    # imports): clew is installed as plain files, never zipped.
    return Path(__file__).resolve().parent / "testing" / "gomod" / module


def module_files(module: str) -> list[Path]:
    """go.mod, go.sum and the wrapper's own Go sources (if it has any), in a stable order."""
    directory = gomod_dir(module)
    pinned = [directory / f for f in ("go.mod", "go.sum") if (directory / f).exists()]
    return pinned + sorted(directory.glob("*.go"))


def _digest(modules: tuple[str, ...]) -> str:
    digest = hashlib.sha256()
    for module in sorted(modules):
        for path in module_files(module):
            digest.update(path.read_bytes())
    return digest.hexdigest()[:10]


def tools_key() -> str:
    """The control plane's key: every version that decides its binaries, plus a digest of the
    pinned module files."""
    digest = _digest(CONTROL_PLANE_MODULES)
    return f"k8s-{K8S_VERSION}_etcd-{ETCD_VERSION}_{digest}"


def module_key(module: str) -> str:
    """The cache key of one Go module's binaries (the control plane's modules share one)."""
    if module in CONTROL_PLANE_MODULES:
        return tools_key()
    return f"{module}-{MODULE_VERSIONS[module]}_{_digest((module,))}"


def bin_dir(module: str = "k8s") -> Path:
    """Where the binaries of ``module`` live (by default the control plane's)."""
    return cache_root() / "tools" / module_key(module) / "bin"


def cached_helm() -> str | None:
    """The pinned helm when it was built into the cache, else None (the render stage then takes
    $CLEW_HELM or helm on PATH). An installed clew has no pinned modules: also None."""
    if not gomod_dir("helm").is_dir():
        return None
    path = bin_dir("helm") / "helm"
    return str(path) if path.is_file() else None
