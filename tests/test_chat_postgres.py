"""The chat core on PostgreSQL, where storage calls yield to other greenlets: the join seam and the
DM get-or-create race are real races there. Runs the same tests as on SQLite, on a fresh database."""
import uuid

import psycopg
import pytest

from tests.support.harness import running_server
from tests.chat.test_delivery import (  # noqa: F401 — collected here with this module's ``server``
    commit_together, lagging_fanout, test_a_command_the_database_refuses_fails_alone_in_its_batch,
    test_group_commit_writes_what_arrived_together_in_one_transaction,
    test_joining_while_others_send_sees_every_message_exactly_once,
    test_reconnecting_with_since_seq_misses_nothing_while_others_keep_sending,
    test_removing_a_member_stops_delivery_to_their_sockets_at_once)
from tests.chat.test_rest import (  # noqa: F401
    test_direct_messages_are_get_or_create_and_idempotent, test_history_pages_both_ways_by_seq,
    test_read_state_unread_counts_and_room_list_by_activity, test_threads_and_message_rest_writes)
from tests.chat.test_ws import (  # noqa: F401
    test_edit_delete_and_reactions_reach_every_member, test_every_member_receives_every_message_in_seq_order,
    test_the_same_client_msg_id_returns_the_same_message_never_a_duplicate)
from tests.storage.test_postgres import ADMIN_URL  # skips this module too when PostgreSQL is absent


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    name = "confab_chat_" + uuid.uuid4().hex[:10]
    with psycopg.connect(ADMIN_URL, autocommit=True) as admin:
        admin.execute(f'CREATE DATABASE "{name}"')
    url = f"{ADMIN_URL.rsplit('/', 1)[0]}/{name}"
    try:
        with running_server(tmp_path_factory.mktemp("chat-pg"), database={"url": url, "pool_size": "30"},
                            chat={"send_rate": "1000", "send_window_s": "1"}) as running:
            yield running
    finally:
        with psycopg.connect(ADMIN_URL, autocommit=True) as admin:
            admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def test_a_nul_character_fails_only_its_own_command(server):
    """PostgreSQL refuses NUL in text (DataError): the frame schemas refuse it first, and if one ever
    reaches the writer, it fails alone with BAD_REQUEST and the rest of the batch is acknowledged."""
    from tests.support.chat_helpers import new_room, user
    login, api = user(server)
    room = new_room(api)
    me = login["user"]["id"]
    commands = [{"op": "send", "cid": f"n{i}", "user_id": me, "room_id": room, "content": text,
                 "client_msg_id": f"n{i}"} for i, text in enumerate(["before", "bad \x00 text", "after"])]
    outcomes = commit_together(server.confab.services.chat, commands)
    assert [o.error.code if o.error else o.reply["message"]["content"] for o in outcomes] == \
        ["before", "BAD_REQUEST", "after"]
