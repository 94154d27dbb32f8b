"""A rolling restart under load: two real instances, each stopped with SIGTERM in turn and replaced by a
new one while clients on both send steadily. The stopping instance hands its partitions over first, then
closes its sockets with 1012; its clients reconnect to the other and resume with ``since_seq``. Nothing
acknowledged is lost or stored twice, no command is answered with an error, and the longest a client
waits for an ack is at most 2 s. Figures printed (``pytest -s``)."""
from __future__ import annotations

import signal
import threading
import time

import pytest

from tests.support.chat_load import ACK, UNLIMITED, Sender, assert_stored_exactly_once, members_of_new_rooms
from tests.support.cluster import cluster, require_cluster_services
from tests.support.harness import ServerProcess
from tests.support.waiting import wait_for

require_cluster_services()

LONGEST_PAUSE_S = 2.0
pytestmark = pytest.mark.timeout(300)


def progress(senders: list[Sender], at_least: int) -> bool:
    errors = [repr(s.error) for s in senders if s.error is not None]
    assert not errors, errors
    return sum(len(s.acked) for s in senders) >= at_least


def longest_pause(sender: Sender) -> float:
    acks = [o.at for o in sender.outcomes if o.kind == ACK]
    return max((later - earlier for earlier, later in zip(acks, acks[1:])), default=0.0)


def stop_gracefully(instance: ServerProcess) -> float:
    """SIGTERM, and the seconds until the process exited (0 expected)."""
    started = time.monotonic()
    instance.process.send_signal(signal.SIGTERM)
    assert instance.process.wait(60) == 0, instance.log()
    return time.monotonic() - started


def test_restarting_both_instances_in_turn_under_load_loses_and_repeats_nothing(tmp_path):
    with cluster(tmp_path, size=2, **UNLIMITED) as running:
        first, second = running.instances
        logins, rooms = members_of_new_rooms(first, users=4, rooms=6, name="rolling")
        stop = threading.Event()
        senders = [Sender(first if i % 2 else second, second if i % 2 else first, login, rooms, stop, pause_s=0.02)
                   for i, login in enumerate(logins)]
        for sender in senders:
            sender.start()
        wait_for(lambda: all(len(s.acked) >= 20 for s in senders), timeout=30)
        stops = []
        live = [first, second]
        for turn in range(2):
            old, other = live
            for sender in senders:
                sender.fallback = other
            stops.append(stop_gracefully(old))
            acked = sum(len(s.acked) for s in senders)
            wait_for(lambda: progress(senders, acked + 40), timeout=30)
            replacement = running.start(f"r{turn}")
            live = [other, replacement]
            acked = sum(len(s.acked) for s in senders)
            wait_for(lambda: progress(senders, acked + 40), timeout=30)
        time.sleep(3)  # the partitions settle over the two new instances under load
        stop.set()
        for sender in senders:
            sender.join(40)
            assert sender.error is None, repr(sender.error)
        failures = [o for sender in senders for o in sender.outcomes if o.kind not in (ACK, "reconnect")]
        pauses = [longest_pause(sender) for sender in senders]
        assert_stored_exactly_once(live[0], logins[0], rooms, senders)
        print(f"\nrolling restart: {sum(len(s.acked) for s in senders)} acked, "
              f"{sum(s.reconnects for s in senders)} reconnects, {len(failures)} errors or timeouts; "
              f"graceful stops took {', '.join(f'{s:.1f}' for s in stops)} s; longest wait for an ack per "
              f"client {', '.join(f'{p:.2f}' for p in pauses)} s")
        assert not failures, failures[:5]
        # the clients of the first instance moved twice (to the second, then to its replacement), the others once
        assert [sender.reconnects for sender in senders] == [1, 2, 1, 2]
        assert max(pauses) <= LONGEST_PAUSE_S
