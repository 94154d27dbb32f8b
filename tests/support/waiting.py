"""Polling for a condition in tests: a bounded wait that fails with a message, never a fixed sleep."""
import time
from typing import Any, Callable


def wait_for(predicate: Callable[[], Any], timeout: float = 5.0, interval: float = 0.005) -> Any:
    """The first truthy value of ``predicate()``; AssertionError if none within ``timeout`` seconds."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(interval)
    raise AssertionError("condition not reached in time")
