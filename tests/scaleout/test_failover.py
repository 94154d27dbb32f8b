"""Failover after a SIGKILL, measured: two real instances, steady senders connected to the survivor
writing to rooms whose writer partitions are spread over both; one instance is killed. The survivor
commits the dead instance's partitions within 2 s, every command (those the dead instance had taken
and not committed included) is answered with an ack, never UNAVAILABLE, and each is stored once, where
its ack said. Figures printed (``pytest -s``)."""
from __future__ import annotations

import threading
import time

import pytest

from domain.broker import partition_for
from domain.config import AppConfig
from tests.support.chat_load import ACK, UNLIMITED, Sender, assert_stored_exactly_once, members_of_new_rooms
from tests.support.cluster import cluster, require_cluster_services
from tests.ops.test_outage_redis import held_partitions
from tests.support.waiting import wait_for

require_cluster_services()

FAILOVER_S = 2.0
pytestmark = pytest.mark.timeout(180)


def longest_stall(sender: Sender, moment: float, within_s: float = 5.0) -> tuple[float, float]:
    """The longest wait between two acks around ``moment`` (from the last ack before it to ``within_s``
    after it), and when that wait ended, in seconds after ``moment``."""
    acks = [o.at for o in sender.outcomes if o.kind == ACK]
    window = [max((at for at in acks if at <= moment), default=moment)]
    window += [at for at in acks if moment < at <= moment + within_s]
    gap, ended = max((later - earlier, later) for earlier, later in zip(window, window[1:]))
    return gap, ended - moment


def test_the_survivor_commits_a_killed_instances_partitions_within_two_seconds(tmp_path):
    with cluster(tmp_path, size=2, **UNLIMITED) as running:
        doomed, survivor = running.instances
        wait_for(lambda: len(held_partitions(doomed)) >= 2 and len(held_partitions(survivor)) >= 2, timeout=20)
        logins, rooms = members_of_new_rooms(survivor, users=4, rooms=8, name="failover")
        stop = threading.Event()
        senders = [Sender(survivor, survivor, login, rooms, stop, pause_s=0.01) for login in logins]
        for sender in senders:
            sender.start()
        wait_for(lambda: all(len(s.acked) >= 20 for s in senders), timeout=30)
        doomed_partitions = {int(name.rsplit(".", 1)[1]) for name, group in held_partitions(doomed)
                             if name.startswith("broker.chat.commands.") and group == "chat.writer"}
        partitions = AppConfig().topic_partitions()["chat.commands"]
        assert {partition_for(room, partitions) for room in rooms} & doomed_partitions, doomed_partitions
        doomed.process.kill()
        killed_at = time.monotonic()
        wait_for(lambda: all(len(s.acked) >= 20 for s in senders) and time.monotonic() - killed_at > 3 and
                 all(any(o.at > killed_at + 3 and o.kind == ACK for o in s.outcomes) for s in senders), timeout=40)
        stop.set()
        for sender in senders:
            sender.join(40)
            assert sender.error is None, repr(sender.error)
        stalls = [longest_stall(sender, killed_at) for sender in senders]
        longest, recovered = max(gap for gap, _ in stalls), max(ended for _, ended in stalls)
        failures = [o for sender in senders for o in sender.outcomes if o.kind != ACK]
        assert_stored_exactly_once(survivor, logins[0], rooms, senders)
        print(f"\nSIGKILL of the holder of writer partitions {sorted(doomed_partitions)}: longest wait for an ack "
              f"{longest:.2f} s, ending {recovered:.2f} s after the kill (per sender: "
              f"{', '.join(f'{gap:.2f}' for gap, _ in sorted(stalls))} s); "
              f"{sum(len(s.acked) for s in senders)} acked, {len(failures)} errors or timeouts")
        assert not failures, failures[:5]
        assert recovered <= FAILOVER_S
