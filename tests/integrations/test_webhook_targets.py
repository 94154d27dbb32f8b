"""Webhooks reach public addresses only, unless the operator allows more: internal URLs are refused at
creation (BAD_REQUEST on ``url``), and again at every delivery, where the dispatcher connects to the
address it checked (Host header and TLS name from the URL). What the owner sees of failed deliveries
is the same whether or not something internal answered."""
import ipaddress

import pytest
import requests
from gevent.pywsgi import WSGIServer

from actors.chat.webhooks import Webhooks
from domain.config import ConfigError, build_config
from domain.metrics import NullMetrics
from domain.outbound import AddressPolicy, Refused, is_public, resolve_host
from tests.support.harness import ServerProcess, free_port, register, running_server
from tests.support.chat_helpers import Api, ChatClient, new_room, user
from tests.support.tls import localhost_certificate
from tests.support.waiting import wait_for

FAST = {"backoff_base_s": "0.05", "backoff_max_s": "0.1", "max_failures": "1000", "timeout_s": "2",
        "dispatch_interval_s": "0.1"}
INTERNAL_URLS = [
    "http://127.0.0.1:{port}/hook", "http://localhost:{port}/hook", "http://127.9.9.9/", "http://[::1]:{port}/",
    "http://10.1.2.3/", "http://172.16.0.1/", "http://192.168.1.1/", "http://100.64.0.1/",
    "http://169.254.169.254/latest/meta-data/", "http://[fe80::1]/", "http://[fd12:3456::1]/", "http://0.0.0.0/",
    "http://[::]/", "http://224.0.0.1/", "http://[ff02::1]/", "http://255.255.255.255/", "http://240.0.0.1/",
    "http://[::ffff:127.0.0.1]/", "http://[::ffff:10.0.0.1]/", "http://[64:ff9b::a9fe:a9fe]/",
    "http://[2002:7f00:1::1]/", "http://198.18.0.1/", "http://192.0.2.10/", "http://2130706433/",
    "http://0x7f.1/", "https://nonexistent.invalid/",
]


@pytest.mark.parametrize("address, public", [
    ("8.8.8.8", True), ("2606:4700::1111", True), ("93.184.216.34", True),
    ("127.0.0.1", False), ("10.0.0.1", False), ("172.31.255.255", False), ("192.168.0.1", False),
    ("100.64.0.1", False), ("169.254.169.254", False), ("0.0.0.0", False), ("224.0.1.1", False),
    ("255.255.255.255", False), ("::1", False), ("::", False), ("fe80::1", False), ("fc00::1", False),
    ("ff0e::1", False), ("::ffff:169.254.169.254", False), ("64:ff9b::7f00:1", False), ("2002:a00:1::", False),
    ("2001:db8::1", False),
])
def test_which_addresses_are_public(address, public):
    assert is_public(ipaddress.ip_address(address)) is public


def test_every_resolved_address_is_checked_and_the_first_one_is_pinned():
    policy = AddressPolicy.parse("")
    answers = {"mixed.example": ["93.184.216.34", "10.0.0.5"], "good.example": ["93.184.216.34", "2606:4700::1"]}
    with pytest.raises(Refused, match="10.0.0.5"):
        policy.target("https://mixed.example/x", lambda host, port: answers[host])
    target = policy.target("https://good.example:8443/in?x=1", lambda host, port: answers[host])
    assert (target.address, target.host, target.host_header, target.port, target.path) == \
        ("93.184.216.34", "good.example", "good.example:8443", 8443, "/in?x=1")
    lan = AddressPolicy.parse("10.0.0.0/8, hooks.lan")
    assert lan.target("http://10.9.8.7/").address == "10.9.8.7"
    assert lan.target("http://hooks.lan/", lambda host, port: ["192.168.3.4"]).address == "192.168.3.4"
    with pytest.raises(Refused):
        lan.target("http://192.168.3.4/")


def test_a_bad_allow_list_stops_the_start():
    with pytest.raises(ConfigError, match="^webhooks.allowed_targets: 'not a host!'"):
        build_config({"webhooks": {"allowed_targets": "10.0.0.0/8,not a host!"}})


@pytest.fixture
def server(tmp_path):
    """One per test: in-process servers share the database handle, so a second one alive in the same
    process would dispatch (with its own settings) the deliveries of the test's server."""
    with running_server(tmp_path, webhooks=FAST) as running:
        yield running


def test_internal_urls_are_refused_at_creation_and_on_change(server):
    _, api = user(server)
    for url in INTERNAL_URLS:
        response = api.post("/webhooks", json={"url": url.format(port=server.port), "events": ["message.created"]})
        assert response.status_code == 400, (url, response.text)
        assert "url" in response.json()["error"]["details"]["fields"], url
    public = api.post("/webhooks", json={"url": "http://93.184.216.34:9/hook", "events": ["message.created"]})
    assert public.status_code == 201, public.text
    moved = api.patch(f"/webhooks/{public.json()['id']}", json={"url": "http://169.254.169.254/"})
    assert moved.status_code == 400 and "url" in moved.json()["error"]["details"]["fields"]
    assert api.get("/webhooks").json()[0]["url"] == "http://93.184.216.34:9/hook"


class Receiver:
    """A local HTTP(S) server that records the Host of every request and answers 204."""

    def __init__(self, host="127.0.0.1", **tls):
        self.requests = []
        self.server = WSGIServer((host, 0), self.app, log=None, **tls)
        self.server.start()
        self.port = self.server.server_port

    def app(self, environ, start_response):
        environ["wsgi.input"].read()
        self.requests.append({"host": environ.get("HTTP_HOST"), "path": environ["PATH_INFO"]})
        start_response("204 No Content", [])
        return [b""]

    def close(self):
        self.server.stop(timeout=1)


@pytest.fixture
def receiver():
    running = Receiver()
    yield running
    running.close()


def _login(base, username):
    response = requests.post(f"{base}/api/v1/auth/login", json={"username": username, "password": "correct horse"})
    assert response.status_code == 200, response.text
    return response.json()


def _send_one(server, login):
    room = new_room(Api(server.base, login))
    client = ChatClient(server.ws_base, login)
    try:
        client.join(room)
        client.say(room, "for the webhooks")
    finally:
        client.close()


def test_delivery_rechecks_and_the_owner_cannot_tell_whether_an_internal_address_answered(tmp_path, receiver):
    """Webhooks made while the LAN was allowed, delivered after the allow-list is gone: nothing internal is
    contacted, and the webhook whose receiver listens ends exactly like the one whose does not."""
    config = {**FAST, "max_failures": "3"}
    with running_server(tmp_path, webhooks={**config, "allowed_targets": "127.0.0.1/32"}) as first:
        owner = register(first.base)
        api = Api(first.base, owner)
        for url in (f"http://127.0.0.1:{receiver.port}/live", f"http://127.0.0.1:{free_port()}/dead"):
            assert api.post("/webhooks", json={"url": url, "events": ["message.created"]}).status_code == 201
    with running_server(tmp_path, webhooks=config) as second:
        owner = _login(second.base, owner["user"]["username"])
        api = Api(second.base, owner)
        _send_one(second, owner)

        def both_disabled():
            hooks = api.get("/webhooks").json()
            return hooks if all(not hook["is_active"] for hook in hooks) else None

        hooks = wait_for(both_disabled, timeout=15, interval=0.1)
    assert receiver.requests == []
    shown = [{k: v for k, v in hook.items() if k not in ("id", "url", "secret", "created_at")} for hook in hooks]
    assert shown == [{"events": ["message.created"], "is_active": False, "failure_count": 3}] * 2


def test_the_connection_goes_to_the_checked_address_with_the_urls_host(receiver):
    """The name is resolved once, by the policy: a name no DNS knows still reaches the address it was
    checked as, with its own Host header, so a second (rebound) answer can never be used."""
    answers = []

    def resolve(host, port):
        answers.append(host)
        return ["127.0.0.1"]

    config = build_config({"webhooks": {"allowed_targets": "127.0.0.1/32", "timeout_s": "2"}}).webhooks
    hooks = Webhooks(config, NullMetrics(), lambda event: None, resolve=resolve)
    url = f"http://rebind.invalid:{receiver.port}/pinned?x=1"
    assert hooks.post(url, "whsec_x", "d1", "message.created", b"{}") == (204, "")
    assert answers == ["rebind.invalid"]
    assert receiver.requests == [{"host": f"rebind.invalid:{receiver.port}", "path": "/pinned"}]
    assert hooks.post(f"http://10.0.0.1:{receiver.port}/", "whsec_x", "d2", "message.created", b"{}")[1] \
        .startswith("refused:")


@pytest.fixture
def tls_receiver(tmp_path):
    """An HTTPS receiver on localhost's address whose certificate names ``localhost`` only (no IP)."""
    key, cert = localhost_certificate(tmp_path)
    running = Receiver(resolve_host("localhost", 443)[0], keyfile=str(key), certfile=str(cert))
    yield running, cert
    running.close()


def test_https_deliveries_verify_the_urls_name_on_the_pinned_connection(tmp_path, tls_receiver):
    receiver, cert = tls_receiver
    env = {"SSL_CERT_FILE": str(cert), "CONFAB_WEBHOOKS_ALLOWED_TARGETS": "localhost",
           "CONFAB_WEBHOOKS_DISPATCH_INTERVAL_S": "0.1"}
    process = ServerProcess(tmp_path / "server", env=env)
    try:
        process.wait_ready()
        owner = register(process.base)
        api = Api(process.base, owner)
        created = api.post("/webhooks", json={"url": f"https://localhost:{receiver.port}/tls",
                                              "events": ["message.created"]})
        assert created.status_code == 201, created.text
        _send_one(process, owner)
        wait_for(lambda: receiver.requests, timeout=10)
        assert receiver.requests[0] == {"host": f"localhost:{receiver.port}", "path": "/tls"}
    finally:
        process.stop()
