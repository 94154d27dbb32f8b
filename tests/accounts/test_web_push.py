"""Web Push (issue 16, item 4) against a local push service: a mention of a person with no socket open
reaches their browser's subscription encrypted per RFC 8291 (the test decrypts it with the subscription's
keys) and signed with the server's VAPID key (generated once into the data folder, 0600); a person online
gets no push; a subscription the push service calls gone (410) is removed."""
from __future__ import annotations

import time
from typing import Any, Iterator

import pytest
import requests
from py_vapid import Vapid02

from actors.push import PushJob
from domain.outbound import AddressPolicy, resolve_host
from storage.db import reading
from storage.models import PushSubscription
from tests.support.harness import Server, connect_ws, running_server
from tests.support.chat_helpers import new_room, user
from tests.support.push_service import PushService, browser_keys, decrypt, subscribe
from tests.support.recording_metrics import RecordingMetrics
from tests.support.tls import localhost_certificate


@pytest.fixture(scope="module")
def service() -> Iterator[PushService]:
    pushes = PushService()
    yield pushes
    pushes.close()


pytestmark = pytest.mark.engines("sqlite", "postgresql")
SERVER_CONFIG = {"chat": {"send_rate": "100"}, "webhooks": {"allowed_targets": "127.0.0.1/32"}}


def test_a_mention_of_someone_away_is_pushed_encrypted_and_signed(server: Server, service: PushService) -> None:
    (_, author_api), (reader, reader_api) = user(server), user(server)
    room = new_room(author_api, name="push")
    assert reader_api.post(f"/rooms/{room}/join").status_code == 200
    path = f"/push/reader-{reader['user']['id']}"
    private_key, auth, _ = subscribe(reader_api, service.endpoint(path))
    author_api.post(f"/rooms/{room}/messages", json={"content": f"@{reader['user']['username']} look"})
    pushed = service.wait_for(path)
    assert pushed["headers"]["HTTP_CONTENT_ENCODING"] == "aes128gcm"
    assert pushed["headers"]["HTTP_TTL"] == "43200"  # kept 12 h for a device that is off, not dropped at once
    server_key = reader_api.get("/push/key").json()["public_key"]
    assert f"k={server_key}" in pushed["headers"]["HTTP_AUTHORIZATION"].replace(" ", "")
    payload = decrypt(pushed, private_key, auth)
    assert payload["type"] == "notification"
    assert payload["notification"]["kind"] == "mention" and payload["notification"]["room_id"] == room
    assert payload["notification"]["snippet"] == f"@{reader['user']['username']} look"
    key_file = server.confab.services.config.data_path / "vapid_private.pem"
    assert key_file.stat().st_mode & 0o777 == 0o600


def test_nobody_online_is_pushed_and_gone_subscriptions_are_removed(server: Server, service: PushService) -> None:
    (_, author_api), (online, online_api), (gone, gone_api) = user(server), user(server), user(server)
    room = new_room(author_api, name="push2")
    for api in (online_api, gone_api):
        assert api.post(f"/rooms/{room}/join").status_code == 200
    online_path, gone_path = f"/push/online-{online['user']['id']}", f"/push/gone-{gone['user']['id']}"
    subscribe(online_api, service.endpoint(online_path))
    subscribe(gone_api, service.endpoint(gone_path))
    socket = connect_ws(f"{server.ws_base}/ws", online["access_token"])
    author_api.post(f"/rooms/{room}/messages",
                    json={"content": f"@{online['user']['username']} @{gone['user']['username']} hi"})
    service.wait_for(gone_path)
    deadline = time.monotonic() + 5
    while time.monotonic() < deadline:
        with reading():
            if not PushSubscription.select().where(PushSubscription.user == gone["user"]["id"]).exists():
                break
        time.sleep(0.1)
    else:
        raise AssertionError("the gone subscription is still there")
    assert not [r for r in service.received if r["path"] == online_path]
    socket.close()


def test_subscriptions_are_validated_and_internal_endpoints_refused(tmp_path) -> None:
    with running_server(tmp_path) as srv:  # no allowed targets: 127.0.0.1 is internal
        _, api = user(srv)
        created = api.post("/push/subscriptions", json={
            "endpoint": "http://127.0.0.1:9/x", "keys": {"p256dh": "A" * 87, "auth": "B" * 22}})
        assert created.status_code == 400 and "endpoint" in created.json()["error"]["details"]["fields"]
        bad = api.post("/push/subscriptions", json={"endpoint": "https://push.example.com/x", "keys": {"auth": "x"}})
        assert bad.status_code == 400
        assert api.delete("/push/subscriptions/00000000-0000-0000-0000-000000000000").status_code == 404
        assert requests.get(f"{srv.base}/api/v1/push/key").status_code == 401


class Nobody:
    """Presence with nobody online."""

    def online(self) -> list[str]:
        return []


def pinned_job(allowed: str, resolve: Any = resolve_host, timeout_s: float = 10.0) -> tuple[PushJob, RecordingMetrics]:
    vapid, metrics = Vapid02(), RecordingMetrics()
    vapid.generate_keys()
    job = PushJob(vapid, Nobody(), AddressPolicy.parse(allowed), "ops@example.com", metrics, 3600, resolve=resolve,
                  timeout_s=timeout_s)
    return job, metrics


def subscription_at(endpoint: str) -> PushSubscription:
    return PushSubscription(id="s1", endpoint=endpoint, **browser_keys()[2])


def test_the_push_goes_to_the_checked_address_with_the_endpoints_host(service: PushService) -> None:
    """The endpoint's host is resolved once, by the policy: a name no DNS knows still reaches the address it
    was checked as, with its own Host header, so a second (rebound) answer can never be used."""
    answers = []

    def resolve(host: str, port: int) -> list[str]:
        answers.append(host)
        return ["127.0.0.1"]

    job, metrics = pinned_job("127.0.0.1/32", resolve)
    job.send(subscription_at(f"http://rebind.invalid:{service.port}/pinned?x=1"), "{}")
    assert answers == ["rebind.invalid"]
    assert [r["host"] for r in service.to("/pinned")] == [f"rebind.invalid:{service.port}"]
    job.send(subscription_at(f"http://10.0.0.1:{service.port}/internal"), "{}")
    assert metrics.counts == {"push.sent": 1, "push.failed": 1} and not service.to("/internal")


def test_a_push_service_that_answers_too_slowly_is_cut_at_the_deadline(service: PushService) -> None:
    """Each read of a trickling answer is quick, so only a deadline on the whole request ends it."""
    job, metrics = pinned_job("127.0.0.1/32", timeout_s=1.0)
    started = time.monotonic()
    job.send(subscription_at(service.endpoint("/trickle")), "{}")
    assert time.monotonic() - started < 3.0 and metrics.counts == {"push.failed": 1}
    assert service.to("/trickle")  # it was sent; the answer never finished


@pytest.fixture
def tls_service(tmp_path: Any) -> Iterator[tuple[PushService, Any]]:
    """An HTTPS push service on localhost's address whose certificate names ``localhost`` only (no IP)."""
    key, cert = localhost_certificate(tmp_path)
    running = PushService(resolve_host("localhost", 443)[0], keyfile=str(key), certfile=str(cert))
    yield running, cert
    running.close()


def test_https_pushes_verify_the_endpoints_name_on_the_pinned_connection(tls_service: Any, monkeypatch: Any) -> None:
    service, cert = tls_service
    job, metrics = pinned_job("localhost")
    endpoint = f"https://localhost:{service.port}/tls"
    job.send(subscription_at(endpoint), "{}")  # an issuer nobody trusts: refused before anything is sent
    monkeypatch.setenv("SSL_CERT_FILE", str(cert))
    job.send(subscription_at(endpoint), "{}")
    assert metrics.counts == {"push.failed": 1, "push.sent": 1}
    assert [r["host"] for r in service.to("/tls")] == [f"localhost:{service.port}"]
