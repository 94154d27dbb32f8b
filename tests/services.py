"""Local services the tests talk to (PostgreSQL, Redis): required in CI, skipped with a reason elsewhere."""
import os
from typing import Callable

import pytest


def require(name: str, url: str, reachable: Callable[[], bool]) -> None:
    """Skip the calling test module when ``name`` is not reachable at ``url`` — or fail outright in CI."""
    if reachable():
        return
    if os.environ.get("CI"):
        raise RuntimeError(f"{name} is required in CI and is not reachable at {url}")
    pytest.skip(f"{name} not reachable at {url}", allow_module_level=True)
