"""Chat bots (seed 004): each logs in as ``bot_XXXXX``, lists the public rooms, picks one at random,
sends 10 messages, waits, and loops. Also the setup used by bench/chat.py: accounts and rooms at scale.
Written on the Python SDK (``client/confab_client``), as a user's bot would be.

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

from confab_client import Client, RateLimited  # noqa: E402

LINES = ["Olá, sou um bot!", "Mensagem automática", "Testando o sistema", "Bot em ação", "Mensagem de teste",
         "Sistema funcionando", "Publicação automática", "Bot ativo", "Teste de carga",
         "Mensagem gerada automaticamente"]
PASSWORD = "bot password 123"


def create_account(base: str, http: requests.Session | None = None) -> dict[str, Any]:
    """Register ``bot_XXXXX`` and log in; returns the login body (tokens and user)."""
    client = Client(base, http=http)
    name = f"bot_{uuid.uuid4().hex[:10]}"
    client.register(name, f"{name}@bots.example", PASSWORD)
    user = client.login(name, PASSWORD)
    return {"access_token": client.access_token, "refresh_token": client.refresh_token, "user": user}


def create_accounts(base: str, count: int, concurrency: int = 16) -> list[dict[str, Any]]:
    pool = gevent.pool.Pool(concurrency)
    http = requests.Session()  # one connection pool for thousands of accounts
    return list(pool.imap_unordered(lambda _: create_account(base, http), range(count)))


def create_room(base: str, token: str, name: str) -> str:
    return Client(base, access_token=token).create_room(name)["id"]


class Bot:
    def __init__(self, base: str, login: dict[str, Any]) -> None:
        self.client = Client(base, access_token=login["access_token"], refresh_token=login["refresh_token"])
        self.session = self.client.chat()
        self.sent = self.acked = self.limited = 0

    def run(self, until: float, pause_s: float = 2.0) -> None:
        joined: set[str] = set()
        while time.monotonic() < until:
            room = random.choice([r["id"] for r in self.client.rooms("public")])
            if room not in joined:
                self.session.join(room)
                joined.add(room)
            for _ in range(10):
                self.sent += 1
                try:
                    self.session.send_message(room, random.choice(LINES))
                    self.acked += 1
                except RateLimited as limited:
                    self.limited += 1
                    gevent.sleep(limited.retry_after_s)
            gevent.sleep(pause_s)
        self.session.close()


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
