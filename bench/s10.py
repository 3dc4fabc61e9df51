"""Benchmark S10 (issue 16): typical applications, 10 to 150 objects, ``clew apply`` against
``kubectl apply --server-side`` (and with ``--prune --applyset``), each cold, as a no-op and as a
one-object change, alternated round by round against one local control plane as the restricted
ServiceAccount; then the controller's path: ``engine.sync`` in-process on a kept-alive client, as
the reconciler calls it, no-op. Writes the "S10" section of docs/benchmarks.md.

    .venv/bin/python -m bench.s10 [--runs 3] [--shapes crds12,crds22,app50,app130]
    .venv/bin/python -m bench.s10 --controller-only [--runs 3]   (prints; the doc stays)
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import os
import platform
import shutil
import statistics
import sys
import tempfile
import time
from collections import Counter, defaultdict
from pathlib import Path

from bench import doc, measure, s10_sets
from bench.s10_controller import controller_noop
from clew.cluster import Cluster, NotFound
from clew.testing.controlplane import RESTRICTED_NAMESPACE, RESTRICTED_SA, ControlPlane

ROOT = Path(__file__).resolve().parent.parent
DOC = ROOT / "docs" / "benchmarks.md"
BEGIN, END = "<!-- S10 begin: written by bench/s10.py -->", "<!-- S10 end -->"
TOOLS = ("clew", "kubectl", "applyset")
PHASES = ("cold", "noop", "change")
BIN = Path(sys.executable).parent
# Not the tool's requests: watches, and the controllers and kubelet stand-in reacting to objects.
NOISE = measure.NOISE | {
    "pods",
    "pods/status",
    "pods/binding",
    "replicasets",
    "replicasets/status",
    "deployments/status",
    "endpoints",
    "endpointslices",
    "nodes/status",
    "customresourcedefinitions/status",
}


async def grant(admin: Cluster) -> None:
    """What the app shapes need beyond the restricted account's rights: cluster RBAC and
    admission webhook configurations (nothing else)."""
    rules = [
        {
            "apiGroups": ["rbac.authorization.k8s.io"],
            "resources": ["clusterroles", "clusterrolebindings"],
            "verbs": ["*"],
        },
        {
            "apiGroups": ["admissionregistration.k8s.io"],
            "resources": ["validatingwebhookconfigurations", "mutatingwebhookconfigurations"],
            "verbs": ["*"],
        },
    ]
    role = {"apiGroup": "rbac.authorization.k8s.io", "kind": "ClusterRole", "name": "clew-s10"}
    subject = {"kind": "ServiceAccount", "name": RESTRICTED_SA, "namespace": RESTRICTED_NAMESPACE}
    rbac = "rbac.authorization.k8s.io/v1"
    meta = {"name": "clew-s10"}
    await admin.apply(
        {"apiVersion": rbac, "kind": "ClusterRole", "metadata": meta, "rules": rules},
        field_manager="bench",
    )
    await admin.apply(
        {
            "apiVersion": rbac,
            "kind": "ClusterRoleBinding",
            "metadata": meta,
            "roleRef": role,
            "subjects": [subject],
        },
        field_manager="bench",
    )


def applyset_namespace(shape: str, prefix: str) -> str:
    """Where kubectl keeps the ApplySet's parent Secret: kubectl requires ``-n`` to match every
    namespaced object's namespace, so the app sets use their own namespace, created (untimed)
    before the cold run because the parent is written before the objects."""
    return f"{prefix}-ns" if shape.startswith("app") else "default"


def command(tool: str, directory: Path, kubeconfig: Path, prefix: str, shape: str) -> list[str]:
    if tool == "clew":
        clew = [str(BIN / "clew"), "apply", str(directory), "--name", f"s10-{prefix}"]
        return [*clew, "-n", "default", "-o", "json", "--kubeconfig", str(kubeconfig)]
    # -v=6 logs one line per response: kubectl's own request count
    argv = [str(BIN / "kubectl"), "--kubeconfig", str(kubeconfig), "-v=6", "apply", "--server-side"]
    if tool == "applyset":
        namespace = applyset_namespace(shape, prefix)
        argv += ["--prune", f"--applyset=s10-{prefix}", "-n", namespace]
    return [*argv, "-f", str(directory)]


def expected(tool: str, phase: str, run: measure.Run, objects: int) -> int:
    """Check the run did what the phase says (a benchmark of a failing command measures
    nothing); the HTTP requests the tool counted itself (clew's ``-o json``, kubectl's -v=6)."""
    if tool != "clew":
        return run.stderr.count('"Response" verb=')
    result = json.loads(run.stdout)
    if not result["ok"]:
        raise RuntimeError(f"clew apply failed: {result['reason']}: {result['error']}")
    want = {
        "cold": {"created": objects},
        "noop": {"unchanged": objects},
        "change": {"configured": 1, "unchanged": objects - 1},
    }[phase]
    if result["counts"] != want:
        raise RuntimeError(f"clew {phase}: {result['counts']} != {want}")
    return sum(result["requests"].values())


async def one(
    admin: Cluster, tool: str, phase: str, argv: list[str], objects: int
) -> tuple[float, int, int]:
    env = measure.user_env()
    if tool == "applyset":
        env["KUBECTL_APPLYSET"] = "true"
    before = await measure.request_counts(admin)
    run = measure.run(argv, env=env)
    after = await measure.request_counts(admin)
    if run.returncode != 0:
        raise RuntimeError(f"{tool} {phase} failed: {' '.join(argv)}")
    own = expected(tool, phase, run, objects)
    counted = Counter(
        {k: v for k, v in (after - before).items() if k[0] != "WATCH" and k[1] not in NOISE}
    )
    return run.seconds, own, sum(counted.values())


async def cleanup(admin: Cluster, shape: str, prefix: str) -> None:
    refs = s10_sets.definitions(shape, prefix)
    for api_version, kind, name in refs:
        with contextlib.suppress(NotFound):
            await admin.delete(api_version, kind, name)

    async def gone() -> bool:
        for api_version, kind, name in refs:
            with contextlib.suppress(NotFound):
                await admin.get(api_version, kind, name)
                return False
        return True

    # Names never repeat, so a CRD whose finalizer lingers (seen on a busy machine) harms no
    # later measurement: wait a little for a quiet server, then go on.
    deadline = time.monotonic() + 15
    while not await gone():
        if time.monotonic() > deadline:
            print(f"cleanup of {prefix} still pending; going on", file=sys.stderr, flush=True)
            return
        await asyncio.sleep(0.2)


async def one_round(
    plane: ControlPlane,
    admin: Cluster,
    shape: str,
    r: int,
    rows: dict[str, list[float]],
    controller_only: bool = False,
) -> None:
    kubeconfig = plane.restricted_kubeconfig
    work = Path(tempfile.mkdtemp(prefix="clew-s10-"))
    # Rotate who goes first, so no tool always meets a server just warmed by another.
    tools = TOOLS[r % 3 :] + TOOLS[: r % 3]
    prefixes = {t: f"{t[0]}{s10_sets.SHAPES.index(shape)}r{r}" for t in TOOLS}
    try:
        counts = {t: s10_sets.write(shape, prefixes[t], work / prefixes[t]) for t in TOOLS}
        if shape.startswith("app"):
            namespace = applyset_namespace(shape, prefixes["applyset"])
            await admin.apply(
                {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": namespace}},
                field_manager="bench",
            )
        for phase in () if controller_only else PHASES:
            for tool in tools:
                directory = work / prefixes[tool]
                if phase == "change":
                    s10_sets.change(shape, directory, r)
                argv = command(tool, directory, kubeconfig, prefixes[tool], shape)
                seconds, own, server = await one(admin, tool, phase, argv, counts[tool])
                rows[f"{shape}/{tool}/{phase}_s"].append(seconds)
                rows[f"{shape}/{tool}/{phase}_req"].append(own)
                rows[f"{shape}/{tool}/{phase}_server_req"].append(server)
        await controller_noop(
            kubeconfig, work / prefixes["clew"], prefixes["clew"], counts["clew"], rows, shape
        )
        rows[f"{shape}/objects"] = [counts["clew"]]
    finally:
        for t in TOOLS:
            await cleanup(admin, shape, prefixes[t])
        shutil.rmtree(work, ignore_errors=True)


def med(rows: dict[str, list[float]], key: str) -> float:
    values = rows.get(key)
    return statistics.median(values) if values else float("nan")


def _row(*cells: object) -> str:
    return "| " + " | ".join(str(c) for c in cells) + " |"


def report(rows: dict[str, list[float]], shapes: list[str], runs: int, seconds: float) -> str:
    def cell(shape: str, tool: str, phase: str) -> str:
        s, n = med(rows, f"{shape}/{tool}/{phase}_s"), med(rows, f"{shape}/{tool}/{phase}_req")
        return f"{s:.2f} s / {n:.0f}"

    flags = f"--runs {runs} --shapes {','.join(shapes)}"
    lines = [
        BEGIN,
        "## S10: typical applications (10-150 objects) beside kubectl",
        "",
        f"Written by `.venv/bin/python -m bench.s10 {flags}` (issue 16): medians of {runs} rounds "
        f"on {platform.machine()}, Python {platform.python_version()}, {os.cpu_count()} CPUs "
        f"shared with other work; the run took {seconds / 60:.1f} min. One local control plane, "
        "the restricted ServiceAccount, the sets generated by `bench/s10_sets.py`. In each round "
        "the three commands alternate (who goes first rotates), each on its own copy of the set: "
        "cold (nothing exists), no-op (same files again), change (one object edited). Cells are "
        "wall time of the whole command (process start included) / HTTP requests the tool sent, "
        "as it counts them (clew's `-o json` `requests`, kubectl's `-v=6` response lines); the "
        "raw samples also hold the API server's own count (`apiserver_request_total` delta, "
        "`*_server_req`), which includes the controllers' reaction to the objects.",
        "",
        _row(
            "set (objects)",
            "phase",
            "clew apply",
            "kubectl --server-side",
            "kubectl + --prune --applyset",
            "clew / kubectl",
        ),
        "|---|---|---:|---:|---:|---:|",
    ]
    for shape in shapes:
        n = med(rows, f"{shape}/objects")
        for phase in PHASES:
            ratio = med(rows, f"{shape}/clew/{phase}_s") / med(rows, f"{shape}/kubectl/{phase}_s")
            lines.append(
                _row(
                    f"{shape} ({n:.0f})",
                    phase,
                    *(cell(shape, t, phase) for t in TOOLS),
                    f"{ratio:.2f}x",
                )
            )
    lines += [
        "",
        "Goals (issue 16), from the same run:",
        "",
        _row(
            "set",
            "clew cold <= kubectl",
            "clew no-op <= kubectl",
            "change <= 1.2x no-op",
            "controller no-op (informers)",
            "<= 0.2 s and <= 3 requests",
        ),
        "|---|---|---|---|---|---|",
    ]
    for shape in shapes:
        k = {p: med(rows, f"{shape}/kubectl/{p}_s") for p in PHASES}
        c = {p: med(rows, f"{shape}/clew/{p}_s") for p in PHASES}
        ctl_s, ctl_n = med(rows, f"{shape}/ctl_noop_s"), med(rows, f"{shape}/ctl_noop_req")
        list_s = med(rows, f"{shape}/ctl_noop_list_s")
        list_n = med(rows, f"{shape}/ctl_noop_list_req")

        def met(ok: bool) -> str:
            return "yes" if ok else "**no**"

        lines.append(
            _row(
                shape,
                f"{met(c['cold'] <= k['cold'])} ({c['cold'] / k['cold']:.2f}x)",
                f"{met(c['noop'] <= k['noop'])} ({c['noop'] / k['noop']:.2f}x)",
                f"{met(c['change'] <= 1.2 * c['noop'])} ({c['change'] / c['noop']:.2f}x)",
                f"{ctl_s:.3f} s / {ctl_n:.0f} (LIST way: {list_s:.3f} s / {list_n:.0f})",
                met(ctl_s <= 0.2 and ctl_n <= 3),
            )
        )
    samples = {k: [round(x, 4) for x in v] for k, v in sorted(rows.items())}
    lines += [
        "",
        "<details><summary>Raw samples</summary>",
        "",
        "```json",
        json.dumps(samples),
        "```",
        "",
        "</details>",
        END,
    ]
    return "\n".join(lines)


def controller_report(rows: dict[str, list[float]], shapes: list[str], runs: int) -> str:
    """``--controller-only``: the controller's no-op, fed by informers and the LIST way."""
    lines = [
        f"S10 controller no-op, medians of {runs} x 5 (`bench.s10 --controller-only`)",
        _row("set", "informers", "LIST per kind", "<= 0.2 s and <= 3 requests"),
        "|---|---:|---:|---|",
    ]
    for shape in shapes:
        fed = (med(rows, f"{shape}/ctl_noop_s"), med(rows, f"{shape}/ctl_noop_req"))
        listed = (med(rows, f"{shape}/ctl_noop_list_s"), med(rows, f"{shape}/ctl_noop_list_req"))
        ok = "yes" if fed[0] <= 0.2 and fed[1] <= 3 else "**no**"
        cells = [f"{s:.3f} s / {n:.0f}" for s, n in (fed, listed)]
        lines.append(_row(shape, *cells, ok))
    samples = {k: [round(x, 4) for x in v] for k, v in sorted(rows.items())}
    return "\n".join([*lines, "", json.dumps(samples)])


async def main_async(shapes: list[str], runs: int, controller_only: bool = False) -> str:
    started = time.monotonic()
    plane = ControlPlane(say=lambda msg: print(msg, file=sys.stderr, flush=True))
    plane.start()
    try:
        async with Cluster.from_kubeconfig(plane.admin_kubeconfig) as admin:
            await grant(admin)
            rows: defaultdict[str, list[float]] = defaultdict(list)
            for r in range(runs):
                for shape in shapes:
                    print(f"{shape} round {r + 1}/{runs}", file=sys.stderr, flush=True)
                    await one_round(plane, admin, shape, r, rows, controller_only)
    finally:
        plane.stop()
    if controller_only:
        return controller_report(rows, shapes, runs)
    return report(rows, shapes, runs, time.monotonic() - started)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--shapes", default=",".join(s10_sets.SHAPES))
    parser.add_argument("--output", default=str(DOC))
    parser.add_argument(
        "--controller-only", action="store_true", help="only the controller's no-op; prints"
    )
    args = parser.parse_args()
    shapes = args.shapes.split(",")
    text = asyncio.run(main_async(shapes, args.runs, args.controller_only))
    if not args.controller_only:
        doc.write_section(Path(args.output), text, BEGIN, END)
    print(text)


if __name__ == "__main__":
    main()
