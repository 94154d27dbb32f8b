"""The e-mail digest (issue 16, item 3) with a real SMTP server in the test process: a person with no
socket open for ``email.digest_after_s`` gets their unread mentions, DMs and replies once, a person
online or opted out gets nothing, and the digest's unsubscribe link works without signing in."""
from __future__ import annotations

import time
from datetime import timedelta
from typing import Any

import pytest
import requests

from storage.db import unit_of_work
from storage.models import User, utcnow
from tests.support.harness import Server, connect_ws
from tests.support.smtp_sink import mail  # noqa: F401 (mail: the SMTP sink fixture)
from tests.support.chat_helpers import new_room, user

AWAY_S = 60


pytestmark = pytest.mark.engines("sqlite", "postgresql")


def SERVER_CONFIG(request: pytest.FixtureRequest) -> dict[str, Any]:  # noqa: N802 — the conftest's name
    email = {**request.getfixturevalue("mail")[1], "digest_after_s": str(AWAY_S), "digest_interval_s": "1",
             "base_url": "http://confab.test"}
    return {"email": email, "chat": {"send_rate": "100"}}


def away(user_id: str) -> None:
    """As if the user had signed up, and last had a socket open, longer ago than ``digest_after_s``."""
    long_ago = utcnow() - timedelta(seconds=AWAY_S * 2)
    with unit_of_work():
        User.update(created_at=long_ago, last_seen=long_ago).where(User.id == user_id).execute()


def mentioned_while_away(server: Server, text: str = "please review") -> tuple[dict, dict, str]:
    (author, author_api), (reader, reader_api) = user(server), user(server)
    room = new_room(author_api, name="design")
    assert reader_api.post(f"/rooms/{room}/join").status_code == 200
    away(reader["user"]["id"])
    sent = author_api.post(f"/rooms/{room}/messages", json={"content": f"@{reader['user']['username']} {text}"})
    assert sent.status_code in (200, 201), sent.text
    return author, reader, room


def test_someone_away_gets_their_mentions_once_and_can_unsubscribe(server: Server, mail) -> None:
    inbox = mail[0]
    author, reader, _room = mentioned_while_away(server)
    address = reader["user"]["email"]
    digest = inbox.wait_for(address)
    body = digest.get_content()
    assert "what you missed (1)" in digest["Subject"]
    assert f"{author['user']['username']} mentioned you in #design: @{reader['user']['username']} please review" in body
    time.sleep(2.5)  # two more runs of the job: nothing new, nothing sent
    assert [m["To"] for m in inbox.messages].count(address) == 1
    link = next(line for line in body.splitlines() if "unsubscribe" in line).split(": ", 1)[1].strip()
    assert link.startswith("http://confab.test/api/v1/users/")
    forged = requests.get(server.base + link.removeprefix("http://confab.test")[:-4] + "0000")
    assert forged.status_code == 404
    done = requests.get(server.base + link.removeprefix("http://confab.test"))
    assert done.status_code == 200 and done.json() == {"email_digest": False}
    me = requests.get(f"{server.base}/api/v1/auth/me", headers={"Authorization": f"Bearer {reader['access_token']}"})
    assert me.json()["email_digest"] is False


def test_nobody_online_or_opted_out_gets_one(server: Server, mail) -> None:
    inbox = mail[0]
    (_, author_api), (online, online_api), (quiet, quiet_api) = user(server), user(server), user(server)
    room = new_room(author_api, name="ops")
    for api in (online_api, quiet_api):
        assert api.post(f"/rooms/{room}/join").status_code == 200
    assert quiet_api.put("/users/me", json={"email_digest": False}).json()["email_digest"] is False
    socket = connect_ws(f"{server.ws_base}/ws", online["access_token"])
    for login in (online, quiet):
        away(login["user"]["id"])
    author_api.post(f"/rooms/{room}/messages",
                    json={"content": f"@{online['user']['username']} @{quiet['user']['username']} hi"})
    time.sleep(3)
    assert not {online["user"]["email"], quiet["user"]["email"]} & {m["To"] for m in inbox.messages}
    socket.close()
