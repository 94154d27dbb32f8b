"""The client's address behind trusted proxies, and what depends on it, over real HTTP: per-IP login
buckets (one client behind the load balancer no longer locks everyone out), the per-account login
limit (a guess spread over many addresses is limited too), log lines, and who sees /health's details."""
import itertools
import logging
import socket
import uuid

import pytest
import requests

from domain.forwarded import TrustedProxies, is_loopback
from tests.support.harness import LogRecords, running_server

LB = "127.0.0.1/32"  # the tests' own address plays the load balancer


@pytest.mark.parametrize("remote, forwarded, client", [
    ("127.0.0.1", None, "127.0.0.1"),
    ("127.0.0.1", "198.51.100.7", "198.51.100.7"),
    ("127.0.0.1", "203.0.113.1, 198.51.100.7", "198.51.100.7"),  # the client wrote the left one
    ("127.0.0.1", "198.51.100.7, 10.0.0.2", "198.51.100.7"),  # 10.0.0.2 is a proxy of ours too
    ("127.0.0.1", "10.0.0.3, 10.0.0.2", "10.0.0.3"),  # only proxies: the leftmost
    ("127.0.0.1", "198.51.100.7:4711", "198.51.100.7"),
    ("127.0.0.1", "[2001:db8::5]:443", "2001:db8::5"),
    ("127.0.0.1", "garbage, 198.51.100.7", "198.51.100.7"),
    ("127.0.0.1", "198.51.100.7, garbage", "127.0.0.1"),  # our proxy would never write that
    ("192.0.2.9", "198.51.100.7", "192.0.2.9"),  # not from a trusted proxy: headers are the client's
    ("::ffff:127.0.0.1", "198.51.100.7", "198.51.100.7"),
])
def test_the_rightmost_untrusted_address_is_the_client(remote, forwarded, client):
    assert TrustedProxies.parse("127.0.0.1, 10.0.0.0/8").client(remote, forwarded) == client


def test_loopback():
    assert is_loopback("127.0.0.1") and is_loopback("::1") and is_loopback("127.5.6.7")
    assert not is_loopback("192.0.2.2") and not is_loopback("unknown")


SERVER_CONFIG = {
    "server": {"trusted_proxies": LB},
    "rate_limit": {"auth_rate_per_s": "0.001", "auth_burst": "3",
                   "login_account_rate_per_s": "0.001", "login_account_burst": "4"},
}


def _login(server, username, password, client):
    return requests.post(f"{server.base}/api/v1/auth/login", json={"username": username, "password": password},
                         headers={"X-Forwarded-For": client})


_accounts = itertools.count(1)


def _account(server):
    """A user registered from an address of its own (registration draws from the strict per-IP bucket)."""
    n = next(_accounts)
    username = f"user{n}_{uuid.uuid4().hex[:6]}"
    body = {"username": username, "email": f"{username}@example.com", "password": "correct horse"}
    response = requests.post(f"{server.base}/api/v1/auth/register", headers={"X-Forwarded-For": f"198.18.0.{n}"},
                             json=body)
    assert response.status_code == 201, response.text
    return username


def test_one_client_behind_the_balancer_does_not_lock_out_the_others(server):
    victim, other = _account(server), _account(server)
    for _ in range(3):
        assert _login(server, victim, "wrong", "198.51.100.1").status_code == 401
    assert _login(server, victim, "wrong", "198.51.100.1").status_code == 429
    assert _login(server, victim, "wrong", "203.0.113.77, 198.51.100.1").status_code == 429  # spoofing fails
    assert _login(server, other, "correct horse", "198.51.100.2").status_code == 200


def test_a_guess_spread_over_many_addresses_is_limited_per_account(server):
    victim, bystander = _account(server), _account(server)
    answers = [_login(server, victim, f"guess{n}", f"198.51.100.{10 + n}").status_code for n in range(6)]
    assert answers == [401, 401, 401, 401, 429, 429]
    refused = _login(server, victim, "guess", "198.51.100.99")
    assert refused.json()["error"]["code"] == "RATE_LIMITED" and int(refused.headers["Retry-After"]) > 0
    assert _login(server, bystander, "correct horse", "198.51.100.12").status_code == 200
    unknown = [_login(server, "nobody_here", "x", f"198.51.100.{40 + n}").status_code for n in range(5)]
    assert unknown == [401, 401, 401, 401, 429]  # existing or not, the same answers


def test_log_lines_carry_the_resolved_client_address(server):
    with LogRecords(logging.WARNING) as records:
        assert _login(server, "nobody_logged", "x", "198.51.100.200").status_code == 401
    failed = [r for r in records.records if r.getMessage() == "login.failed"]
    assert failed and failed[0].context["client_ip"] == "198.51.100.200"


def _outside_address():
    """This machine's address on its outgoing interface (not loopback), or None."""
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as probe:
        try:
            probe.connect(("192.0.2.1", 9))
        except OSError:
            return None
        address = probe.getsockname()[0]
    return None if is_loopback(address) else address


def test_health_details_only_for_the_machine_itself(server, tmp_path):
    for path in ("/health", "/ready"):
        local = requests.get(server.base + path).json()
        assert set(local) == {"status", "protocol", "components"}
        remote = requests.get(server.base + path, headers={"X-Forwarded-For": "203.0.113.9"}).json()
        assert remote == {"status": local["status"], "protocol": 2}
        forged = requests.get(server.base + path, headers={"X-Forwarded-For": "127.0.0.1, 203.0.113.9"}).json()
        assert "components" not in forged
    outside = _outside_address()
    if outside is None:
        pytest.skip("no non-loopback address on this machine to call from")
    with running_server(tmp_path, server={"host": "0.0.0.0"}) as open_server:
        direct = requests.get(f"http://{outside}:{open_server.port}/health",
                              headers={"X-Forwarded-For": "127.0.0.1"}).json()  # not a trusted proxy: ignored
        assert direct == {"status": "ok", "protocol": 2}
        assert "components" in requests.get(f"{open_server.base}/health").json()
