"""The OpenAPI document against what the server answers: the error envelope on every error status of
every operation, the statuses each kind of operation can answer, the file routes' real content types,
and the refusals the document promises (405, 415, strict JSON types, seqs the database can hold)."""
import pytest
import requests

from domain.errors import Unavailable
from storage.file_types import OCTET_STREAM, VERIFIABLE
from tests.support.harness import bearer, register

OPERATIONS = ("get", "post", "put", "patch", "delete")
PUBLIC = {("post", "/api/v1/auth/register"), ("post", "/api/v1/auth/login"), ("post", "/api/v1/auth/refresh"),
          ("post", "/hooks/{webhook_id}/{secret}"), ("post", "/api/v1/auth/password-reset"),
          ("post", "/api/v1/auth/password-reset/confirm"), ("get", "/api/v1/users/{user_id}/digest/unsubscribe"),
          ("post", "/api/v1/auth/verify-email"), ("post", "/api/v1/auth/verify-email/resend")}
#: public operations that look at no bearer credential (an incoming webhook's secret is in its path: a wrong
#: one is NOT_FOUND, like an unknown webhook)
NO_BEARER = {"/api/v1/auth/register", "/hooks/{webhook_id}/{secret}", "/api/v1/auth/password-reset",
             "/api/v1/auth/password-reset/confirm", "/api/v1/users/{user_id}/digest/unsubscribe",
             "/api/v1/auth/verify-email", "/api/v1/auth/verify-email/resend"}


# the webhook made here points at this machine (nothing answers there): allowed, as on a LAN
SERVER_CONFIG = {"webhooks": {"allowed_targets": "127.0.0.1/32"}}


@pytest.fixture(scope="module")
def spec(server):
    return requests.get(f"{server.base}/api/v1/openapi.json").json()


@pytest.fixture(scope="module")
def token(server):
    return register(server.base)["access_token"]


def operations(spec):
    for path, item in spec["paths"].items():
        for method, operation in item.items():
            if method in OPERATIONS:
                yield method, path, operation


def resolve(spec, ref_or_object):
    if "$ref" not in ref_or_object:
        return ref_or_object
    section, name = ref_or_object["$ref"].split("/")[-2:]
    return spec["components"][section][name]


def test_every_error_status_of_every_operation_is_the_error_envelope(spec):
    envelope = spec["components"]["schemas"]["ErrorResponse"]
    assert envelope["required"] == ["error"]
    error = resolve(spec, envelope["properties"]["error"])
    assert set(error["required"]) == {"code", "message", "details", "request_id"}
    assert "METHOD_NOT_ALLOWED" in error["properties"]["code"]["enum"]
    checked = 0
    for method, path, operation in operations(spec):
        responses = operation["responses"]
        assert "default" not in responses and "422" not in responses, (method, path)
        assert {"429", "500", "503"} <= set(responses), (method, path)
        # every protected operation answers 401; of the public ones, those that check a credential
        assert ("401" in responses) == (path not in NO_BEARER), (method, path)
        assert operation.get("security") == ([] if (method, path) in PUBLIC else None), (method, path)
        if "{" in path:
            assert {"400", "404"} <= set(responses), (method, path)
        if "requestBody" in operation:
            assert {"400", "413", "415"} <= set(responses), (method, path)
        for status, response in responses.items():
            if int(status) >= 400 and status != "414":
                schema = resolve(spec, response)["content"]["application/json"]["schema"]
                assert schema == {"$ref": "#/components/schemas/ErrorResponse"}, (method, path, status)
                checked += 1
    assert checked > 300


def test_file_routes_declare_the_types_they_serve(spec):
    download = spec["paths"]["/files/{file_id}"]["get"]["responses"]["200"]["content"]
    assert set(download) == set(VERIFIABLE) | {OCTET_STREAM}
    thumbnail = spec["paths"]["/files/{file_id}/thumbnail"]["get"]["responses"]["200"]["content"]
    assert set(thumbnail) == {"image/webp"}


def test_main_operations_carry_examples(spec):
    for method, path in (("post", "/api/v1/auth/register"), ("post", "/api/v1/auth/login"),
                         ("post", "/api/v1/rooms"), ("post", "/api/v1/documents")):
        operation = spec["paths"][path][method]
        assert "example" in operation["requestBody"]["content"]["application/json"], (method, path)
        success = next(r for s, r in operation["responses"].items() if s.startswith("2"))
        assert "example" in success["content"]["application/json"], (method, path)
    room_history = spec["paths"]["/api/v1/rooms/{room_id}/messages"]["get"]["responses"]["200"]
    assert room_history["content"]["application/json"]["example"]["items"]


def test_a_method_a_path_does_not_have_is_method_not_allowed(server, token):
    response = requests.patch(f"{server.base}/api/v1/rooms", headers=bearer(token))
    assert response.status_code == 405
    error = response.json()["error"]
    assert error["code"] == "METHOD_NOT_ALLOWED" and error["request_id"] == response.headers["X-Request-ID"]


def test_a_body_in_another_media_type_is_415(server, token):
    as_text = requests.post(f"{server.base}/api/v1/rooms", headers={**bearer(token), "Content-Type": "text/plain"},
                            data='{"name": "general"}')
    assert as_text.status_code == 415 and as_text.json()["error"]["code"] == "BAD_REQUEST"
    not_multipart = requests.post(f"{server.base}/api/v1/upload", headers=bearer(token), json={"file": "x"})
    assert not_multipart.status_code == 415 and "multipart" in not_multipart.json()["error"]["message"]
    # no body at all is still a validation failure naming the missing field
    empty = requests.post(f"{server.base}/api/v1/rooms", headers=bearer(token))
    assert empty.status_code == 400 and "name" in empty.json()["error"]["details"]["fields"]


@pytest.mark.parametrize("path,body", [
    ("/rooms", {"name": "r", "is_private": 0}),
    ("/rooms", {"name": "r", "is_private": "true"}),
    ("/rooms/{room}/read", {"seq": 1.5}),
    ("/rooms/{room}/read", {"seq": True}),
    ("/rooms/{room}/read", {"seq": 2**63}),
], ids=["bool-as-0", "bool-as-string", "int-as-float", "int-as-bool", "int-over-64-bits"])
def test_json_bodies_take_the_types_the_document_names(server, token, path, body):
    room = requests.post(f"{server.base}/api/v1/rooms", headers=bearer(token), json={"name": "typed"}).json()["id"]
    response = requests.post(f"{server.base}/api/v1{path.format(room=room)}", headers=bearer(token), json=body)
    assert response.status_code == 400, response.text
    assert response.json()["error"]["code"] == "BAD_REQUEST"


@pytest.mark.parametrize("query", ["before_seq=99999999999999999999", "after_seq=99999999999999999999"])
def test_a_seq_beyond_what_the_database_holds_is_a_bad_request(server, token, query):
    room = requests.post(f"{server.base}/api/v1/rooms", headers=bearer(token), json={"name": "big"}).json()["id"]
    response = requests.get(f"{server.base}/api/v1/rooms/{room}/messages?{query}", headers=bearer(token))
    assert response.status_code == 400, response.text


def test_an_empty_webhook_patch_is_refused(server, token):
    hook = requests.post(f"{server.base}/api/v1/webhooks", headers=bearer(token),
                         json={"url": "http://127.0.0.1:9/hook", "events": ["message.created"]}).json()
    response = requests.patch(f"{server.base}/api/v1/webhooks/{hook['id']}", headers=bearer(token), json={})
    assert response.status_code == 400


def test_unavailable_always_tells_when_to_retry():
    assert Unavailable().body()["error"]["details"] == {"retry_after_s": 1}
    assert Unavailable("partition is full", {"topic": "t"}).details == {"retry_after_s": 1, "topic": "t"}
