"""Gateway behaviour over real HTTP: request ids, rate limits, CORS, OpenAPI, health, a restarted child."""
import time

import requests

from tests.support.harness import bearer, register, running_server


SERVER_CONFIG = {
    "server": {"cors_origins": "http://app.example"},
    "rate_limit": {"user_rate_per_s": "1", "user_burst": "5"},
}


def test_request_id_is_generated_or_echoed(server):
    generated = requests.get(f"{server.base}/health")
    assert len(generated.headers["X-Request-ID"]) == 32
    assert requests.get(f"{server.base}/health", headers={"X-Request-ID": "abc-1"}).headers["X-Request-ID"] == "abc-1"
    # a hostile id is replaced, never echoed
    assert requests.get(f"{server.base}/health", headers={"X-Request-ID": "a\tb"}).headers["X-Request-ID"] != "a\tb"


def test_health_lists_components_and_ready_is_200(server):
    body = requests.get(f"{server.base}/health").json()
    assert body["status"] == "ok" and body["protocol"] == 2
    assert {"broker", "storage", "gateway"} <= set(body["components"])
    assert requests.get(f"{server.base}/ready").status_code == 200


def test_per_user_rate_limit_answers_429_with_retry_after(server):
    token = register(server.base)["access_token"]
    statuses = [requests.get(f"{server.base}/api/v1/auth/me", headers=bearer(token)).status_code
                for _ in range(8)]
    assert statuses[:5] == [200] * 5 and statuses[-1] == 429
    limited = requests.get(f"{server.base}/api/v1/auth/me", headers=bearer(token))
    assert int(limited.headers["Retry-After"]) >= 1
    assert limited.json()["error"]["code"] == "RATE_LIMITED"
    assert limited.json()["error"]["details"]["retry_after_s"] >= 1
    # another user is not affected
    other = register(server.base)["access_token"]
    assert requests.get(f"{server.base}/api/v1/auth/me", headers=bearer(other)).status_code == 200


def test_cors_allows_only_configured_origins(server):
    allowed = requests.options(f"{server.base}/api/v1/auth/me", headers={"Origin": "http://app.example"})
    assert allowed.status_code == 204
    assert allowed.headers["Access-Control-Allow-Origin"] == "http://app.example"
    other = requests.get(f"{server.base}/health", headers={"Origin": "http://evil.example"})
    assert "Access-Control-Allow-Origin" not in other.headers


def test_openapi_is_generated_from_the_validating_schemas(server):
    spec = requests.get(f"{server.base}/api/v1/openapi.json").json()
    assert spec["openapi"].startswith("3.")
    register_op = spec["paths"]["/api/v1/auth/register"]["post"]
    schema_ref = register_op["requestBody"]["content"]["application/json"]["schema"]["$ref"]
    register_schema = spec["components"]["schemas"][schema_ref.rsplit("/", 1)[1]]
    assert register_schema["properties"]["username"]["pattern"] == "^[A-Za-z0-9_.-]{3,32}$"
    assert set(register_schema["required"]) == {"username", "email", "password"}
    assert "/api/v1/api-keys/{key_id}" in spec["paths"]


def test_unknown_route_is_not_found_in_error_format(server):
    token = register(server.base)["access_token"]
    response = requests.get(f"{server.base}/api/v1/nothing-here", headers=bearer(token))
    assert response.status_code == 404 and response.json()["error"]["code"] == "NOT_FOUND"


def test_a_killed_child_comes_back_and_health_recovers(server):
    gateway = server.confab.services.gateway
    first = gateway.ref
    first.stop()
    deadline = time.monotonic() + 5
    while time.monotonic() < deadline and (gateway.ref is first or not gateway.is_alive()):
        time.sleep(0.05)
    assert gateway.ref is not first and gateway.is_alive()
    body = requests.get(f"{server.base}/health").json()
    assert body["components"]["gateway"]["status"] == "ok"


def test_ready_is_503_once_the_gateway_stops_accepting(tmp_path):
    from actors.gateway import CloseSessions
    with running_server(tmp_path) as fresh:
        assert requests.get(f"{fresh.base}/ready").status_code == 200
        fresh.confab.services.gateway.ask(CloseSessions(1001, "draining", stop_accepting=True))
        deadline = time.monotonic() + 5
        while requests.get(f"{fresh.base}/ready").status_code != 503 and time.monotonic() < deadline:
            time.sleep(0.05)
        response = requests.get(f"{fresh.base}/ready")
        assert response.status_code == 503 and response.json()["components"]["gateway"]["ready"] is False
        assert requests.get(f"{fresh.base}/health").status_code == 200  # liveness stays up
