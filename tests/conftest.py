"""Tests run under gevent, exactly like the server: patch first, before anything imports threading.

One server factory for every test folder. ``server`` is a module's in-process server (module scope),
configured by the module's ``SERVER_CONFIG`` (sections as in ``harness.test_config``, or a function of the
fixture request that returns them), on SQLite. A
test marked ``@pytest.mark.engines("sqlite", "postgresql")`` (or a module's ``pytestmark``) runs once
per engine named, with ids ``[sqlite]`` and ``[postgresql]``; on PostgreSQL the server gets a scratch
database of its own (dropped after the module), the module's ``POSTGRESQL_CONFIG`` on top, and is
skipped with the reason when PostgreSQL is not reachable (required in CI). ``make_server`` is the same
factory for a test that needs a server of its own: ``with make_server("postgresql", chat=...) as s:``.
"""
from gevent import monkey

monkey.patch_all()

import os  # noqa: E402
import sys  # noqa: E402
from pathlib import Path  # noqa: E402
from typing import Any, Callable, ContextManager, Iterator  # noqa: E402

import pytest  # noqa: E402

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))
os.environ.setdefault("CONFAB_STATSD_ENABLED", "false")

from tests.support.harness import Server, server_on  # noqa: E402

ENGINES = ("sqlite", "postgresql")


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line("markers", "engines(*names): run the test's `server` on each engine named "
                                       "(sqlite, postgresql); unmarked tests run on SQLite")


def pytest_generate_tests(metafunc: pytest.Metafunc) -> None:
    """Parametrize ``server`` by engine for marked tests; in a module where any test is marked, the
    others run on ``[sqlite]`` too, so that the module still starts one SQLite server, not two."""
    if "server" not in metafunc.fixturenames:
        return
    marker = metafunc.definition.get_closest_marker("engines")
    if not _uses_shared_server(metafunc):
        assert marker is None, f"{metafunc.definition.nodeid}: engines() needs the server of tests/conftest.py, " \
                               "and this module declares its own"
        return
    if marker is not None:
        engines = marker.args or ENGINES
    elif _module_has_engine_marks(metafunc.module):
        engines = ("sqlite",)
    else:
        return
    unknown = set(engines) - set(ENGINES)
    assert not unknown, f"unknown engines {unknown}: use {ENGINES}"
    metafunc.parametrize("server", engines, indirect=True, scope="module")


def _uses_shared_server(metafunc: pytest.Metafunc) -> bool:
    """The test asks for ``server`` and its module does not define its own (a child process, a server
    per test): a module's fixture of that name overrides this one."""
    return "server" in metafunc.fixturenames and not hasattr(metafunc.module, "server")


def _marks(thing: Any) -> list[Any]:
    marks = getattr(thing, "pytestmark", [])
    return marks if isinstance(marks, list) else [marks]


def _module_has_engine_marks(module: Any) -> bool:
    return any(mark.name == "engines" for thing in (module, *vars(module).values()) for mark in _marks(thing))


def merged(*configs: dict[str, dict[str, Any]]) -> dict[str, dict[str, Any]]:
    """Config sections merged key by key, later ones winning."""
    result: dict[str, dict[str, Any]] = {}
    for config in configs:
        for section, keys in config.items():
            result[section] = {**result.get(section, {}), **keys}
    return result


@pytest.fixture(scope="session")
def make_server(tmp_path_factory: pytest.TempPathFactory) -> Callable[..., ContextManager[Server]]:
    """``make_server(engine="sqlite", name="server", **sections)``: a context manager running an
    in-process server on that engine, in a fresh data folder (and on PostgreSQL a scratch database)."""
    def make(engine: str = "sqlite", name: str = "server", **sections: dict[str, Any]) -> ContextManager[Server]:
        assert engine in ENGINES, f"unknown engine {engine!r}: use {ENGINES}"
        return server_on(engine, tmp_path_factory.mktemp(f"{name}-{engine}"), **sections)
    return make


@pytest.fixture(scope="module")
def server(request: pytest.FixtureRequest, make_server: Callable[..., ContextManager[Server]]) -> Iterator[Server]:
    """The module's server: ``SERVER_CONFIG``, on ``request.param``'s engine (SQLite unless marked)."""
    engine = getattr(request, "param", "sqlite")
    config = getattr(request.module, "SERVER_CONFIG", {})
    if callable(config):  # sections that come from another fixture (an SMTP sink's address): config(request)
        config = config(request)
    if engine == "postgresql":
        config = merged(config, getattr(request.module, "POSTGRESQL_CONFIG", {}))
    with make_server(engine, request.module.__name__.rsplit(".", 1)[-1].removeprefix("test_"), **config) as running:
        yield running
