"""A dead instance's typing indicators and presence are cleared on the others: after a SIGKILL, the
members on the surviving instance get ``user_typing`` false and ``user_status`` offline for the users
who were typing and online through it, without any client having to drop them. The delays are printed
(``pytest -s``)."""
from __future__ import annotations

import time

from actors.chat.shared_presence import TTL_MS
from tests.support.cluster import cluster, require_cluster_services
from tests.support.harness import register
from tests.support.chat_helpers import Api, ChatClient, new_room

require_cluster_services()

SWEEP_S = 1.0  # the chat.presence and chat.typing singleton jobs' interval
SLACK_S = 1.5  # a busy shared machine


def test_a_killed_instances_typists_stop_and_its_users_go_offline(tmp_path):
    with cluster(tmp_path, size=2, CONFAB_CHAT_TYPING_TTL_S="60") as c:  # no indicator expires by itself here
        doomed, survivor = c.instances
        typist, watcher = register(doomed.base), register(survivor.base)
        room = new_room(Api(doomed.base, typist))
        assert Api(survivor.base, watcher).post(f"/rooms/{room}/join").status_code == 200
        watching = ChatClient(survivor.ws_base, watcher)
        watching.join(room)
        typing = ChatClient(doomed.ws_base, typist)
        typing.join(room)
        typist_id = typist["user"]["id"]
        watching.wait_for(lambda f: f["type"] == "user_status" and f["user_id"] == typist_id
                          and f["status"] == "online", timeout=10)  # announced: a sweep saw them
        typing.send({"type": "typing", "room_id": room, "is_typing": True})
        assert watching.wait_for(lambda f: f["type"] == "user_typing" and f["is_typing"], timeout=10)

        doomed.process.kill()
        killed = time.monotonic()
        stopped = watching.wait_for(lambda f: f["type"] == "user_typing", timeout=15)
        typing_cleared_s = time.monotonic() - killed
        assert (stopped["user"]["id"], stopped["is_typing"]) == (typist_id, False)
        watching.wait_for(lambda f: f["type"] == "user_status" and f["user_id"] == typist_id
                          and f["status"] == "offline", timeout=15)
        offline_s = time.monotonic() - killed
        print(f"\nafter SIGKILL: typing cleared in {typing_cleared_s:.2f} s, offline in {offline_s:.2f} s "
              f"(presence TTL {TTL_MS / 1000:.0f} s, sweeps every {SWEEP_S:.0f} s)")
        assert typing_cleared_s <= TTL_MS / 1000 + SWEEP_S + SLACK_S
        assert offline_s <= TTL_MS / 1000 + SWEEP_S + SLACK_S
        watching.close()
