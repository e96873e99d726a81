"""A smoke run of the fan-out benchmark's harness (bench/, issue 7) at C=50.

It drives the real prod-mode app and the Node.js peer through every scenario with raw
SSE connections and asserts that every subscriber got every event, exactly once — so
the benchmark's figures are about complete deliveries, and the harness keeps working.
No plotting (matplotlib is a bench-only extra) and no wait for an idle machine. Also a
short run of the in-process request timing (bench/requests.py).
"""

from __future__ import annotations

import json
import subprocess
import sys
import time

from bench.cli import run_suite
from tests.support.server import PROJECT_DIR

C = 50


def test_every_subscriber_gets_every_event_at_c50():
    started = time.monotonic()
    results = run_suite(
        [C],
        ["ours", "node"],
        quick=True,
        workers=2,
        idle_wait=0,
        overrides={"broadcasts": 3, "targeted": 10, "burst": 5},
        say=lambda _msg: None,
    )
    elapsed = time.monotonic() - started

    runs = {r["target"]: r for r in results["runs"]}
    assert set(runs) == {"ours", "node"}
    for name, run in runs.items():
        assert "error" not in run, f"{name}: {run.get('error')}"
        assert run["connect"]["ok"] == C, f"{name}: {run['connect']}"
        assert run["broadcast"]["delivered"] == run["broadcast"]["expected"] == 3 * C, f"{name}: {run['broadcast']}"
        assert run["broadcast"]["complete"], name
        # the targeted comments reach the post's author and nobody else
        assert run["targeted"]["delivered"] == 10 and run["targeted"]["delivered_to_others"] == 0, run["targeted"]
        assert run["burst"]["delivered"] == run["burst"]["expected"] == 5 * C, f"{name}: {run['burst']}"
        assert run["duplicates"] == 0 and run["dropped_streams"] == 0, name
        assert run["complete"], name
        for section in ("broadcast", "targeted"):
            assert 0 < run[section]["p50_ms"] <= run[section]["p99_ms"] < 10_000, (name, run[section])
        assert run["burst"]["events_per_s"] > 0
    # every stream came back with the Last-Event-ID of the last burst post (ours keeps history)
    assert runs["ours"]["reconnect"]["ok"] == C, runs["ours"]["reconnect"]
    assert runs["ours"]["reconnect"]["last_event_id"] > 0
    assert "reconnect" not in runs["node"]  # no history to resume from
    # the table renders from these results (what `python -m bench` prints)
    from bench import report

    assert "broadcast p99" in report.table(results["runs"])
    assert elapsed < 60, f"the smoke run took {elapsed:.0f}s"


def test_request_timing_in_process_runs():
    """`python -m bench.requests` (the request path's share of the targeted latency) keeps working."""
    done = subprocess.run(
        [sys.executable, "-m", "bench.requests", "comment", "--n", "20"],
        cwd=PROJECT_DIR, capture_output=True, text=True, timeout=300,
    )
    assert done.returncode == 0, done.stdout[-2000:] + done.stderr[-2000:]
    assert "comment: 20 requests" in done.stdout and "in the service (worker thread): p50" in done.stdout, done.stdout


def test_phase_stamps_cover_every_comment():
    """`python -m bench.phases`: its probe still finds every hook it wraps in the app, and
    each request's stamps fall inside what the harness measured from outside."""
    from bench.phases import run_phases

    doc = run_phases(C, 10, idle_wait=0, say=lambda _msg: None)

    assert doc["meta"]["stamped"] == 10, doc["meta"]
    for label, summary in doc["phases"].items():
        assert summary["n"] == 10, (label, summary)
        assert 0 <= summary["p50_ms"] <= summary["p99_ms"] < 10_000, (label, summary)
    inside = doc["phases"]["ASGI entry -> event handed to the server"]
    outside = doc["targeted"]
    assert outside["delivered"] == 10 and outside["delivered_to_others"] == 0, outside
    assert inside["p50_ms"] <= outside["p50_ms"] and inside["max_ms"] <= outside["max_ms"], (inside, outside)


def test_chat_join_storm_runs():
    """`python -m bench.joins`: every stream of each storm, fresh and resuming, got the
    room's newest message (a join that did not would hang into its timeout)."""
    from bench.joins import run

    results = run(C, 1, None)

    assert set(results) == {"fresh", "resuming"}
    for kind, rounds in results.items():
        assert len(rounds) == 1, (kind, rounds)
        assert rounds[0]["joins_per_s"] > 0 and rounds[0]["server_cpu_s"] >= 0, (kind, rounds)


def test_unread_count_timing_runs(tmp_path):
    """`python -m bench.unread`: both ways of counting ran and agreed on every count (the
    tool stops with an error when they do not)."""
    done = subprocess.run(
        [sys.executable, "-m", "bench.unread", "--tabs", "30", "--rounds", "2", "--out", str(tmp_path)],
        cwd=PROJECT_DIR, capture_output=True, text=True, timeout=300,
    )
    assert done.returncode == 0, done.stdout[-2000:] + done.stderr[-2000:]
    (written,) = tmp_path.glob("unread-*.json")
    results = json.loads(written.read_text())
    assert {way: len(rounds) for way, rounds in results["rounds"].items()} == {"per_tab_hop": 2, "batched": 2}
