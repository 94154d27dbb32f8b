"""Search on PostgreSQL (generated tsvector column, GIN index, ts_rank): the engine-independent tests
of ``tests/test_search.py`` again, on a fresh database."""
import pytest

from tests.support.harness import running_server
from tests.storage.test_postgres import pg_url  # noqa: F401 — the fresh database (skips this module without PostgreSQL)
from tests.chat.test_search import (  # noqa: F401 — collected here with this module's ``server``
    test_bad_input_is_a_bad_request, test_edits_and_deletes_are_reflected,
    test_engine_syntax_in_the_query_is_only_text, test_finds_by_word_phrase_and_prefix_best_match_first,
    test_never_returns_a_message_from_a_room_the_caller_cannot_read,
    test_pages_walk_every_hit_exactly_once_in_rank_order)


@pytest.fixture(scope="module")
def server(pg_url, tmp_path_factory):  # noqa: F811
    with running_server(tmp_path_factory.mktemp("search-pg"), database={"url": pg_url},
                        chat={"send_rate": "1000", "send_window_s": "1"}) as running:
        yield running
