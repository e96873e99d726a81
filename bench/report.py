"""Ratios, the printed table and the PNG (matplotlib is imported only for the PNG)."""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any

# (label, path into a run's result, better when "low" or "high", format)
METRICS = [
    ("connections accepted /s", ("connect", "per_s"), "high", "{:,.0f}"),
    ("reconnects with Last-Event-ID /s", ("reconnect", "per_s"), "high", "{:,.0f}"),
    ("RSS per idle stream (KB)", ("memory", "per_connection_kb"), "low", "{:,.1f}"),
    ("RSS per idle stream, marginal (KB)", ("memory", "marginal_per_connection_kb"), "low", "{:,.1f}"),
    ("broadcast p50 (ms)", ("broadcast", "p50_ms"), "low", "{:,.1f}"),
    ("broadcast p99 (ms)", ("broadcast", "p99_ms"), "low", "{:,.1f}"),
    ("broadcast max (ms)", ("broadcast", "max_ms"), "low", "{:,.1f}"),
    ("last subscriber, median (ms)", ("broadcast", "last_subscriber_median_ms"), "low", "{:,.1f}"),
    ("targeted p50 (ms)", ("targeted", "p50_ms"), "low", "{:,.2f}"),
    ("targeted p99 (ms)", ("targeted", "p99_ms"), "low", "{:,.2f}"),
    ("burst delivery (events/s)", ("burst", "events_per_s"), "high", "{:,.0f}"),
    ("server CPU, broadcasts (s)", ("cpu", "server_broadcast_s"), "low", "{:,.2f}"),
    ("client CPU, whole run (s)", ("cpu", "client_total_s"), "low", "{:,.2f}"),
    ("other CPU on the machine (share)", ("cpu", "other_busy_share"), None, "{:.0%}"),
]


def value(run: dict[str, Any] | None, path: tuple[str, str]) -> float | None:
    if run is None:
        return None
    got = run.get(path[0])
    if not isinstance(got, dict):
        return None
    v = got.get(path[1])
    return v if isinstance(v, (int, float)) and not (isinstance(v, float) and math.isnan(v)) else None


def by_size(runs: list[dict]) -> dict[int, dict[str, dict]]:
    out: dict[int, dict[str, dict]] = {}
    for run in runs:
        if "error" in run:
            continue
        out.setdefault(run["connections"], {})[run["target"]] = run
    return dict(sorted(out.items()))


def ratios(runs: list[dict]) -> dict[str, dict[str, float | None]]:
    """ours/node (and ours/floor) for every metric and size."""
    table: dict[str, dict[str, float | None]] = {}
    for size, targets in by_size(runs).items():
        ours = targets.get("ours")
        for peer in ("node", "floor"):
            row = {}
            for label, path, _better, _fmt in METRICS:
                a, b = value(ours, path), value(targets.get(peer), path)
                row[label] = round(a / b, 3) if a is not None and b not in (None, 0) else None
            table[f"{size}/ours÷{peer}"] = row
    return table


def targets_met(runs: list[dict]) -> dict[str, Any]:
    """Issue 7's targets, judged at the largest size that ran for both ours and node."""
    sizes = [s for s, t in by_size(runs).items() if "ours" in t and "node" in t]
    if not sizes:
        return {}
    size = max(sizes)
    ours, node = by_size(runs)[size]["ours"], by_size(runs)[size]["node"]

    def check(ok: bool | None, detail: str) -> dict[str, Any]:
        return {"met": ok, "detail": detail}

    rss = value(ours, ("memory", "per_connection_kb"))
    op99, np99 = value(ours, ("broadcast", "p99_ms")), value(node, ("broadcast", "p99_ms"))
    tp99 = value(ours, ("targeted", "p99_ms"))
    ob, nb = value(ours, ("burst", "events_per_s")), value(node, ("burst", "events_per_s"))
    held = ours.get("connect", {}).get("ok", 0)
    return {
        "connections": size,
        "streams_held": check(held >= size, f"{held} of {size} held"),
        "rss_per_stream_le_16kb": check(rss is not None and rss <= 16, f"{rss} KB"),
        "broadcast_p99_le_1.2x_node": check(
            None if op99 is None or np99 is None else op99 <= 1.2 * np99, f"{op99} ms vs node {np99} ms"),
        "targeted_p99_le_5ms": check(None if tp99 is None else tp99 <= 5, f"{tp99} ms"),
        "burst_ge_node": check(None if ob is None or nb is None else ob >= nb, f"{ob} vs node {nb} events/s"),
    }


def _fmt(fmt: str, v: float | None) -> str:
    return "—" if v is None else fmt.format(v)


def table(runs: list[dict]) -> str:
    lines = []
    header = f"{'metric':34} {'C':>6} {'ours':>10} {'node':>10} {'ours/node':>9} {'floor':>10}"
    lines.append(header)
    lines.append("-" * len(header))
    for size, targets in by_size(runs).items():
        for label, path, _better, fmt in METRICS:
            o, n, f = (value(targets.get(t), path) for t in ("ours", "node", "floor"))
            if o is None and n is None and f is None:
                continue
            ratio = f"{o / n:.2f}×" if _better and o is not None and n not in (None, 0) else "—"
            lines.append(f"{label:34} {size:>6,} {_fmt(fmt, o):>10} {_fmt(fmt, n):>10} {ratio:>9} {_fmt(fmt, f):>10}")
        complete = {t: r.get("complete") for t, r in targets.items()}
        lines.append(f"{'every event at every subscriber':34} {size:>6,} " + "  ".join(
            f"{t}={'yes' if ok else 'NO'}" for t, ok in complete.items()))
        lines.append("")
    return "\n".join(lines)


def markdown_table(runs: list[dict]) -> str:
    out = ["| metric | C | ours | node | ours/node | floor |", "| --- | ---: | ---: | ---: | ---: | ---: |"]
    for size, targets in by_size(runs).items():
        for label, path, better, fmt in METRICS:
            o, n, f = (value(targets.get(t), path) for t in ("ours", "node", "floor"))
            if o is None and n is None and f is None:
                continue
            ratio = f"{o / n:.2f}×" if better and o is not None and n not in (None, 0) else "—"
            out.append(f"| {label} | {size:,} | {_fmt(fmt, o)} | {_fmt(fmt, n)} | {ratio} | {_fmt(fmt, f)} |")
    return "\n".join(out)


COLORS = {"ours": "#3b5bdb", "node": "#e8590c", "floor": "#868e96"}


def plot(runs: list[dict], path: Path, title: str) -> Path:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    sizes = by_size(runs)
    fig, (ax1, ax2, ax3) = plt.subplots(1, 3, figsize=(17, 5.2))
    styles = ["--", "-", ":", "-."]
    for si, (size, targets) in enumerate(sizes.items()):
        for name, run in targets.items():
            cdf = run.get("broadcast", {}).get("cdf_ms") or []
            if not cdf:
                continue
            ys = [(i + 1) / len(cdf) for i in range(len(cdf))]
            ax1.plot([max(x, 0.01) for x in cdf], ys, styles[si % len(styles)], color=COLORS.get(name),
                     label=f"{name}, C={size:,}")
    ax1.set_xscale("log")
    ax1.set_xlabel("broadcast latency, publish request → arrival (ms, log)")
    ax1.set_ylabel("share of deliveries")
    ax1.set_title("broadcast latency distribution")
    ax1.grid(True, which="both", alpha=0.3)
    ax1.legend(fontsize=8)

    for name in ("ours", "node", "floor"):
        xs = [s for s, t in sizes.items() if value(t.get(name), ("burst", "events_per_s")) is not None]
        if xs:
            ax2.plot(xs, [value(sizes[s][name], ("burst", "events_per_s")) for s in xs], "o-",
                     color=COLORS[name], label=name)
        xs = [s for s, t in sizes.items() if value(t.get(name), ("broadcast", "p99_ms")) is not None]
        if xs:
            ax3.plot(xs, [value(sizes[s][name], ("broadcast", "p99_ms")) for s in xs], "o-",
                     color=COLORS[name], label=f"{name} p99")
            ax3.plot(xs, [value(sizes[s][name], ("broadcast", "p50_ms")) for s in xs], "o:",
                     color=COLORS[name], alpha=0.6, label=f"{name} p50")
    for ax in (ax2, ax3):
        ax.set_xscale("log")
        ax.set_xlabel("open connections (log)")
        ax.grid(True, which="both", alpha=0.3)
        ax.legend(fontsize=8)
    ax2.set_ylabel("events delivered per second")
    ax2.set_title("burst delivery rate (20 back-to-back broadcasts)")
    ax2.set_ylim(bottom=0)
    ax3.set_yscale("log")
    ax3.set_ylabel("ms (log)")
    ax3.set_title("broadcast latency vs connections")
    fig.suptitle(title, fontsize=10)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return path
