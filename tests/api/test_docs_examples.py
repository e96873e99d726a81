"""The examples in docs/streams.md work as written (curl with a Bearer token, and resume)."""

from __future__ import annotations

import shutil
import subprocess
import threading

import pytest

from tests.support.client import create_post, signup


@pytest.mark.skipif(shutil.which("curl") is None, reason="curl not installed")
def test_curl_follow_and_resume(base_url):
    alice, bob = signup(base_url, "alice"), signup(base_url, "bob")
    command = ["curl", "-sN", "--max-time", "4", "-H", f"Authorization: Bearer {alice.token}", f"{base_url}/notifications/stream"]
    proc = subprocess.Popen(command, stdout=subprocess.PIPE, text=True)
    first = proc.stdout.readline()  # "retry: 5000": connected
    assert first.startswith("retry:"), first
    post = threading.Thread(target=create_post, args=(base_url, bob), kwargs={"title": "curl로 받기"})
    post.start()
    output = first + proc.communicate(timeout=10)[0]
    post.join()
    assert "curl로 받기" in output
    seq = next(line.split(": ", 1)[1] for line in output.splitlines() if line.startswith("id: "))

    create_post(base_url, bob, title="놓친 글")
    resumed = subprocess.run(
        ["curl", "-sN", "--max-time", "2", "-H", f"Authorization: Bearer {alice.token}", "-H", f"Last-Event-ID: {seq}",
         f"{base_url}/notifications/stream"],
        capture_output=True, text=True, timeout=10,
    ).stdout
    assert "놓친 글" in resumed and "curl로 받기" not in resumed
