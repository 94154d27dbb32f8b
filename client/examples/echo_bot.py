"""An example bot: answers ``!echo <text>`` with ``<text>`` (as a reply in the message's thread), in
every room it is a member of, including rooms it is invited to while running.

    # once, as a person (TOKEN: your access token, see the README's quick start): create the bot,
    # which answers its API key once, and add it to a room
    curl -s -XPOST localhost:8080/api/v1/bots -H "Authorization: Bearer $TOKEN" \
         -H 'content-type: application/json' -d '{"name": "echo"}'
    curl -s -XPOST localhost:8080/api/v1/rooms/$ROOM/members -H "Authorization: Bearer $TOKEN" \
         -H 'content-type: application/json' -d '{"username": "echo[bot]"}'
    # then run it with that key
    CONFAB_URL=http://127.0.0.1:8080 CONFAB_API_KEY=cfk_... python client/examples/echo_bot.py

It keeps running across server restarts and dropped connections: the session resumes each room from
its last seq, so no ``!echo`` is missed or answered twice.
"""
from __future__ import annotations

import logging
import os

from confab_client import ChatSession, Client, ConfabError, Event

PREFIX = "!echo "


def answer(session: ChatSession, me: str, event: Event) -> None:
    """Join rooms the bot is invited to; echo what follows ``!echo``."""
    if event.type == "user_joined" and event.data.get("user", {}).get("id") == me:
        session.join(event.data["room_id"])
        return
    message = event.message
    if message is None or message["user"]["id"] == me or not message["content"].startswith(PREFIX):
        return
    text = message["content"][len(PREFIX):].strip()
    if text:
        try:
            session.send_message(message["room_id"], text, reply_to_id=message["id"],
                                 client_msg_id=f"echo-{message['id']}")  # answered once, even if seen twice
        except ConfabError as exc:
            logging.warning("echo bot: could not answer %s: %s", message["id"], exc)


def main() -> None:
    logging.basicConfig(level=logging.INFO)
    client = Client(os.environ.get("CONFAB_URL", "http://127.0.0.1:8080"), api_key=os.environ["CONFAB_API_KEY"])
    me = client.me()
    with client.chat() as session:
        for room in client.rooms():
            session.join(room["id"])
        logging.info("echo bot %s listening", me["username"])
        for event in session.events():
            answer(session, me["id"], event)


if __name__ == "__main__":
    main()
