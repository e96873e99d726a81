"""Processes and the machine: RSS and CPU from /proc, and waiting for an idle machine."""

from __future__ import annotations

import os
import signal
import subprocess
import time
from pathlib import Path

CLK_TCK = os.sysconf("SC_CLK_TCK")


def _stat_fields(pid: int) -> list[str] | None:
    try:
        raw = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    # the command name is in parentheses and may contain spaces: split after the last ')'
    return raw[raw.rindex(")") + 2:].split()


def group_pids(pgid: int) -> list[int]:
    """Every live process in a process group (AppServer starts its server in a new session)."""
    found = []
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        fields = _stat_fields(int(entry))
        if fields and int(fields[2]) == pgid and fields[0] != "Z":
            found.append(int(entry))
    return sorted(found)


def rss_kb(pid: int) -> int:
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    except OSError:
        pass
    return 0


def cpu_seconds(pid: int) -> float:
    fields = _stat_fields(pid)
    if not fields:
        return 0.0
    return (int(fields[11]) + int(fields[12])) / CLK_TCK  # utime + stime


def open_fds(pid: int) -> int:
    try:
        return len(os.listdir(f"/proc/{pid}/fd"))
    except OSError:
        return 0


def snapshot(pids: list[int]) -> dict:
    """RSS (kB) and CPU seconds per process, and their sums."""
    per = {pid: {"rss_kb": rss_kb(pid), "cpu_s": cpu_seconds(pid), "fds": open_fds(pid)} for pid in pids}
    return {
        "rss_kb": sum(p["rss_kb"] for p in per.values()),
        "cpu_s": sum(p["cpu_s"] for p in per.values()),
        "per_pid": per,
    }


def stop_group(proc: subprocess.Popen, timeout: float = 10) -> None:
    if proc.poll() is not None:
        return
    try:
        os.killpg(proc.pid, signal.SIGTERM)
        proc.wait(timeout)
    except (ProcessLookupError, subprocess.TimeoutExpired):
        try:
            os.killpg(proc.pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
        proc.wait(10)


def cpu_ticks() -> tuple[int, int]:
    """(busy, total) jiffies of the whole machine, from /proc/stat (iowait counts as idle)."""
    parts = [int(x) for x in Path("/proc/stat").read_text().split("\n", 1)[0].split()[1:]]
    idle = parts[3] + (parts[4] if len(parts) > 4 else 0)
    total = sum(parts[:8])  # guest time is already inside user
    return total - idle, total


def busy_fraction(interval: float = 1.0) -> float:
    """Share of all cores busy over `interval` seconds (0..1)."""
    b0, t0 = cpu_ticks()
    time.sleep(interval)
    b1, t1 = cpu_ticks()
    return (b1 - b0) / max(1, t1 - t0)


def wait_for_idle(max_wait: float, threshold: float = 0.15, settle: int = 2) -> dict:
    """Wait (at most `max_wait` s) until the machine has been idle for `settle` one-second samples.

    Idle: at most `threshold` of all cores busy (0.15 on 2 cores = 0.3 of a core). Returns
    what was seen, so a result taken on a busy machine says so.
    """
    started = time.monotonic()
    quiet = 0
    samples = []
    load1 = os.getloadavg()[0]
    while True:
        busy = busy_fraction(1.0)
        samples.append(round(busy, 3))
        quiet = quiet + 1 if busy <= threshold else 0
        waited = time.monotonic() - started
        if quiet >= settle or waited >= max_wait:
            return {
                "idle": quiet >= settle,
                "waited_s": round(waited, 1),
                "last_busy": round(busy, 3),
                "loadavg1_before": round(load1, 2),
                "samples": samples[-5:],
            }
