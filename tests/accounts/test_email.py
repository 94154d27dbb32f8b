"""Password reset by e-mail (issue 16, items 1 and 3) with a real SMTP server in the test process: the
message arrives with a single-use code, the answer is the same whether or not the address has an
account, a code works once and not after it expires, a reset ends every login, and requests are
limited per address. ``check-config`` tries the SMTP server."""
from __future__ import annotations

import re
import subprocess
import sys
import time
from typing import Any

import pytest
import requests

from storage import passwords
from storage.db import unit_of_work
from tests.support.harness import ROOT, Server, bearer, close_code, connect_ws, register, running_server
from tests.support.smtp_sink import Inbox, mail  # noqa: F401 (mail: the SMTP sink fixture)

CODE = re.compile(r"^([A-Za-z0-9_-]{40,})\r?$", re.MULTILINE)


def SERVER_CONFIG(request: pytest.FixtureRequest) -> dict[str, Any]:  # noqa: N802 — the conftest's name
    return {"email": request.getfixturevalue("mail")[1]}


def ask(server: Server, address: str) -> requests.Response:
    return requests.post(f"{server.base}/api/v1/auth/password-reset", json={"email": address})


def confirm(server: Server, token: str, password: str = "battery staple") -> requests.Response:
    return requests.post(f"{server.base}/api/v1/auth/password-reset/confirm", json={"token": token, "password": password})


def reset_code(inbox: Inbox, address: str) -> str:
    message = inbox.wait_for(address)
    assert message["From"] == "confab@example.org" and "password" in message["Subject"].lower()
    body = message.get_content()
    code = CODE.search(body).group(1)
    assert f"\nhttp://127.0.0.1:8080/#/reset/{code}\n" in body.replace("\r", "")  # the web UI's form (base_url)
    return code


def test_a_reset_by_email_sets_the_password_once_and_ends_every_login(server: Server, mail) -> None:
    inbox = mail[0]
    user = register(server.base)
    address = f"{user['user']['username']}@example.com"
    chat = connect_ws(f"{server.ws_base}/ws", user["access_token"])
    answer = ask(server, address.upper())
    assert answer.status_code == 202
    code = reset_code(inbox, address)
    assert confirm(server, code).status_code == 204
    assert close_code(chat) == 1008
    assert requests.get(f"{server.base}/api/v1/auth/me", headers=bearer(user["access_token"])).status_code == 401
    login = requests.post(f"{server.base}/api/v1/auth/login",
                          json={"username": user["user"]["username"], "password": "battery staple"})
    assert login.status_code == 200
    again = confirm(server, code, "another one entirely")
    assert again.status_code == 400 and again.json()["error"]["details"]["fields"] == {
        "token": ["invalid, expired or already used"]}


def test_an_unknown_address_gets_the_same_answer_and_no_mail(server: Server, mail) -> None:
    inbox = mail[0]
    user = register(server.base)
    known = ask(server, f"{user['user']['username']}@example.com")
    inbox.wait_for(f"{user['user']['username']}@example.com")
    before = len(inbox.messages)
    answer = ask(server, "nobody-here@example.com")
    assert answer.status_code == 202 and answer.json() == known.json()
    time.sleep(0.5)
    assert len(inbox.messages) == before


def test_a_newer_code_replaces_the_older_and_an_expired_one_fails(server: Server, mail) -> None:
    inbox = mail[0]
    user = register(server.base)
    address = f"{user['user']['username']}@example.com"
    ask(server, address)
    first = reset_code(inbox, address)
    inbox.messages.clear()
    ask(server, address)
    second = reset_code(inbox, address)
    assert confirm(server, first).status_code == 400
    with unit_of_work():  # the clock moves on past the code's lifetime
        passwords.PasswordReset.update(expires_at=passwords.utcnow()).execute()
    assert confirm(server, second).status_code == 400
    assert confirm(server, "not-a-code").status_code == 400


def test_reset_requests_are_limited_per_address(tmp_path, mail) -> None:
    with running_server(tmp_path, email=mail[1], rate_limit={"reset_address_burst": "2"}) as srv:
        assert [ask(srv, "someone@example.com").status_code for _ in range(3)] == [202, 202, 429]
        assert ask(srv, "someone-else@example.com").status_code == 202


def test_check_config_tries_the_smtp_server(tmp_path, mail) -> None:
    def check(*settings: str) -> subprocess.CompletedProcess:
        flags = [arg for setting in settings for arg in ("--set", setting)]
        return subprocess.run([sys.executable, str(ROOT / "app.py"), "check-config", "--data-dir", str(tmp_path),
                               *flags], capture_output=True, text=True, timeout=60, cwd=ROOT)
    good = check(*(f"email.{key}={value}" for key, value in mail[1].items()))
    assert re.search(r"^ok\s+email: ", good.stdout, re.MULTILINE), good.stdout
    bad = check("email.host=127.0.0.1", "email.port=1", "email.security=none")
    assert bad.returncode == 1 and re.search(r"^fail\s+email: ", bad.stdout, re.MULTILINE), bad.stdout
    off = check()
    assert re.search(r"^ok\s+email: off", off.stdout, re.MULTILINE), off.stdout
