"""The SDK's pure parts: per-room ordering (duplicates dropped, holes filled first), the text diff a
document edit applies, the error mapping, and the CLI's credential file."""
import os
import stat

import pytest

from confab_client import config, errors
from confab_client.documents import text_edit
from confab_client.sequence import RoomCursor


def msg(seq):
    return {"seq": seq, "room_id": "r"}


class Store:
    """The room's stored history, as REST would page it."""

    def __init__(self, last):
        self.messages = [msg(s) for s in range(1, last + 1)]
        self.calls = []

    def __call__(self, after, before):
        self.calls.append((after, before))
        return [m for m in self.messages if after < m["seq"] < before]


def seqs(messages):
    return [m["seq"] for m in messages]


def test_in_order_messages_pass_and_duplicates_are_dropped():
    cursor, store = RoomCursor(3), Store(10)
    assert seqs(cursor.offer(msg(4), store)) == [4]
    assert cursor.offer(msg(4), store) == [] and cursor.offer(msg(2), store) == []
    assert seqs(cursor.offer(msg(5), store)) == [5] and store.calls == [] and cursor.last_seq == 5


def test_a_truncated_replay_is_preceded_by_the_missing_messages_from_history():
    """since_seq=2, but the server replays only the newest (8..10): 3..7 come from REST first."""
    cursor, store = RoomCursor(2), Store(10)
    out = []
    for seq in (8, 9, 10, 9, 11):
        out += cursor.offer(msg(seq), store)
    assert seqs(out) == [3, 4, 5, 6, 7, 8, 9, 10, 11] and store.calls == [(2, 8)]


def test_what_the_replay_did_not_bring_up_to_the_rooms_seq_is_fetched_at_the_join_answer():
    """since_seq=2 and the room stood at 9, but nothing was replayed (or only up to 5)."""
    cursor, store = RoomCursor(2), Store(12)
    assert seqs(cursor.settle(9, store)) == [3, 4, 5, 6, 7, 8, 9] and store.calls == [(2, 10)]
    cursor, store = RoomCursor(2), Store(12)
    assert seqs(cursor.offer(msg(3), store) + cursor.offer(msg(4), store) + cursor.offer(msg(5), store)) == [3, 4, 5]
    assert seqs(cursor.settle(9, store)) == [6, 7, 8, 9] and seqs(cursor.offer(msg(10), store)) == [10]
    assert seqs(RoomCursor(9).settle(9, store)) == []  # nothing due: no request


def test_a_join_without_since_holds_live_messages_until_the_room_seq_is_known():
    cursor, store = RoomCursor(None), Store(20)
    assert cursor.offer(msg(13), store) == [] and cursor.offer(msg(12), store) == []
    # the room stood at 10 when joined: 11 was committed before the subscription and is fetched
    assert seqs(cursor.settle(10, store)) == [11, 12, 13] and store.calls == [(10, 12)]
    assert seqs(cursor.settle(10, store)) == []  # a rejoin's answer releases nothing twice
    assert seqs(cursor.offer(msg(14), store)) == [14]


def test_a_join_without_since_drops_what_was_already_there():
    cursor, store = RoomCursor(None), Store(20)
    cursor.offer(msg(9), store)  # fan-out of a message committed before the join read the room
    assert seqs(cursor.settle(10, store)) == [] and cursor.last_seq == 10


@pytest.mark.parametrize("old,new,edit", [
    ("hello world", "hello big world", (6, 6, "big ")),
    ("hello world", "hello", (5, 11, "")),
    ("abc", "abc", (3, 3, "")),
    ("", "new", (0, 0, "new")),
    ("aaa", "aaaa", (3, 3, "a")),
    ("héllo 😀", "héllo 🎉", (6, 7, "🎉")),
])
def test_a_document_edit_replaces_only_what_differs(old, new, edit):
    start, end, insert = text_edit(old, new)
    assert (start, end, insert) == edit
    assert old[:start] + insert + old[end:] == new


def test_each_api_error_code_is_its_own_exception():
    limited = errors.error_from({"error": {"code": "RATE_LIMITED", "message": "slow down",
                                           "details": {"retry_after_s": 3}, "request_id": "rid"}}, 429)
    assert isinstance(limited, errors.RateLimited) and limited.retry_after_s == 3.0
    assert limited.request_id == "rid" and limited.status == 429 and limited.message == "slow down"
    for code, cls in errors.ERRORS.items():
        assert type(errors.error_from({"code": code, "message": "m"})) is cls  # a /ws error object too
    assert isinstance(errors.error_from("<html>bad gateway</html>", 502), errors.Internal)


def test_credentials_are_written_0600_in_a_0700_folder(tmp_path, monkeypatch):
    monkeypatch.setenv("CONFAB_CONFIG_DIR", str(tmp_path / "confab"))
    path = config.save({"server": "http://x", "access_token": "secret"})
    assert stat.S_IMODE(os.stat(path).st_mode) == 0o600
    assert stat.S_IMODE(os.stat(path.parent).st_mode) == 0o700
    config.update(access_token="newer")
    assert config.load() == {"server": "http://x", "access_token": "newer"}
    assert stat.S_IMODE(os.stat(path).st_mode) == 0o600


def test_the_config_folder_follows_xdg(monkeypatch, tmp_path):
    monkeypatch.delenv("CONFAB_CONFIG_DIR", raising=False)
    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path))
    assert config.credentials_path() == tmp_path / "confab" / "credentials.json"
