"""Pytest plugin: a `redis_url` fixture, Debian's redis-server on a free local port in a
temporary folder, for the tests of what several app servers share through Redis.

Without redis-server (apt-get install redis-server) such tests are skipped with a
warning, except under CI=true, where that is a failure: CI installs it (.ci/run).
"""

from __future__ import annotations

import os
import shutil
import subprocess
import time

import pytest

from tests.mailbox import free_port

_MISSING = ("redis-server not found: the tests of limits shared through Redis cannot "
            "run. Install Debian's redis-server (apt-get install redis-server).")
_skipped = False


def _in_ci() -> bool:
    return os.environ.get("CI", "").strip().lower() in {"true", "1", "yes"}


def pytest_terminal_summary(terminalreporter):
    if _skipped:
        terminalreporter.write_sep("!", "WARNING: TESTS NEEDING REDIS WERE SKIPPED", red=True)


@pytest.fixture
def redis_url(tmp_path):
    """redis://127.0.0.1:PORT/0 of a redis-server started for this test, nothing saved."""
    global _skipped
    server = shutil.which("redis-server")
    if server is None:
        if _in_ci():
            pytest.fail(f"CI=true and {_MISSING}", pytrace=False)
        _skipped = True
        pytest.skip(f"!!! SKIPPED !!! {_MISSING}")
    redis = pytest.importorskip("redis")
    port = free_port()
    process = subprocess.Popen(
        [server, "--port", str(port), "--bind", "127.0.0.1", "--dir", str(tmp_path),
         "--save", "", "--appendonly", "no", "--daemonize", "no"],
        stdout=subprocess.DEVNULL, stderr=subprocess.STDOUT,
    )
    url = f"redis://127.0.0.1:{port}/0"
    try:
        client = redis.Redis.from_url(url)
        deadline = time.monotonic() + 10
        while True:
            try:
                client.ping()
                break
            except redis.ConnectionError:
                if process.poll() is not None or time.monotonic() > deadline:
                    raise
                time.sleep(0.05)
        client.close()
        yield url
    finally:
        process.terminate()
        process.wait(timeout=10)
