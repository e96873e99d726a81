"""`python -m bench`: every target at every size, in bounded time; JSON, PNG and a table."""

from __future__ import annotations

import argparse
import json
import os
import platform
import subprocess
import sys
import time
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from bench import procs, report
from bench.harness import Params, Run
from bench.loadgen import ClientPool
from bench.targets import (
    FloorTarget,
    NodeTarget,
    OursTarget,
    post_created_template,
    seed_accounts,
)

RESULTS = Path(__file__).resolve().parent / "results"
FULL_SIZES = [1_000, 10_000]
QUICK_SIZES = [100, 1_000]
TARGETS = ("ours", "node", "floor")


def params_for(size: int, quick: bool, overrides: dict[str, int | None]) -> Params:
    p = Params(
        connections=size,
        broadcasts=(5 if quick else (20 if size <= 2_000 else 10)),
        targeted=(50 if quick else 1_000),  # p99 = the 10th-slowest, not the 2nd (at 200)
        burst=20,
    )
    for name, v in overrides.items():
        if v is not None:
            setattr(p, name, v)
    return p


def make_target(name: str, accounts: dict, ours_env: dict[str, str] | None = None,
                ours_project: Path | None = None):
    if name == "ours":
        return OursTarget(accounts, extra_env=ours_env, project_dir=ours_project)
    if name == "node":
        return NodeTarget(accounts)
    if name == "floor":
        return FloorTarget(post_created_template())
    raise ValueError(name)


def run_suite(
    sizes: list[int],
    targets: list[str],
    *,
    quick: bool = False,
    workers: int | None = None,
    idle_wait: float = 30.0,
    budget_s: float = 450.0,
    overrides: dict[str, int | None] | None = None,
    ours_env: dict[str, str] | None = None,
    profile_dir: Path | None = None,
    ours_project: Path | None = None,
    repeat: int = 1,
    say: Callable[[str], None] = print,
) -> dict[str, Any]:
    """Run the scenarios; returns the results document (not written anywhere)."""
    started = time.monotonic()
    workers = workers or os.cpu_count() or 2
    say(f"minting {max(sizes):,} bench accounts")
    accounts = seed_accounts(max(sizes))
    all_runs: list[dict[str, Any]] = []
    skipped: list[str] = []
    with ClientPool(workers) as pool:
        for size in sizes:
            for rep in range(repeat):
                for name in targets:
                    label = f"{name} C={size}" + (f" #{rep + 1}" if repeat > 1 else "")
                    if time.monotonic() - started > budget_s:
                        skipped.append(label)
                        say(f"[{label}] skipped: past the time budget of {budget_s:.0f}s")
                        continue
                    machine = procs.wait_for_idle(idle_wait) if idle_wait > 0 else None
                    if time.monotonic() - started > budget_s:
                        skipped.append(label)
                        say(f"[{label}] skipped: past the time budget of {budget_s:.0f}s")
                        continue
                    if machine is not None and not machine["idle"]:
                        say(f"[{label}] machine still busy after {machine['waited_s']}s "
                            f"({machine['last_busy']:.0%} of all cores): running anyway, noted in the results")
                    params = params_for(size, quick, overrides or {})
                    try:
                        run = Run(make_target(name, accounts, ours_env, ours_project), pool, accounts, params, say)
                        run.profile_dir = profile_dir if name == "ours" else None
                        result = run.run()
                    except Exception as exc:  # one failed target does not lose the others' figures
                        say(f"[{label}] FAILED: {type(exc).__name__}: {exc}")
                        result = {"target": name, "connections": size, "error": f"{type(exc).__name__}: {exc}"}
                    result["machine_before"] = machine
                    result["params"] = vars(params)
                    result["repeat"] = rep + 1
                    all_runs.append(result)
        client_cpu = pool.cpu_seconds()
    runs = choose(all_runs)
    return {
        "meta": meta(quick=quick, workers=workers, sizes=sizes, targets=targets, repeat=repeat),
        "runs": runs,
        "all_runs": all_runs if repeat > 1 else [],
        "ratios": report.ratios(runs),
        "targets_met": report.targets_met(runs),
        "skipped": skipped,
        "client_cpu_total_s": round(client_cpu, 2),
        "wall_s": round(time.monotonic() - started, 1),
    }


def choose(all_runs: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """With --repeat: per target and size, the run the rest of the machine disturbed least
    (the lowest share of CPU used by other processes meanwhile). Other engineers' test
    suites share this machine; the choice is made by that measure only, never by result."""
    best: dict[tuple[str, int], tuple[float, dict[str, Any]]] = {}
    for run in all_runs:
        key = (run["target"], run["connections"])
        other = (run.get("cpu") or {}).get("other_busy_share")
        score = 2.0 if "error" in run or other is None else other
        if key not in best or score < best[key][0]:
            best[key] = (score, run)
    return [run for _score, run in best.values()]


def _version(cmd: list[str]) -> str | None:
    try:
        return subprocess.run(cmd, capture_output=True, text=True, timeout=10).stdout.strip() or None
    except OSError:
        return None


def meta(**extra: Any) -> dict[str, Any]:
    from importlib.metadata import PackageNotFoundError, version

    def pkg(name: str) -> str | None:
        try:
            return version(name)
        except PackageNotFoundError:
            return None

    from bench.targets import node_binary

    return {
        "date": datetime.now(UTC).isoformat(timespec="seconds"),
        "command": "python -m bench " + " ".join(sys.argv[1:]),
        "git_commit": _version(["git", "-C", str(RESULTS.parents[1]), "rev-parse", "--short", "HEAD"]),
        "git_dirty": bool(_version(["git", "-C", str(RESULTS.parents[1]), "status", "--porcelain", "--", "notifier_app"])),
        "machine": {"cpus": os.cpu_count(), "platform": platform.platform(), "python": platform.python_version(),
                    "open_file_limit": __import__("resource").getrlimit(__import__("resource").RLIMIT_NOFILE)},
        "versions": {"node": _version([node_binary() or "node", "--version"]),
                     "reflex": pkg("reflex"), "granian": pkg("granian"), "starlette": pkg("starlette")},
        "latency": "publish request start -> arrival (kernel receive timestamp, SO_TIMESTAMPNS)",
        **extra,
    }


def write(results: dict[str, Any], out_dir: Path, stem: str, plot: bool) -> tuple[Path, Path | None]:
    out_dir.mkdir(parents=True, exist_ok=True)
    json_path = out_dir / f"{stem}.json"
    json_path.write_text(json.dumps(results, indent=1, ensure_ascii=False) + "\n")
    png_path = None
    if plot:
        try:
            png_path = report.plot(results["runs"], out_dir / f"{stem}.png",
                                   f"notifier SSE fan-out vs a Node.js peer — {results['meta']['date']}, "
                                   f"{results['meta']['machine']['cpus']} cores, one server process")
        except ImportError:
            print("matplotlib is not installed (pip install -e '.[bench]'): no PNG")
    return json_path, png_path


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench", description="SSE fan-out benchmark (issue 7)")
    parser.add_argument("--quick", action="store_true", help=f"small sizes ({QUICK_SIZES}) and fewer publishes")
    parser.add_argument("--sizes", help="comma-separated connection counts (default 1000,10000)")
    parser.add_argument("--targets", default=",".join(TARGETS), help="ours,node,floor")
    parser.add_argument("--workers", type=int, help="load-generator processes (default: one per core)")
    parser.add_argument("--idle-wait", type=float, default=30.0, help="max seconds to wait for an idle machine per run")
    parser.add_argument("--budget", type=float, default=450.0,
                        help="start no run after this many seconds (a run takes at most ~2 minutes: < 10 in all)")
    parser.add_argument("--broadcasts", type=int)
    parser.add_argument("--targeted", type=int)
    parser.add_argument("--burst", type=int)
    parser.add_argument("--repeat", type=int, default=1,
                        help="run every target and size N times (interleaved) and keep, per pair, the run "
                             "least disturbed by other processes (all are kept in the JSON)")
    parser.add_argument("--window", type=int, help="connects in flight per load-generator process (default 200)")
    parser.add_argument("--out", type=Path, default=RESULTS)
    parser.add_argument("--name", help="results file stem (default: the date, -quick for --quick)")
    parser.add_argument("--no-plot", action="store_true")
    parser.add_argument("--ours-env", action="append", default=[], metavar="KEY=VALUE",
                        help="extra environment for our server (experiments)")
    parser.add_argument("--ours-project", type=Path, metavar="DIR",
                        help="run our server from another copy of the project (before/after comparisons)")
    parser.add_argument("--profile", type=Path, metavar="DIR",
                        help="record py-spy (raw stacks) of our server into DIR (py-spy must be installed)")
    args = parser.parse_args(argv)

    sizes = [int(s) for s in args.sizes.split(",")] if args.sizes else (QUICK_SIZES if args.quick else FULL_SIZES)
    targets = [t.strip() for t in args.targets.split(",") if t.strip()]
    ours_env = dict(kv.split("=", 1) for kv in args.ours_env)
    results = run_suite(
        sizes, targets, quick=args.quick, workers=args.workers, idle_wait=args.idle_wait, budget_s=args.budget,
        overrides={"broadcasts": args.broadcasts, "targeted": args.targeted, "burst": args.burst,
                   "window": args.window},
        ours_env=ours_env or None, profile_dir=args.profile, ours_project=args.ours_project,
        repeat=args.repeat,
    )
    if args.ours_project:
        results["meta"]["ours_project"] = str(args.ours_project)
    if ours_env:
        results["meta"]["ours_env"] = ours_env
    stem = args.name or (datetime.now().strftime("%Y-%m-%d") + ("-quick" if args.quick else ""))
    json_path, png_path = write(results, args.out, stem, plot=not args.no_plot)
    print()
    print(report.table(results["runs"]))
    for name, check in results["targets_met"].items():
        if isinstance(check, dict):
            print(f"  target {name}: {'MET' if check['met'] else 'not met'} ({check['detail']})")
    for run in results["runs"]:
        if "error" in run:
            print(f"  {run['target']} C={run['connections']}: {run['error']}")
    print(f"\nwrote {json_path}" + (f" and {png_path}" if png_path else "") + f" in {results['wall_s']:.0f}s")
    return 0 if all("error" not in r for r in results["runs"]) else 1
