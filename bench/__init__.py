"""Fan-out benchmark (issue 7): our SSE server against a Node.js peer and the floor.

`python -m bench` (see bench/README.md). Not part of the test suite; a smoke run of the
harness at C=50 is (tests/api/test_bench_smoke.py).
"""
