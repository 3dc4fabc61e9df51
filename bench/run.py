"""clew's benchmarks (issue: sync engine): S1 cold apply, S2 no-op re-apply, S4 prune, each against
baselines measured in the same invocation on the same local control plane, as the restricted
ServiceAccount. Writes docs/benchmarks.md.

    .venv/bin/python -m bench.run [--sizes 1000,5000] [--runs 5] [--no-kubectl]
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import platform
import shutil
import statistics
import sys
import tempfile
import time
from collections import defaultdict
from pathlib import Path
from typing import Any

from bench import baselines, doc, flux, measure, workload
from clew.cluster import Cluster, NotFound
from clew.model import Health
from clew.testing.controlplane import RESTRICTED_NAMESPACE, RESTRICTED_SA, ControlPlane
from clew.wait import wait_for

ROOT = Path(__file__).resolve().parent.parent
BEGIN, END = "<!-- S1-S4 begin: written by bench/run.py -->", "<!-- S1-S4 end -->"
PRUNED = 500


def median(values: list[float]) -> float:
    return statistics.median(values) if values else float("nan")


async def grant_custom_resources(admin: Cluster, prefixes: list[str]) -> None:
    """The restricted account may manage the benchmark's custom resources (nothing else new)."""
    groups = [f"{p}.bench.clew.dev" for p in prefixes]
    await admin.apply(
        {
            "apiVersion": "rbac.authorization.k8s.io/v1",
            "kind": "ClusterRole",
            "metadata": {"name": "clew-bench-things"},
            "rules": [{"apiGroups": groups, "resources": ["*"], "verbs": ["*"]}],
        },
        field_manager="bench",
    )
    await admin.apply(
        {
            "apiVersion": "rbac.authorization.k8s.io/v1",
            "kind": "ClusterRoleBinding",
            "metadata": {"name": "clew-bench-things"},
            "roleRef": {
                "apiGroup": "rbac.authorization.k8s.io",
                "kind": "ClusterRole",
                "name": "clew-bench-things",
            },
            "subjects": [
                {"kind": "ServiceAccount", "name": RESTRICTED_SA, "namespace": RESTRICTED_NAMESPACE}
            ],
        },
        field_manager="bench",
    )


async def cleanup(admin: Cluster, prefix: str) -> None:
    """Delete a run's namespaces and CRDs; wait until they are gone (the next run starts quiet)."""
    objs = [o for o in workload.objects(prefix, 0) if baselines.is_definition(o)]
    for obj in objs:
        with contextlib.suppress(NotFound):
            await admin.delete(obj["apiVersion"], obj["kind"], obj["metadata"]["name"])
    result = await wait_for(admin, objs, timeout=600, until=Health.NOT_FOUND)
    if not result.ok:
        raise RuntimeError(f"cleanup of {prefix} did not finish: {result.summary()}")


def clew_apply(
    tree: Path, kubeconfig: Path, name: str, namespace: str, *extra: str
) -> tuple[measure.Run, dict[str, Any]]:
    clew = str(Path(sys.executable).parent / "clew")
    run = measure.run(
        [
            clew,
            "apply",
            str(tree),
            "--name",
            name,
            "-n",
            namespace,
            "-o",
            "json",
            "--kubeconfig",
            str(kubeconfig),
            *extra,
        ],
        env=measure.user_env(),
    )
    result = json.loads(run.stdout)
    if not result["ok"]:
        raise RuntimeError(f"clew apply failed: {result['reason']}: {result['error']}")
    return run, result


async def flux_round(
    fluxssa: Path,
    variant: str,
    work: Path,
    kubeconfig: Path,
    size: int,
    r: int,
    rows: dict[str, list[float]],
) -> str:
    """B2 on its own copy of the workload: cold apply (S1), no-op (S2), prune of the same 500 (S4).
    Returns the prefix to clean up."""
    prefix = f"{'f' if variant == 'b2' else 'u'}{size}r{r}"
    objs = workload.objects(prefix, size)
    tree = workload.write_tree(work / prefix, objs)
    name, namespace = f"bench-{prefix}", f"{prefix}-ns00"
    run, result = flux.apply(fluxssa, tree, kubeconfig, name, namespace, variant)
    rows[f"s1_{variant}_{size}"].append(run.seconds)
    rows[f"s1_{variant}_cpu_per_1k_{size}"].append(run.cpu_seconds * 1000 / size)
    assert result["actions"].get("created") == size, result["actions"]
    run, result = flux.apply(fluxssa, tree, kubeconfig, name, namespace, variant)
    rows[f"s2_{variant}_{size}"].append(run.seconds)
    assert result["actions"] == {"unchanged": size}, result["actions"]
    doomed = [o for o in objs if not baselines.is_definition(o) and "Thing" not in o["kind"]]
    keep = [o for o in objs if o not in doomed[-PRUNED:]]
    shutil.rmtree(tree)
    workload.write_tree(tree, keep)
    run, result = flux.apply(fluxssa, tree, kubeconfig, name, namespace, variant, prune=True)
    rows[f"s4_{variant}_{size}"].append(run.seconds)
    assert result["actions"].get("deleted") == PRUNED, result["actions"]
    return prefix


async def one_round(
    plane: ControlPlane,
    admin: Cluster,
    size: int,
    r: int,
    use_kubectl: bool,
    rows: dict[str, list[float]],
    fluxssa: Path,
) -> None:
    kubeconfig = plane.restricted_kubeconfig
    api_pid = plane.components["kube-apiserver"].pid
    work = Path(tempfile.mkdtemp(prefix="clew-bench-"))
    try:
        # S1: clew cold apply.
        prefix = f"c{size}r{r}"
        objs = workload.objects(prefix, size)
        tree = workload.write_tree(work / prefix, objs)
        before, api_cpu = await measure.request_counts(admin), measure.proc_cpu_seconds(api_pid)
        run, result = clew_apply(tree, kubeconfig, f"bench-{prefix}", f"{prefix}-ns00")
        requests = measure.requests_between(before, await measure.request_counts(admin))
        rows[f"s1_clew_{size}"].append(run.seconds)
        rows[f"s1_clew_cpu_per_1k_{size}"].append(run.cpu_seconds * 1000 / size)
        rows[f"s1_clew_rss_{size}"].append(run.peak_rss_mib)
        rows[f"s1_api_cpu_per_1k_{size}"].append(
            (measure.proc_cpu_seconds(api_pid) - api_cpu) * 1000 / size
        )
        rows[f"s1_clew_requests_per_object_{size}"].append(sum(requests.values()) / size)
        assert result["counts"].get("created") == size, result["counts"]

        # S2: no-op re-apply of the same objects.
        before = await measure.request_counts(admin)
        run, result = clew_apply(tree, kubeconfig, f"bench-{prefix}", f"{prefix}-ns00")
        requests = measure.requests_between(before, await measure.request_counts(admin))
        rows[f"s2_clew_{size}"].append(run.seconds)
        rows[f"s2_requests_per_object_{size}"].append(sum(requests.values()) / size)
        rows[f"s2_clew_cpu_per_1k_{size}"].append(run.cpu_seconds * 1000 / size)
        assert result["counts"] == {"unchanged": size}, result["counts"]

        # S4: prune 500 of them.
        doomed = [o for o in objs if not baselines.is_definition(o) and "Thing" not in o["kind"]][
            -PRUNED:
        ]
        keep = [o for o in objs if o not in doomed]
        shutil.rmtree(tree)
        workload.write_tree(tree, keep)
        before = await measure.request_counts(admin)
        run, result = clew_apply(tree, kubeconfig, f"bench-{prefix}", f"{prefix}-ns00", "--prune")
        requests = measure.requests_between(before, await measure.request_counts(admin))
        rows[f"s4_clew_{size}"].append(run.seconds)
        rows[f"s4_clew_prune_stage_{size}"].append(result["durations"].get("prune", 0.0))
        rows[f"s4_list_calls_{size}"].append(
            sum(v for (verb, _), v in requests.items() if verb == "LIST")
        )
        assert result["counts"].get("deleted") == len(doomed), result["counts"]

        # Baselines: B0 raw SSA loop, then the raw DELETE floor on the same objects.
        raw_prefix = f"b{size}r{r}"
        raw_objs = workload.objects(raw_prefix, size)
        rows[f"s1_b0_{size}"].append(await baselines.raw_apply(kubeconfig, raw_objs))
        raw_doomed = [
            o for o in raw_objs if not baselines.is_definition(o) and "Thing" not in o["kind"]
        ][-PRUNED:]
        rows[f"s4_raw_delete_{size}"].append(await baselines.raw_delete(kubeconfig, raw_doomed))

        # B2: Flux's engine, the same three scenarios, as kustomize-controller configures it and
        # without its client-side rate limit.
        for variant in flux.VARIANTS:
            done = await flux_round(fluxssa, variant, work, kubeconfig, size, r, rows)
            await cleanup(admin, done)

        if use_kubectl:
            k_prefix = f"k{size}r{r}"
            k_objs = workload.objects(k_prefix, size)
            defs = workload.write_tree(
                work / f"{k_prefix}-defs", [o for o in k_objs if baselines.is_definition(o)]
            )
            rest = workload.write_tree(
                work / f"{k_prefix}-rest", [o for o in k_objs if not baselines.is_definition(o)]
            )
            kubectl = str(Path(sys.executable).parent / "kubectl")
            rows[f"s1_b1_{size}"].append(baselines.kubectl_apply(kubectl, kubeconfig, defs, rest))
            await cleanup(admin, k_prefix)
        await cleanup(admin, prefix)
        await cleanup(admin, raw_prefix)
    finally:
        shutil.rmtree(work, ignore_errors=True)


_B2_LABELS = {
    "b2": "B2 Flux's engine (fluxcd/pkg/ssa, kustomize-controller's defaults)",
    "b2u": "B2u Flux's engine without client rate limit, concurrency 16",
}


def _row(*cells: object) -> str:
    return "| " + " | ".join(str(c) for c in cells) + " |"


def _met(ok: bool) -> str:
    return "yes" if ok else "**no**"


def report(
    rows: dict[str, list[float]],
    sizes: list[int],
    runs: int,
    use_kubectl: bool,
    api_rss: float,
    seconds: float,
) -> str:
    def m(key: str) -> float:
        return median(rows.get(key, []))

    flags = f"--sizes {','.join(map(str, sizes))} --runs {runs}"
    flags += "" if use_kubectl else " --no-kubectl"
    lines = [
        "# Benchmarks",
        "",
        f"Written by `.venv/bin/python -m bench.run {flags}`: medians of {runs} runs on "
        f"{platform.machine()} with Python {platform.python_version()}; the whole run took "
        f"{seconds / 60:.1f} min. Every figure comes from one invocation against one local control "
        "plane (etcd v3.6.16, kube-apiserver v1.36.3), acting as the restricted ServiceAccount. "
        "Compare the ratios: absolute times move with the machine.",
        "",
        _row("scenario", "objects", "clew", "baseline", "ratio", "goal", "met"),
        "|---|---:|---:|---:|---:|---|---|",
    ]
    for n in sizes:
        clew, b0 = m(f"s1_clew_{n}"), m(f"s1_b0_{n}")
        lines.append(
            _row(
                "S1 cold apply vs B0 raw SSA loop",
                n,
                f"{clew:.2f} s",
                f"{b0:.2f} s",
                f"{clew / b0:.2f}x",
                "<= 1.3x",
                _met(clew / b0 <= 1.3),
            )
        )
        if use_kubectl:
            b1 = m(f"s1_b1_{n}")
            lines.append(
                _row(
                    "S1 cold apply vs B1 kubectl apply --server-side",
                    n,
                    f"{clew:.2f} s",
                    f"{b1:.2f} s",
                    f"{b1 / clew:.1f}x faster",
                    ">= 5x faster",
                    _met(b1 / clew >= 5),
                )
            )
        for variant, label in _B2_LABELS.items():
            b2 = m(f"s1_{variant}_{n}")
            lines.append(
                _row(
                    f"S1 cold apply vs {label}",
                    n,
                    f"{clew:.2f} s",
                    f"{b2:.2f} s",
                    f"{clew / b2:.2f}x",
                    "< 1x (faster)",
                    _met(clew < b2),
                )
            )
        s2, per = m(f"s2_clew_{n}"), m(f"s2_requests_per_object_{n}")
        for variant, label in _B2_LABELS.items():
            s2_b2 = m(f"s2_{variant}_{n}")
            lines.append(
                _row(
                    f"S2 no-op re-apply vs {label}",
                    n,
                    f"{s2:.2f} s",
                    f"{s2_b2:.2f} s",
                    f"{s2 / s2_b2:.2f}x",
                    "(context)",
                    "",
                )
            )
        lines.append(_row("S2 no-op re-apply", n, f"{s2:.2f} s", "", "", "<= 2 s", _met(s2 <= 2)))
        lines.append(
            _row(
                "S2 API requests per object", n, f"{per:.4f}", "", "", "<= 0.05", _met(per <= 0.05)
            )
        )
        stage, whole, floor = (
            m(f"s4_clew_prune_stage_{n}"),
            m(f"s4_clew_{n}"),
            m(f"s4_raw_delete_{n}"),
        )
        lines.append(
            _row(
                f"S4 prune {PRUNED}: clew's prune stage vs raw DELETE floor",
                n,
                f"{stage:.2f} s",
                f"{floor:.2f} s",
                f"{stage / floor:.2f}x",
                "<= 1.2x",
                _met(stage / floor <= 1.2),
            )
        )
        lines.append(
            _row(
                f"S4 prune {PRUNED}: whole `clew apply --prune` command",
                n,
                f"{whole:.2f} s",
                f"{floor:.2f} s",
                f"{whole / floor:.2f}x",
                "(context)",
                "",
            )
        )
        for variant, label in _B2_LABELS.items():
            s4_b2 = m(f"s4_{variant}_{n}")
            lines.append(
                _row(
                    f"S4 prune {PRUNED}: whole `clew apply --prune` vs {label} (apply + prune)",
                    n,
                    f"{whole:.2f} s",
                    f"{s4_b2:.2f} s",
                    f"{whole / s4_b2:.2f}x",
                    "(context)",
                    "",
                )
            )
        lists = m(f"s4_list_calls_{n}")
        lines.append(
            _row("S4 LIST calls in the prune run", n, f"{lists:.0f}", "", "", "0", _met(lists == 0))
        )
    lines += [
        "",
        "## Resources (cold apply)",
        "",
        _row(
            "objects",
            "clew CPU-s / 1k",
            "API server CPU-s / 1k",
            "clew peak RSS",
            "API requests / object",
        ),
        "|---:|---:|---:|---:|---:|",
    ]
    for n in sizes:
        lines.append(
            _row(
                n,
                f"{m(f's1_clew_cpu_per_1k_{n}'):.2f}",
                f"{m(f's1_api_cpu_per_1k_{n}'):.2f}",
                f"{m(f's1_clew_rss_{n}'):.0f} MiB",
                f"{m(f's1_clew_requests_per_object_{n}'):.2f}",
            )
        )
    samples = {k: [round(x, 4) for x in v] for k, v in sorted(rows.items())}
    lines += [
        "",
        f"API server peak RSS over the whole run: {api_rss:.0f} MiB.",
        "",
        "## Raw samples",
        "",
        "```json",
        json.dumps(samples, indent=1),
        "```",
        "",
    ]
    return "\n".join(lines)


async def main_async(sizes: list[int], runs: int, use_kubectl: bool) -> str:
    started = time.monotonic()
    fluxssa = flux.build(lambda msg: print(msg, file=sys.stderr, flush=True))
    plane = ControlPlane(say=lambda msg: print(msg, file=sys.stderr, flush=True))
    plane.start()
    try:
        async with Cluster.from_kubeconfig(plane.admin_kubeconfig) as admin:
            prefixes = [f"{t}{s}r{r}" for t in "cbkfu" for s in sizes for r in range(runs)]
            await grant_custom_resources(admin, prefixes)
            rows: defaultdict[str, list[float]] = defaultdict(list)
            for size in sizes:
                for r in range(runs):
                    print(f"size {size} run {r + 1}/{runs}", file=sys.stderr, flush=True)
                    await one_round(plane, admin, size, r, use_kubectl, rows, fluxssa)
            api_rss = measure.proc_peak_rss_mib(plane.components["kube-apiserver"].pid)
    finally:
        plane.stop()
    return report(rows, sizes, runs, use_kubectl, api_rss, time.monotonic() - started)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--sizes", default="1000,5000")
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--no-kubectl", action="store_true")
    parser.add_argument("--output", default=str(ROOT / "docs" / "benchmarks.md"))
    args = parser.parse_args()
    sizes = [int(s) for s in args.sizes.split(",")]
    text = asyncio.run(main_async(sizes, args.runs, not args.no_kubectl))
    section = f"{BEGIN}\n{text.rstrip()}\n{END}"
    doc.write_section(Path(args.output), section, BEGIN, END)
    print(text)


if __name__ == "__main__":
    main()
