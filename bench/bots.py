"""Chat bots (seed 004): each logs in as ``bot_XXXXX``, lists the public rooms, picks one at random,
sends 10 messages, waits, and loops. Also the setup used by bench/chat.py: accounts and rooms at scale.

    .venv/bin/python bench/bots.py --base http://127.0.0.1:8080 --bots 5 --rooms 3 --seconds 30

Bots respect the server's send rate limit (a RATE_LIMITED reply makes the bot wait ``retry_after_s``).
"""
from gevent import monkey

monkey.patch_all()

import argparse  # noqa: E402
import json  # noqa: E402
import random  # noqa: E402
import time  # noqa: E402
import uuid  # noqa: E402
from typing import Any  # noqa: E402

import gevent  # noqa: E402
import gevent.pool  # noqa: E402
import requests  # noqa: E402
import websocket  # noqa: E402

LINES = ["Olá, sou um bot!", "Mensagem automática", "Testando o sistema", "Bot em ação", "Mensagem de teste",
         "Sistema funcionando", "Publicação automática", "Bot ativo", "Teste de carga",
         "Mensagem gerada automaticamente"]
PASSWORD = "bot password 123"


def create_account(base: str, session: requests.Session | None = None) -> dict[str, Any]:
    """Register ``bot_XXXXX`` and log in; returns the login body (tokens and user)."""
    http = session or requests
    name = f"bot_{uuid.uuid4().hex[:10]}"
    response = http.post(f"{base}/api/v1/auth/register",
                         json={"username": name, "email": f"{name}@bots.example", "password": PASSWORD})
    response.raise_for_status()
    response = http.post(f"{base}/api/v1/auth/login", json={"username": name, "password": PASSWORD})
    response.raise_for_status()
    return response.json()


def create_accounts(base: str, count: int, concurrency: int = 16) -> list[dict[str, Any]]:
    pool = gevent.pool.Pool(concurrency)
    session = requests.Session()
    return list(pool.imap_unordered(lambda _: create_account(base, session), range(count)))


def create_room(base: str, token: str, name: str) -> str:
    response = requests.post(f"{base}/api/v1/rooms", json={"name": name, "is_private": False},
                             headers={"Authorization": f"Bearer {token}"})
    response.raise_for_status()
    return response.json()["id"]


class Bot:
    def __init__(self, base: str, login: dict[str, Any]) -> None:
        self.base, self.login = base, login
        self.ws = websocket.create_connection(base.replace("http", "ws", 1) + "/ws",
                                              header=[f"Authorization: Bearer {login['access_token']}"], timeout=10)
        self.sent = self.acked = self.limited = 0

    def rooms(self) -> list[str]:
        response = requests.get(f"{self.base}/api/v1/rooms", params={"scope": "public", "limit": 200},
                                headers={"Authorization": f"Bearer {self.login['access_token']}"})
        response.raise_for_status()
        return [room["id"] for room in response.json()["items"]]

    def request(self, frame: dict[str, Any]) -> dict[str, Any]:
        frame["ref"] = uuid.uuid4().hex[:12]
        self.ws.send(json.dumps(frame))
        while True:
            reply = json.loads(self.ws.recv())
            if reply.get("ref") == frame["ref"]:
                return reply

    def run(self, until: float, pause_s: float = 2.0) -> None:
        joined: set[str] = set()
        while time.monotonic() < until:
            room = random.choice(self.rooms())
            if room not in joined:
                self.request({"type": "join_room", "room_id": room})
                joined.add(room)
            for _ in range(10):
                reply = self.request({"type": "send_message", "room_id": room, "content": random.choice(LINES),
                                      "client_msg_id": uuid.uuid4().hex})
                self.sent += 1
                if reply["type"] == "ack":
                    self.acked += 1
                elif reply.get("error", {}).get("code") == "RATE_LIMITED":
                    self.limited += 1
                    gevent.sleep(reply["error"]["details"]["retry_after_s"])
            gevent.sleep(pause_s)
        self.ws.close()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--base", default="http://127.0.0.1:8080")
    parser.add_argument("--bots", type=int, default=5)
    parser.add_argument("--rooms", type=int, default=3, help="public rooms to create first")
    parser.add_argument("--seconds", type=float, default=30.0)
    args = parser.parse_args()
    logins = create_accounts(args.base, args.bots)
    for i in range(args.rooms):
        create_room(args.base, logins[i % len(logins)]["access_token"], f"bots-{i}")
    bots = [Bot(args.base, login) for login in logins]
    until = time.monotonic() + args.seconds
    gevent.joinall([gevent.spawn(bot.run, until) for bot in bots])
    print(json.dumps({"bots": len(bots), "sent": sum(b.sent for b in bots), "acked": sum(b.acked for b in bots),
                      "rate_limited": sum(b.limited for b in bots)}))


if __name__ == "__main__":
    main()
