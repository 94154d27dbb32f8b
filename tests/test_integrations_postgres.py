"""REST sends, bots and incoming webhooks on PostgreSQL (migrations 12 and 13 there, storage calls that
yield): the same tests as on SQLite, on a fresh database."""
from tests.integrations.test_bots import (  # noqa: F401 — collected here with this module's ``server``
    test_a_bot_added_to_a_room_posts_there_and_is_shown_as_a_bot, test_a_bot_key_cannot_act_outside_its_rooms,
    test_deleting_a_bot_revokes_its_keys_closes_its_sockets_and_takes_it_out_of_its_rooms)
from tests.test_chat_postgres import server  # noqa: F401 — a fresh database; skips without PostgreSQL
from tests.integrations.test_incoming_webhooks import (  # noqa: F401
    test_a_retry_with_the_same_client_msg_id_posts_once,
    test_a_room_admin_creates_a_webhook_whose_bot_posts_into_the_room, test_a_wrong_or_revoked_webhook_is_refused)
from tests.chat.test_rest_messages import (  # noqa: F401
    test_a_resend_answers_the_stored_message_with_200_and_broadcasts_nothing,
    test_a_rest_send_is_stored_with_its_seq_and_reaches_the_room, test_rest_and_ws_sends_interleave_in_one_seq_order)
