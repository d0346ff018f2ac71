"""The comparison table: medians over rounds of each server's run.py results, and ratios."""

from __future__ import annotations

import statistics
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

Result = dict[str, Any]  # one JSON line of run.py


@dataclass(frozen=True)
class Metric:
    label: str
    key: str  # a run.py result key, or a prefix for _p50/_p99
    higher_is_better: bool
    scale: float = 1.0  # e.g. seconds → milliseconds


def metrics_of(workload: str) -> list[Metric]:
    """What the table shows for a workload: throughput, latency p50/p99, CPU per workflow, RSS."""
    if workload == "starts":
        throughput, latency = Metric("starts/s", "starts_per_s", True), "start_call_ms"
    else:
        throughput = Metric("wf/s", "wf_per_s", True)
        latency = {"latency": "latency_ms", "timers": "timer_lateness_ms"}.get(workload, "wf_latency_ms")
    what = {"timers": "timer lateness", "starts": "start call"}.get(workload, "latency")
    rows = [
        throughput,
        Metric(f"{what} p50 ms", f"{latency}_p50", False),
        Metric(f"{what} p99 ms", f"{latency}_p99", False),
    ]
    if workload == "timers":  # the timer queue alone: TimerFired minus the due time
        rows.append(Metric("TimerFired lateness p99 ms", "timer_fire_lateness_ms_p99", False))
    rows.append(Metric("server CPU ms/wf", "server_cpu_s_per_wf", False, 1000.0))
    if workload != "starts":  # no worker runs there
        rows.append(Metric("worker CPU ms/wf", "worker_cpu_s_per_wf", False, 1000.0))
    rows.append(Metric("server RSS peak MB", "server_rss_mb_peak", False))
    return rows


def median(results: Sequence[Result], metric: Metric) -> float | None:
    values = [r[metric.key] * metric.scale for r in results if r.get(metric.key) is not None]
    return statistics.median(values) if values else None


def _fmt(value: float | None) -> str:
    if value is None:
        return "-"
    if abs(value) >= 100:
        return f"{value:,.0f}"
    if abs(value) >= 10:
        return f"{value:.1f}"
    return f"{value:.2f}" if abs(value) >= 1 else f"{value:.3f}"


def table(results: dict[str, dict[str, list[Result]]], servers: Sequence[str], markdown: bool) -> str:
    """One row per workload and metric; the last server is the candidate, compared with each other one."""
    candidate, others = servers[-1], list(servers[:-1])
    header = ["workload", "metric", *servers, *(f"{candidate} / {o}" for o in others)]
    rows: list[list[str]] = []
    for workload, by_server in results.items():
        for i, metric in enumerate(metrics_of(workload)):
            values = [median(by_server.get(s, []), metric) for s in servers]
            ratios = [f"{values[-1] / v:.2f}" if v and values[-1] is not None else "-" for v in values[:-1]]
            rows.append([workload if i == 0 else "", metric.label, *map(_fmt, values), *ratios])
    if markdown:
        lines = [
            "| " + " | ".join(header) + " |",
            "|" + "|".join(["---"] * 2 + ["---:"] * (len(header) - 2)) + "|",
        ]
        lines += ["| " + " | ".join(row) + " |" for row in rows]
        return "\n".join(lines)
    widths = [max(len(row[c]) for row in [header, *rows]) for c in range(len(header))]
    return "\n".join(
        "  ".join(
            cell.ljust(w) if c < 2 else cell.rjust(w)
            for c, (cell, w) in enumerate(zip(row, widths, strict=True))
        )
        for row in [header, *rows]
    )


def summary(results: dict[str, dict[str, list[Result]]], servers: Sequence[str]) -> str:
    """Per workload: the headline ratio of each round, completions and errors of every run."""
    candidate, baseline = servers[-1], servers[0]
    lines = []
    for workload, by_server in results.items():
        cand, base = by_server.get(candidate, []), by_server.get(baseline, [])
        head = (cand or base or [{}])[0].get("headline", {})
        key = head.get("metric")
        per_round = [
            f"{c[key] / b[key]:.2f}"
            for b, c in zip(base, cand, strict=False)
            if key and b.get(key) and c.get(key)
        ]
        runs = "; ".join(
            f"{s} "
            + " ".join(f"{r.get('completed')}/{r['count']}" + ("" if r["ok"] else "!") for r in by_server[s])
            for s in servers
            if s in by_server
        )
        lines.append(
            f"{workload}: headline {key} {candidate}/{baseline} per round: {' '.join(per_round)}; {runs}"
        )
    return "\n".join(lines)
