"""The CLI's fixed start-up cost (issue 14): ``clew --help`` and ``clew render`` of a 2-object
kustomization, beside ``kubectl kustomize`` of the same directory and the bare interpreter
(``python -c pass``, the floor no Python CLI goes under), alternated run by run; and ``clew
apply`` of the same tree against an API server address that refuses connections: the start-up
and everything up to its first request (issue 16's S10 misses are bounded by it), then the
error, with no control plane needed. Writes the "CLI
start" section of docs/benchmarks.md: median and fastest wall time, and the median CPU time
(user + system, the command's children included), which a busy machine inflates less than wall
time; the load average is written beside them.

    .venv/bin/python -m bench.cli_start [--runs 15] [--base REV]

``--base REV`` also runs ``clew --help`` and ``clew render`` of commit REV (its ``src/``
exported to a temporary directory and put first on ``PYTHONPATH``) in the same rounds: the
before/after of a change on one machine in one run.
"""

from __future__ import annotations

import argparse
import os
import platform
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path

import yaml

from bench import doc, measure

ROOT = Path(__file__).resolve().parent.parent
BEGIN, END = "<!-- CLI begin: written by bench/cli_start.py -->", "<!-- CLI end -->"
BIN = Path(sys.executable).parent


def kustomization(directory: Path) -> Path:
    """Two objects and a kustomization naming them: the smallest thing worth rendering."""
    directory.mkdir(parents=True, exist_ok=True)
    objs = [
        {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "a"}, "data": {"k": "v"}},
        {
            "apiVersion": "v1",
            "kind": "Service",
            "metadata": {"name": "b"},
            "spec": {"ports": [{"port": 80}]},
        },
    ]
    (directory / "objects.yaml").write_text(yaml.safe_dump_all(objs))
    kust = {"resources": ["objects.yaml"], "namespace": "demo"}
    (directory / "kustomization.yaml").write_text(yaml.safe_dump(kust))
    return directory


# Port 1 on loopback: nothing listens there, so the first connection is refused at once.
REFUSED = """apiVersion: v1
kind: Config
clusters: [{name: c, cluster: {server: "https://127.0.0.1:1", insecure-skip-tls-verify: true}}]
users: [{name: u, user: {token: t}}]
contexts: [{name: x, context: {cluster: c, user: u}}]
current-context: x
"""
APPLY = "clew apply (to its first request)"
# Exit 2 is the expected one here (nothing applied: no API server); measure.run takes 0 or 1,
# so a shell (about 1 ms more) turns 2 into 0 and anything else into 1.
EXPECT_2 = ["sh", "-c", '"$@"; [ $? -eq 2 ]', "sh"]


def commands(tree: Path) -> dict[str, list[str]]:
    kubeconfig = tree.parent / "refused.kubeconfig"
    kubeconfig.write_text(REFUSED)
    return {
        "python -c pass": [sys.executable, "-c", "pass"],
        "clew --help": [str(BIN / "clew"), "--help"],
        "clew render (2 objects)": [str(BIN / "clew"), "render", str(tree)],
        "kubectl kustomize (2 objects)": [str(BIN / "kubectl"), "kustomize", str(tree)],
        APPLY: [*EXPECT_2, str(BIN / "clew"), "apply", str(tree), "--kubeconfig", str(kubeconfig)],
    }


def _export(rev: str, into: Path) -> Path:
    """``src/`` of commit ``rev``, written under ``into``."""
    archive = subprocess.run(
        ["git", "-C", str(ROOT), "archive", rev, "src"], capture_output=True, check=True
    ).stdout
    subprocess.run(["tar", "-x", "-C", str(into)], input=archive, check=True)
    return into / "src"


def measure_all(
    runs: int, base: str | None = None
) -> tuple[dict[str, list[float]], dict[str, list[float]]]:
    samples: dict[str, list[float]] = {}
    cpu: dict[str, list[float]] = {}
    with tempfile.TemporaryDirectory(prefix="clew-cli-") as work:
        cmds = commands(kustomization(Path(work) / "app"))
        envs = dict.fromkeys(cmds, measure.user_env())
        if base is not None:
            old = dict(measure.user_env(), PYTHONPATH=str(_export(base, Path(work))))
            for name in ("clew --help", "clew render (2 objects)", APPLY):
                cmds[f"{name} at {base}"] = cmds[name]
                envs[f"{name} at {base}"] = old
        for name, argv in cmds.items():  # warm the page cache and the bytecode caches once
            measure.run(argv, env=envs[name])
        for _ in range(runs):
            for name, argv in cmds.items():
                run = measure.run(argv, env=envs[name])
                if run.returncode != 0:
                    raise RuntimeError(f"{name} failed:\n{run.stderr[-2000:]}")
                samples.setdefault(name, []).append(run.seconds)
                cpu.setdefault(name, []).append(run.cpu_seconds)
    return samples, cpu


def report(
    samples: dict[str, list[float]], cpu: dict[str, list[float]], runs: int, load: str
) -> str:
    med = {k: statistics.median(v) for k, v in samples.items()}
    fastest = {k: min(v) for k, v in samples.items()}
    cpu_med = {k: statistics.median(v) for k, v in cpu.items()}
    helps, render = med["clew --help"], med["clew render (2 objects)"]
    kubectl = med["kubectl kustomize (2 objects)"]
    names = {
        "clew --help": "`clew --help`",
        "clew render (2 objects)": "`clew render`",
        "kubectl kustomize (2 objects)": "`kubectl kustomize`",
        "python -c pass": "`python -c pass` (the interpreter's floor)",
        APPLY: "`clew apply` to its first request (refused)",
    }
    goals = {
        "clew --help": ("<= 0.15 s", helps <= 0.15),
        "clew render (2 objects)": (
            f"<= 3x kubectl ({render / kubectl:.1f}x)",
            render <= 3 * kubectl,
        ),
    }
    rows = [
        (
            label,
            f"{med[key]:.3f} s",
            f"{fastest[key]:.3f} s",
            f"{cpu_med[key]:.3f} s",
            *goals.get(key, ("", None)),
        )
        for key, label in names.items()
    ]
    for key in sorted(set(med) - set(names)):  # --base: the same commands at another commit
        rows.append(
            (
                f"`{key}`",
                f"{med[key]:.3f} s",
                f"{fastest[key]:.3f} s",
                f"{cpu_med[key]:.3f} s",
                "",
                None,
            )
        )
    lines = [
        BEGIN,
        "## CLI start-up",
        "",
        f"Written by `.venv/bin/python -m bench.cli_start --runs {runs}`: {runs} runs each, "
        f"alternated, on {platform.machine()} with Python {platform.python_version()}, bytecode "
        f"caches allowed (as users run clew); load average (1 min) {load} on "
        f"{os.cpu_count()} CPUs. Goals are read on the median wall time.",
        "",
        "| command | median wall | fastest wall | median CPU | goal | met |",
        "|---|---:|---:|---:|---|---|",
    ]
    for name, value, best, cpu_s, goal, met in rows:
        verdict = "" if met is None else ("yes" if met else "**no**")
        lines.append(f"| {name} | {value} | {best} | {cpu_s} | {goal} | {verdict} |")
    lines += ["", END]
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--runs", type=int, default=15)
    parser.add_argument("--output", default=str(ROOT / "docs" / "benchmarks.md"))
    parser.add_argument("--base", help="a commit to measure beside this tree (its src/)")
    args = parser.parse_args()
    before = os.getloadavg()[0]
    samples, cpu = measure_all(args.runs, args.base)
    load = f"{before:.1f} before, {os.getloadavg()[0]:.1f} after"
    text = report(samples, cpu, args.runs, load)
    if args.base:
        text = text.replace(" --runs ", f" --base {args.base} --runs ", 1)
    doc.write_section(Path(args.output), text, BEGIN, END)
    print(text)


if __name__ == "__main__":
    main()
