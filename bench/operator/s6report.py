"""S6's table for docs/benchmarks-operator.md: every figure with 100,000 unmanaged objects
beside the same controller's baseline with the 5,000 managed ones only."""

from __future__ import annotations

import argparse

from bench.operator.stats import median, percentile

Rows = dict[str, list[float]]

RSS_GOAL = 200  # bytes per unmanaged object
CPU_GOAL = 0.02  # cores, idle
DRIFT_GOAL = 1.0  # seconds, p99 of a revert


def _row(*cells: object) -> str:
    return "| " + " | ".join(str(c) for c in cells) + " |"


def _met(ok: bool) -> str:
    return "yes" if ok else "**no**"


def _m(rows: Rows, key: str) -> float:
    return median(rows.get(key, []))


def _ms(x: float) -> str:
    return f"{x * 1000:.0f} ms"


def _servers(rows: Rows, key: str) -> str:
    return f"{_m(rows, f'{key}_kube-apiserver_rss'):.0f} / {_m(rows, f'{key}_etcd_rss'):.0f} MiB"


def section(rows: Rows, args: argparse.Namespace) -> list[str]:
    if "s6_big_rss" not in rows:
        return []
    n = f"{args.s6_unmanaged:,}"
    per = _m(rows, "s6_rss_bytes_per_unmanaged")
    base, big = rows["s6_base_drift_latency"], rows["s6_big_drift_latency"]
    cores = _m(rows, "s6_big_cores")
    p99 = percentile(big, 99)
    idle = f"{args.s6_idle:.0f} s"
    return [
        f"### S6 {n} unmanaged ConfigMaps beside 5,000 managed objects",
        "",
        _row("measure", "5,000 managed only", f"+ {n} unmanaged", "goal", "met"),
        "|---|---:|---:|---|---|",
        _row(
            "controller RSS (VmRSS) at the end of the idle window",
            f"{_m(rows, 's6_base_rss'):.1f} MiB",
            f"{_m(rows, 's6_big_rss'):.1f} MiB",
            "",
            "",
        ),
        _row(
            "controller RSS just before the unmanaged objects were created (after a drift phase)",
            "",
            f"{_m(rows, 's6_before_create_rss'):.1f} MiB",
            "",
            "",
        ),
        _row(
            "… growth per unmanaged object, from there to the end of the idle window",
            "",
            f"{per:.0f} bytes",
            f"≤ {RSS_GOAL} bytes",
            _met(per <= RSS_GOAL),
        ),
        _row(
            "controller RSS change within the idle window (noise)",
            f"{_m(rows, 's6_base_rss') - _m(rows, 's6_base_rss_start'):+.1f} MiB",
            f"{_m(rows, 's6_big_rss') - _m(rows, 's6_big_rss_start'):+.1f} MiB",
            "",
            "",
        ),
        _row(
            f"controller CPU while idle ({idle}, own + git children)",
            f"{_m(rows, 's6_base_cores') * 100:.2f} % of a core",
            f"{cores * 100:.2f} % of a core",
            "< 2 %",
            _met(cores < CPU_GOAL),
        ),
        _row(
            "… reconciles finished in the window (interval 10m)",
            f"{_m(rows, 's6_base_reconciles'):.0f}",
            f"{_m(rows, 's6_big_reconciles'):.0f}",
            "",
            "",
        ),
        _row(
            "… controller API requests per minute",
            f"{_m(rows, 's6_base_requests_per_min'):.1f}",
            f"{_m(rows, 's6_big_requests_per_min'):.1f}",
            "",
            "",
        ),
        _row(
            f"drift revert p50 / p99 / max ({len(big)} changes)",
            f"{_ms(percentile(base, 50))} / {_ms(percentile(base, 99))} / {_ms(max(base))}",
            f"{_ms(percentile(big, 50))} / {_ms(p99)} / {_ms(max(big))}",
            "p99 ≤ 1 s",
            _met(p99 <= DRIFT_GOAL and sum(rows["s6_big_drift_unrestored"]) == 0),
        ),
        _row(
            "… reconciles that started during the drift phase",
            f"{_m(rows, 's6_base_drift_reconciles'):.0f}",
            f"{_m(rows, 's6_big_drift_reconciles'):.0f}",
            "",
            "",
        ),
        _row(
            "… changes never reverted",
            f"{sum(rows['s6_base_drift_unrestored']):.0f}",
            f"{sum(rows['s6_big_drift_unrestored']):.0f}",
            "0",
            "",
        ),
        _row(
            "… controller requests per correction (flow schema)",
            f"{_m(rows, 's6_base_drift_flow_requests_per_correction'):.2f}",
            f"{_m(rows, 's6_big_drift_flow_requests_per_correction'):.2f}",
            "",
            "",
        ),
        _row(
            "kube-apiserver / etcd RSS at the end of the idle window",
            _servers(rows, "s6_base"),
            _servers(rows, "s6_big"),
            "",
            "",
        ),
        "",
        _row("context", "value"),
        "|---|---:|",
        _row("cold sync of the 5,000 objects", f"{_m(rows, 's6_cold_sync'):.1f} s"),
        _row(
            f"creating the {n} (admin, 64 at a time)",
            f"{_m(rows, 's6_create_seconds'):.0f} s",
        ),
        _row(
            "… controller cores meanwhile / its RSS change",
            f"{_m(rows, 's6_create_controller_cores'):.3f} / "
            f"{_m(rows, 's6_create_controller_rss_delta'):+.1f} MiB",
        ),
        _row(
            f"LISTs of ConfigMaps by anyone while the {n} existed / objects they returned",
            f"{_m(rows, 's6_configmap_lists'):.0f} / {_m(rows, 's6_configmap_list_returned'):,.0f}",
        ),
        _row(
            "controller peak RSS (VmHWM) over the scenario",
            f"{_m(rows, 's6_controller_hwm'):.0f} MiB",
        ),
        _row("times the controller lost its Lease (its log)", f"{_m(rows, 's6_lease_lost'):.0f}"),
        _row("deleting the scenario's namespaces", f"{_m(rows, 's6_teardown_seconds'):.0f} s"),
        "",
    ]
