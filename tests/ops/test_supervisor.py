"""The supervisor restarts a crashed child and reports it healthy again; health aggregates per component."""

import pykka
import pytest

from actors.component import ComponentActor
from actors.supervisor import ChildSpec, Supervisor, health, start_child
from tests.support.waiting import wait_for


class Crash:
    pass


class Panic(BaseException):
    """Like pyo3's PanicException: not an Exception."""


class Echo(ComponentActor):
    starts = 0

    def on_start(self) -> None:
        Echo.starts += 1
        self.report_health("ok", generation=Echo.starts)

    def handle(self, message):
        if isinstance(message, Crash):
            raise RuntimeError("boom")
        if message == "panic":
            raise Panic("pyo3 panic")
        return ("echo", message)


@pytest.fixture
def supervisor():
    ref = Supervisor.start(watch_interval_s=0.05, max_restarts=3, restart_window_s=60)
    yield ref
    ref.stop()
    pykka.ActorRegistry.stop_all()


def echo_spec(name="echo", component="storage"):
    return ChildSpec(name, component, lambda sink: Echo.start(name, sink))


def test_crashed_child_is_restarted_and_healthy_again(supervisor):
    Echo.starts = 0
    handle = start_child(supervisor, echo_spec())
    wait_for(lambda: health(supervisor)["components"]["storage"]["status"] == "ok")
    first = handle.ref
    handle.tell(Crash())
    wait_for(lambda: handle.ref is not first and handle.is_alive())
    state = wait_for(lambda: (h := health(supervisor)) and h["components"]["storage"].get("generation") == 2 and h)
    assert state["status"] == "ok" and state["ready"] is True
    assert handle.ask("again") == ("echo", "again")


def test_externally_stopped_child_is_restarted(supervisor):
    handle = start_child(supervisor, echo_spec())
    first = handle.ref
    first.stop()
    wait_for(lambda: handle.ref is not first and handle.is_alive())


def test_child_that_keeps_crashing_is_reported_down(supervisor):
    handle = start_child(supervisor, echo_spec())
    for _ in range(4):
        current = handle.ref
        wait_for(lambda: health(supervisor)["components"]["storage"]["status"] == "ok")
        current.tell(Crash())
        wait_for(lambda: not current.is_alive())
    state = wait_for(lambda: (h := health(supervisor)) and h["components"]["storage"]["status"] == "down" and h)
    assert state["status"] == "degraded" and state["ready"] is False


def test_base_exception_in_handler_fails_only_that_ask(supervisor):
    handle = start_child(supervisor, echo_spec())
    other = start_child(supervisor, echo_spec("other", "broker"))
    with pytest.raises(Exception, match="Panic: pyo3 panic"):
        handle.ask("panic")
    assert other.ask("still") == ("echo", "still")
    assert handle.ask("still") == ("echo", "still")


def test_health_groups_children_by_component(supervisor):
    start_child(supervisor, echo_spec("a", "broker"))
    start_child(supervisor, echo_spec("b", "broker"))
    state = wait_for(lambda: (h := health(supervisor)) and h["ready"] and h)
    assert set(state["components"]["broker"]["children"]) == {"a", "b"}
    assert state["protocol"] == 2


def test_singleton_jobs_run_on_the_only_instance(supervisor):
    """Without Redis this instance holds every lease."""
    from actors.cluster import SingletonJob, start_cluster

    runs: list[float] = []
    start_cluster(supervisor, None, "local", [SingletonJob("test.job", 0.0, lambda: runs.append(1.0))])
    wait_for(lambda: len(runs) >= 2, timeout=5)
    assert health(supervisor)["components"]["cluster"]["singleton_jobs"] == ["test.job"]
