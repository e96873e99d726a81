"""A smoke run of the browser-tab benchmark (bench/tabs.py, issue 20) at N=20.

Twenty simulated tabs (ten users, two tabs each, on `/` and on a post's page) speak the
page's websocket protocol to the real prod-mode app (backend only, one worker): every
tab must get the broadcast toast exactly once, and a comment's toast must reach the
post author's tabs and no one else's — so the benchmark's figures are about complete
deliveries, and its client keeps working. No real browser (the benchmark itself checks
the simulated tabs against one), no plot, no idle-machine wait.
"""

from __future__ import annotations

import time

from bench.tabs import Params, run_tabs, table

N = 20


def test_every_tab_gets_the_broadcast_and_a_comment_only_its_authors_tabs():
    started = time.monotonic()
    params = Params(idle_s=1.0, series=3, series_gap=0.2, targeted=6, during=1, broadcast_timeout=20.0)
    results = run_tabs([N], params=params, browser=False, say=lambda _msg: None, total_s=120)
    elapsed = time.monotonic() - started

    (run,) = results["runs"]
    assert "error" not in run, run.get("error")
    assert run["open"]["held"] == N and run["open"]["failed"] == {}, run["open"]
    for section, expected in (("warmup", N), ("broadcast", N), ("series", 3 * N)):
        got = run[section]
        assert got["n"] == got["expected"] == expected and got["missing"] == 0, (section, got)
        assert got["duplicates"] == 0, (section, got)
        assert 0 < got["first_ms"] <= got["p50_ms"] <= got["last_ms"] < 20_000, (section, got)
    # each comment reached both of its post author's tabs, and nobody else's
    targeted = run["targeted"]
    assert targeted["comments"] == 6 and targeted["n"] == targeted["expected"] == 12, targeted
    assert targeted["delivered_to_others"] == 0, targeted
    during = run["targeted_during_broadcast"]
    assert during["rounds"] == 1 and during["missing"] == 0 and during["broadcast_missing"] == 0, during
    assert run["dropped_tabs"] == 0 and run["complete"], run
    assert run["memory"]["kb_per_tab"] > 0 and run["idle"]["server_cpu_cores"] >= 0
    assert "broadcast p99" in table(results["runs"])
    print(f"\nbench.tabs smoke run: {elapsed:.0f}s")  # bounded by total_s; not a figure
