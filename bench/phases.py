"""Where a targeted publish spends its time, phase by phase, in the real server.

    python -m bench.phases                                   # C = 1,000, 1,000 comments
    python -m bench.phases --connections 10000 --publishes 600

Runs the benchmark's targeted scenario against our prod-mode server with `bench/probe/`
on its PYTHONPATH; the probe stamps every comment request (see its docstring), and this
prints p50/p99 per phase next to the harness's own figure and writes
`bench/results/phases-<date>.json`. A development aid for the targeted latency: the
phases are medians of separate distributions, so they do not add up to the total's.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import tempfile
from pathlib import Path
from typing import Any

from bench.cli import RESULTS, run_suite
from bench.harness import summarize_ms

PROBE_DIR = Path(__file__).parent / "probe"

# (label, from stamp, to stamp), stamps as bench/probe/sitecustomize.py names them
PHASES = (
    # (A comment takes api/hot_paths.py: no framework layers before the body read, and
    # the frameworks' dependencies and validation are the schema's and the token check.)
    ("the layers up to the body read", "asgi", "receive"),
    ("reading the body", "receive", "received"),
    ("validation and the token check", "received", "endpoint"),
    ("of it the token check", "verify", "verified"),
    ("the hop to a worker thread", "endpoint", "service"),
    ("the transaction (service called -> committed)", "service", "committed"),
    ("commit -> publish (the hop back to the loop)", "committed", "publish"),
    ("publish (registry -> granian's send)", "publish", "published"),
    ("ASGI entry -> event handed to the server", "asgi", "published"),
    ("commit -> response sent", "committed", "response"),
)


def read_stamps(prefix: Path) -> list[dict[str, int]]:
    from bench.probe.sitecustomize import STAMPS

    rows = []
    for path in sorted(prefix.parent.glob(prefix.name + ".*")):
        for line in path.read_text().splitlines():
            rows.append(dict(zip(STAMPS, map(int, line.split()))))
    return rows


def phases(rows: list[dict[str, int]]) -> dict[str, Any]:
    """p50/p99/… per phase, over the requests that passed both of its stamps."""
    out = {}
    for label, start, end in PHASES:
        out[label] = summarize_ms([row[end] - row[start] for row in rows if row.get(start) and row.get(end)])
    return out


def run_phases(connections: int, publishes: int, *, idle_wait: float = 30.0, say=print) -> dict[str, Any]:
    with tempfile.TemporaryDirectory(prefix="notifier-phases-") as scratch:
        prefix = Path(scratch) / "stamps"
        results = run_suite(
            [connections],
            ["ours"],
            idle_wait=idle_wait,
            overrides={"broadcasts": 1, "targeted": publishes, "burst": 1},
            ours_env={"PYTHONPATH": str(PROBE_DIR), "NOTIFIER_BENCH_PHASES": str(prefix)},
            say=say,
        )
        rows = read_stamps(prefix)
    run = results["runs"][0]
    if "error" in run:
        raise RuntimeError(f"the run failed: {run['error']}")
    return {
        "meta": {**results["meta"], "connections": connections, "publishes": publishes, "stamped": len(rows)},
        "phases": phases(rows),
        "targeted": run["targeted"],
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--connections", type=int, default=1000, help="streams held open meanwhile")
    parser.add_argument("--publishes", type=int, default=1000, help="targeted comments")
    parser.add_argument("--out", type=Path, default=RESULTS)
    args = parser.parse_args()
    doc = run_phases(args.connections, args.publishes)
    print(f"\n{doc['meta']['stamped']} comment requests stamped, C = {args.connections:,}")
    print(f"{'phase':52} {'p50 ms':>8} {'p99 ms':>8}")
    for label, s in doc["phases"].items():
        if s["n"]:
            print(f"{label:52} {s['p50_ms']:8.3f} {s['p99_ms']:8.3f}")
    t = doc["targeted"]
    print(f"{'the harness: request sent -> event received':52} {t['p50_ms']:8.3f} {t['p99_ms']:8.3f}")
    args.out.mkdir(parents=True, exist_ok=True)
    path = args.out / f"phases-{dt.date.today().isoformat()}.json"
    path.write_text(json.dumps(doc, indent=1) + "\n")
    print(f"wrote {path}")


if __name__ == "__main__":
    main()
