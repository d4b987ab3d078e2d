"""Waiting in tests for something another process or thread does."""

import time


def wait_for(check, *, timeout: float = 30, what: str = "the worker"):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        result = check()
        if result:
            return result
        time.sleep(0.3)
    raise AssertionError(f"Timed out waiting for {what}")
