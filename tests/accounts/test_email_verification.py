"""Optional e-mail verification (issue 16, item 3; ``auth.email_verification = on``) with a real SMTP
server in the test process: registration e-mails a code, the account cannot sign in until the code is
used, a code works once, asking for a new one answers the same whatever the address, and an operator's
``create-admin`` vouches for the address."""
from __future__ import annotations

import re
import subprocess
import sys
from typing import Any

import pytest
import requests

from tests.support.harness import ROOT, Server, running_server
from tests.support.smtp_sink import Inbox, mail  # noqa: F401 (mail: the SMTP sink fixture)
from tests.accounts.test_email import CODE

PASSWORD = "correct horse"


def SERVER_CONFIG(request: pytest.FixtureRequest) -> dict[str, Any]:  # noqa: N802 — the conftest's name
    return {"email": request.getfixturevalue("mail")[1], "auth": {"email_verification": "on"}}


def sign_up(server: Server, name: str) -> requests.Response:
    return requests.post(f"{server.base}/api/v1/auth/register",
                         json={"username": name, "email": f"{name}@example.com", "password": PASSWORD})


def login(server: Server, name: str) -> requests.Response:
    return requests.post(f"{server.base}/api/v1/auth/login", json={"username": name, "password": PASSWORD})


def verify(server: Server, token: str) -> requests.Response:
    return requests.post(f"{server.base}/api/v1/auth/verify-email", json={"token": token})


def code_in(inbox: Inbox, address: str) -> str:
    message = inbox.wait_for(address)
    assert "confirm" in message["Subject"].lower()
    body = message.get_content()
    code = CODE.search(body).group(1)
    assert f"\nhttp://127.0.0.1:8080/#/verify/{code}\n" in body.replace("\r", "")  # the web UI's form
    return code


def test_an_account_signs_in_once_its_address_is_verified(server: Server, mail) -> None:
    inbox = mail[0]
    created = sign_up(server, "vera")
    assert created.status_code == 201 and created.json()["email_verified"] is False
    refused = login(server, "vera")
    assert refused.status_code == 403 and refused.json()["error"]["details"] == {"reason": "email_unverified"}
    wrong = requests.post(f"{server.base}/api/v1/auth/login", json={"username": "vera", "password": "not it!!"})
    assert wrong.status_code == 401  # a guesser learns nothing about the verification
    code = code_in(inbox, "vera@example.com")
    assert verify(server, code).status_code == 204
    signed_in = login(server, "vera")
    assert signed_in.status_code == 200 and signed_in.json()["user"]["email_verified"] is True
    assert verify(server, code).status_code == 400


def test_a_new_code_on_request_replaces_the_old_one(server: Server, mail) -> None:
    inbox = mail[0]
    assert sign_up(server, "walt").status_code == 201
    first = code_in(inbox, "walt@example.com")
    inbox.messages.clear()
    known = requests.post(f"{server.base}/api/v1/auth/verify-email/resend", json={"email": "walt@example.com"})
    unknown = requests.post(f"{server.base}/api/v1/auth/verify-email/resend", json={"email": "nobody@example.com"})
    assert known.status_code == unknown.status_code == 202 and known.json() == unknown.json()
    second = code_in(inbox, "walt@example.com")
    assert verify(server, first).status_code == 400
    assert verify(server, second).status_code == 204
    assert login(server, "walt").status_code == 200


def test_create_admin_vouches_for_the_address(tmp_path, mail) -> None:
    with running_server(tmp_path, email=mail[1], auth={"email_verification": "on"}) as srv:
        made = subprocess.run([sys.executable, str(ROOT / "app.py"), "create-admin", "boss", "--email",
                               "boss@example.com", "--password-stdin", "--data-dir", str(tmp_path),
                               "--set", "auth.email_verification=on"],
                              input=PASSWORD + "\n", capture_output=True, text=True, timeout=60, cwd=ROOT)
        assert made.returncode == 0, made.stderr
        assert login(srv, "boss").status_code == 200
        assert re.match(r"^\w", made.stdout)
