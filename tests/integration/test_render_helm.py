"""The Helm renderer with the real helm (built from Go modules by clew.testing.tools): template
errors come back with helm's words and the template's path and line, a dependency that is not
vendored is refused with what to run, values files must be in the snapshot, a symlink in a chart
that leaves the snapshot is refused. (That helm sees none of the caller's environment is proven on
the environment itself, in tests/unit/test_render_runner.py.)"""

from __future__ import annotations

from pathlib import Path

import pytest

from clew.render import InvalidManifestError, RenderOptions, ToolError, UnsafeSourceError, render
from clew.testing import tools

pytestmark = pytest.mark.integration

CHART = "apiVersion: v2\nname: demo\nversion: 0.1.0\n"
CM_TEMPLATE = (
    "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: {{ .Release.Name }}-cm\n"
    "  namespace: {{ .Release.Namespace }}\ndata:\n"
    '  greeting: {{ .Values.greeting | default "hello" | quote }}\n'
    "  kube: {{ .Capabilities.KubeVersion.Version | quote }}\n"
)


@pytest.fixture(scope="module")
def helm() -> Path:
    try:
        return tools.binary("helm")
    except tools.ToolsMissing as exc:
        pytest.fail(str(exc), pytrace=False)


def tree(root: Path, files: dict[str, str]) -> Path:
    for rel, text in files.items():
        path = root / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text)
    return root


@pytest.fixture
def snap(tmp_path: Path) -> Path:
    tree(tmp_path / "outside", {"values.yaml": "greeting: stolen\n", "secret.txt": "s3cret\n"})
    (tmp_path / "snap").mkdir()
    return tree(
        tmp_path / "snap", {"chart/Chart.yaml": CHART, "chart/templates/cm.yaml": CM_TEMPLATE}
    )


def test_defaults(snap: Path, helm: Path) -> None:
    (manifest,) = render(snap, "chart", RenderOptions(helm_binary=helm))
    assert manifest.origin == "chart/templates/cm.yaml"
    # The release is named after the chart; the namespace is helm's default.
    assert manifest.obj["metadata"] == {"name": "demo-cm", "namespace": "default"}
    # The built helm carries its release's Kubernetes version (ldflags), not helm's v1.20 fallback.
    assert manifest.obj["data"]["kube"] == f"v1.{tools.HELM_KUBE_MINOR}.0"


def test_options_reach_the_template(snap: Path, helm: Path) -> None:
    tree(snap, {"env/a.yaml": "greeting: from-a\n", "env/b.yaml": "greeting: from-b\n"})
    options = RenderOptions(
        helm_binary=helm,
        release_name="rel",
        namespace="team",
        values_files=("env/a.yaml", "env/b.yaml"),
        kube_version="1.30.2",
    )
    (manifest,) = render(snap, "chart", options)
    assert manifest.obj["metadata"] == {"name": "rel-cm", "namespace": "team"}
    assert manifest.obj["data"] == {"greeting": "from-b", "kube": "v1.30.2"}
    inline = RenderOptions(helm_binary=helm, values_files=("env/a.yaml",), values={"greeting": 1})
    assert render(snap, "chart", inline)[0].obj["data"]["greeting"] == "1"


def test_chart_at_the_root(snap: Path, helm: Path) -> None:
    (manifest,) = render(snap / "chart", options=RenderOptions(helm_binary=helm))
    assert manifest.origin == "templates/cm.yaml"


def test_template_error_names_template_and_line(snap: Path, helm: Path) -> None:
    tree(
        snap,
        {
            "chart/templates/need.yaml": "apiVersion: v1\nkind: ConfigMap\nmetadata:\n"
            '  name: {{ required "x is required" .Values.x }}\n'
        },
    )
    with pytest.raises(ToolError, match="x is required") as info:
        render(snap, "chart", RenderOptions(helm_binary=helm))
    assert info.value.file == "chart/templates/need.yaml"
    assert info.value.line == 4
    assert str(snap) not in str(info.value)
    assert "--debug" not in str(info.value)  # helm's advice names a flag clew users cannot pass


def test_template_producing_bad_yaml(snap: Path, helm: Path) -> None:
    tree(snap, {"chart/templates/bad.yaml": "kind: ConfigMap\nmetadata:\n  name: [x\n"})
    with pytest.raises(ToolError, match="YAML parse error") as info:
        render(snap, "chart", RenderOptions(helm_binary=helm))
    assert info.value.file == "chart/templates/bad.yaml"


def test_template_producing_a_nameless_object(snap: Path, helm: Path) -> None:
    tree(snap, {"chart/templates/anon.yaml": "apiVersion: v1\nkind: ConfigMap\nmetadata: {}\n"})
    with pytest.raises(InvalidManifestError, match=r"has no metadata\.name") as info:
        render(snap, "chart", RenderOptions(helm_binary=helm))
    assert info.value.file == "chart/templates/anon.yaml"


def test_missing_dependency_says_to_vendor_it(snap: Path, helm: Path) -> None:
    deps = "dependencies:\n  - name: redis\n    version: 1.0.0\n    repository: oci://example.com\n"
    tree(snap, {"chart/Chart.yaml": CHART + deps})
    with pytest.raises(InvalidManifestError, match="not vendored in charts/: redis") as info:
        render(snap, "chart", RenderOptions(helm_binary=helm))
    assert "helm dependency build chart" in info.value.hint
    assert "commit the charts/ directory" in info.value.hint


def test_vendored_dependency_is_used(snap: Path, helm: Path) -> None:
    deps = "dependencies:\n  - name: sub\n    version: 0.1.0\n    repository: file://../sub\n"
    tree(
        snap,
        {
            "chart/Chart.yaml": CHART + deps,
            "chart/charts/sub/Chart.yaml": "apiVersion: v2\nname: sub\nversion: 0.1.0\n",
            "chart/charts/sub/templates/cm.yaml": CM_TEMPLATE.replace("-cm", "-sub"),
        },
    )
    origins = [m.origin for m in render(snap, "chart", RenderOptions(helm_binary=helm))]
    assert origins == ["chart/charts/sub/templates/cm.yaml", "chart/templates/cm.yaml"]


def test_duplicate_objects_from_two_templates(snap: Path, helm: Path) -> None:
    tree(snap, {"chart/templates/again.yaml": CM_TEMPLATE})
    with pytest.raises(InvalidManifestError, match="defined twice") as info:
        render(snap, "chart", RenderOptions(helm_binary=helm))
    assert "chart/templates/again.yaml" in str(info.value)
    assert "chart/templates/cm.yaml" in str(info.value)


def test_values_file_outside_the_snapshot_is_refused(snap: Path, helm: Path) -> None:
    for path in ("../outside/values.yaml", str(snap.parent / "outside" / "values.yaml")):
        with pytest.raises(UnsafeSourceError):
            render(snap, "chart", RenderOptions(helm_binary=helm, values_files=(path,)))
    (snap / "linked.yaml").symlink_to(snap.parent / "outside" / "values.yaml")
    with pytest.raises(UnsafeSourceError, match="through a symlink"):
        render(snap, "chart", RenderOptions(helm_binary=helm, values_files=("linked.yaml",)))
    with pytest.raises(InvalidManifestError, match="does not exist"):
        render(snap, "chart", RenderOptions(helm_binary=helm, values_files=("nope.yaml",)))


def test_symlink_in_the_chart_leaving_the_snapshot_is_refused(snap: Path, helm: Path) -> None:
    # helm follows symlinks, so .Files.Get would read the machine's file into a manifest.
    (snap / "chart" / "files").mkdir()
    (snap / "chart" / "files" / "secret.txt").symlink_to(snap.parent / "outside" / "secret.txt")
    tree(
        snap,
        {
            "chart/templates/leak.yaml": "apiVersion: v1\nkind: ConfigMap\nmetadata:\n"
            '  name: leak\ndata:\n  s: {{ .Files.Get "files/secret.txt" | quote }}\n'
        },
    )
    with pytest.raises(UnsafeSourceError, match="outside the snapshot") as info:
        render(snap, "chart", RenderOptions(helm_binary=helm))
    assert info.value.file == "chart/files/secret.txt"


def test_helm_from_the_environment(snap: Path, helm: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("CLEW_HELM", str(helm))
    assert len(render(snap, "chart")) == 1


def test_missing_helm_says_how_to_build_it(snap: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("CLEW_HELM", str(snap / "no-helm"))
    with pytest.raises(ToolError, match="helm is needed") as info:
        render(snap, "chart")
    assert "python -m clew.testing.tools build helm" in info.value.hint


def test_explicit_helm_without_a_chart(snap: Path, helm: Path) -> None:
    with pytest.raises(InvalidManifestError, match=r"no Chart\.yaml"):
        render(snap, options=RenderOptions(kind="helm", helm_binary=helm))
