"""The Helm renderer: the real ``helm template`` on a chart directory in the snapshot, offline.

helm runs with its cache, config and data homes in a temporary directory (the user's repositories,
registries and plugins are never seen) and no kubeconfig, so ``lookup`` finds nothing and nothing
is fetched. Chart dependencies must therefore be vendored in ``charts/``; a missing one is reported
before helm runs. helm follows symlinks inside a chart, so the whole chart is checked first: a
symlink leaving the snapshot is refused.

Values files are looked up relative to the chart first (Argo CD's form), then to the snapshot
root. ``.Capabilities.APIVersions`` and ``.Capabilities.KubeVersion`` are the target cluster's
when the engine passes them (``--api-versions``, ``--kube-version``), so a chart that checks for
an API renders what that cluster serves.

Output: CRDs from ``crds/`` are included (``--include-crds``: a GitOps engine installs them), test
hooks are not (``--skip-tests``). Other hooks are rendered with their ``helm.sh/hook`` annotations
and stay in the list: :func:`clew.render.hooks.split_hooks` takes them out of the release's
ordinary objects so the engine runs them in their lifecycle phase (docs/helm-hooks.md). Each
object's origin is its template's path in the snapshot, from helm's ``# Source:`` comments.
"""

from __future__ import annotations

import json
import re
import tempfile
from pathlib import Path
from typing import Any

from clew.model import Manifest
from clew.render.errors import InvalidManifestError, ToolError
from clew.render.objects import to_manifests
from clew.render.options import RenderOptions
from clew.render.paths import SnapshotDir
from clew.render.runner import find_binary, run, scrub, sealed_env
from clew.render.substitute import substitute_text
from clew.render.yamlload import load_yaml

HELM_HINT = (
    "build it with `.venv/bin/python -m clew.testing.tools build helm` and pass its path "
    "(`.venv/bin/python -m clew.testing.tools path helm`) as helm_binary or $CLEW_HELM, "
    "or put a helm v3 on PATH"
)

_SOURCE = re.compile(r"^# Source: (.+?)\s*$", re.MULTILINE)
_SEPARATOR = re.compile(r"^---[ \t]*(?:\n|$)", re.MULTILINE)
# Where helm's errors name a template: "at (chart/templates/x.yaml:6:12)", "template:
# chart/templates/x.yaml:5:3:", "YAML parse error on chart/templates/x.yaml:".
_TEMPLATE_AT = re.compile(
    r"([\w.-]+(?:/charts/[\w.-]+)*/(?:templates|crds)/[^\s():]+?)(?::(\d+))?[:)\s]"
)


def _chart_metadata(snapshot: SnapshotDir, rel: str, real: Path) -> dict[str, Any]:
    file = f"{rel}/Chart.yaml" if rel != "." else "Chart.yaml"
    if not (real / "Chart.yaml").is_file():
        raise InvalidManifestError("not a Helm chart: no Chart.yaml in the directory", file=rel)
    docs = load_yaml(snapshot.read_text(file, real / "Chart.yaml"), file)
    meta = docs[0].data if docs else None
    if not isinstance(meta, dict) or not isinstance(meta.get("name"), str):
        raise InvalidManifestError("Chart.yaml has no name", file=file)
    return meta


def _dependencies(snapshot: SnapshotDir, rel: str, real: Path, meta: dict[str, Any]) -> list[str]:
    """The names of the chart's declared dependencies (Chart.yaml, or requirements.yaml of an
    apiVersion v1 chart)."""
    deps = meta.get("dependencies")
    requirements = real / "requirements.yaml"
    if deps is None and requirements.is_file():
        file = f"{rel}/requirements.yaml" if rel != "." else "requirements.yaml"
        docs = load_yaml(snapshot.read_text(file, requirements), file)
        data = docs[0].data if docs else None
        deps = data.get("dependencies") if isinstance(data, dict) else None
    if not isinstance(deps, list):
        return []
    return [d["name"] for d in deps if isinstance(d, dict) and isinstance(d.get("name"), str)]


def _vendored(charts: Path, rel: str) -> set[str]:
    """The chart names present in ``charts/``: directories by their Chart.yaml name, archives by
    the ``<name>-<version>.tgz`` file name."""
    names: set[str] = set()
    if not charts.is_dir():
        return names
    for entry in charts.iterdir():
        if entry.is_dir() and (entry / "Chart.yaml").is_file():
            names.add(entry.name)
            file = f"{rel}/charts/{entry.name}/Chart.yaml"
            docs = load_yaml((entry / "Chart.yaml").read_text(encoding="utf-8"), file)
            data = docs[0].data if docs else None
            if isinstance(data, dict) and isinstance(data.get("name"), str):
                names.add(data["name"])
        elif entry.name.endswith(".tgz"):
            # helm names archives <name>-<semver>; a name may itself contain dashes.
            stem = entry.name[: -len(".tgz")]
            parts = stem.split("-")
            names.update("-".join(parts[:i]) for i in range(1, len(parts)))
    return names


def _missing_dependency_error(rel: str, names: list[str]) -> InvalidManifestError:
    return InvalidManifestError(
        f"chart dependencies not vendored in charts/: {', '.join(names)}",
        file=rel,
        hint=f"run `helm dependency build {rel}` and commit the charts/ directory "
        "(clew renders offline and never downloads charts)",
    )


def _origin(source: str, rel: str) -> str:
    """helm's ``<chart name>/templates/x.yaml`` as the template's path in the snapshot."""
    inside = source.split("/", 1)[1] if "/" in source else source
    return inside if rel == "." else f"{rel}/{inside}"


def _parse(stdout: str, rel: str) -> list[Manifest]:
    manifests: list[Manifest] = []
    origin = rel
    for chunk in _SEPARATOR.split(stdout):
        source = _SOURCE.search(chunk)
        if source:
            origin = _origin(source.group(1), rel)
        manifests.extend(to_manifests(load_yaml(chunk, origin), origin, origin=origin))
    return manifests


def _template_error(stderr: str, snapshot: SnapshotDir, rel: str, home: Path) -> Exception:
    # helm's "Use --debug flag to render out invalid YAML" names a flag clew users cannot pass.
    stderr = "\n".join(ln for ln in stderr.splitlines() if not ln.startswith("Use --debug flag"))
    message = scrub(stderr, snapshot.root, home)
    if "missing in charts/ directory" in message:
        names = re.findall(r"missing in charts/ directory: (.+)", message)
        return _missing_dependency_error(rel, names or [message])
    where = _TEMPLATE_AT.search(message)
    if where:
        line = int(where.group(2)) if where.group(2) else None
        return ToolError(
            f"helm template failed: {message}", file=_origin(where.group(1), rel), line=line
        )
    return ToolError(f"helm template failed: {message}", file=rel)


def _values_file(snapshot: SnapshotDir, rel: str, entry: str) -> str:
    """A values file relative to the chart (as Argo CD), else to the snapshot root (clew's
    first form); an error lists both paths tried."""
    tried: list[str] = []
    for base in dict.fromkeys([rel, "."]):
        file_rel, file = snapshot.resolve(entry, base=base, what="values file")
        if file.is_file():
            return str(file)
        tried.append(file_rel)
    raise InvalidManifestError(
        f"values file {entry!r} does not exist in the snapshot (tried {', '.join(tried)})",
        file=tried[0],
        hint="values files are relative to the chart directory, or to the repository root",
    )


def render_helm(
    snapshot: SnapshotDir, rel: str, real: Path, options: RenderOptions
) -> list[Manifest]:
    """Render the chart at ``rel`` with ``helm template``."""
    meta = _chart_metadata(snapshot, rel, real)
    snapshot.walk(rel, real, include_hidden=True)  # refuses symlinks leaving the snapshot
    missing = sorted(
        set(_dependencies(snapshot, rel, real, meta)) - _vendored(real / "charts", rel)
    )
    if missing:
        raise _missing_dependency_error(rel, missing)
    values_files = [_values_file(snapshot, rel, entry) for entry in options.values_files]
    helm = find_binary("helm", options.helm_binary, "CLEW_HELM", HELM_HINT)
    with tempfile.TemporaryDirectory(prefix="clew-helm-") as tmp:
        home = Path(tmp)
        env = sealed_env(
            home,
            {
                "HELM_CACHE_HOME": str(home / "helm-cache"),
                "HELM_CONFIG_HOME": str(home / "helm-config"),
                "HELM_DATA_HOME": str(home / "helm-data"),
            },
        )
        argv = [helm, "template", options.release_name or meta["name"], str(real)]
        argv += ["--namespace", options.namespace, "--include-crds", "--skip-tests"]
        for values_file in values_files:
            argv += ["--values", values_file]
        if options.values:
            inline = home / "inline-values.json"  # JSON is YAML; helm merges it last
            try:
                inline.write_text(json.dumps(options.values))
            except (TypeError, ValueError) as exc:
                raise InvalidManifestError(
                    f"inline Helm values are not plain data: {exc}"
                ) from None
            argv += ["--values", str(inline)]
        if options.kube_version:
            argv += ["--kube-version", options.kube_version]
        for api_version in options.api_versions:
            argv += ["--api-versions", api_version]
        proc = run(
            argv,
            env=env,
            cwd=home,
            timeout=options.timeout,
            what="helm template",
            max_bytes=options.max_bytes,
        )
        if proc.returncode != 0:
            raise _template_error(proc.stderr, snapshot, rel, home)
    stdout = proc.stdout
    if options.substitute is not None:  # post-build variables, on the text (Flux's order)
        stdout = substitute_text(stdout, rel, options.substitute)
    return _parse(stdout, rel)
