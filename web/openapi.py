"""The OpenAPI document, true to the wire: every failure is ``{"error": {code, message, details, request_id}}``,
documented on each operation for each status that operation can answer.

Which statuses an operation can answer follows from how it is built: a body or parameters can be refused
(400), a body can be too large (413) or in another media type (415), a protected route needs a token
(401), a path names a resource that may not exist (404), every request is rate limited (429) and needs
the database (503), a bug is a 500, and a request line over 8 KiB is refused by the HTTP server itself
before the application sees it (414, without a body). What only a route knows (403, 409, a 404 without a path
parameter) it declares with ``@answers(...)``. A method a path does not list is answered 405
``METHOD_NOT_ALLOWED`` (OpenAPI has no operation to hang it on: the info description says so).
"""
from __future__ import annotations

import json
from typing import Any, Callable

import flask_smorest
from apispec import BasePlugin
from flask import Flask
from marshmallow import Schema, fields, validate
from webargs.flaskparser import FlaskParser, is_json_request

from domain.errors import HTTP_STATUS, UnsupportedMediaType

DESCRIPTION = (
    "Every failure is answered with the error envelope `{\"error\": {code, message, details, request_id}}` "
    "(schema `ErrorResponse`), documented on each operation for each status it can answer. A method a path "
    "does not list is answered `405` with code `METHOD_NOT_ALLOWED`. `RATE_LIMITED` (429) and `UNAVAILABLE` "
    "(503) carry `details.retry_after_s` and a `Retry-After` header: retry after that many seconds "
    "(writes with the same `client_msg_id` are stored once).")


class ErrorSchema(Schema):
    code = fields.String(required=True, validate=validate.OneOf(tuple(HTTP_STATUS)))
    message = fields.String(required=True, metadata={"description": "human readable; never a traceback"})
    details = fields.Dict(required=True, metadata={"description": (
        "BAD_REQUEST: per-field messages under `fields`; RATE_LIMITED and UNAVAILABLE: `retry_after_s`")})
    request_id = fields.String(required=True, metadata={"description": "also in the X-Request-ID header"})


class ErrorResponseSchema(Schema):
    error = fields.Nested(ErrorSchema, required=True)


def _error_response(description: str, code: str, message: str, details: dict[str, Any] | None = None,
                    retry: bool = False) -> dict[str, Any]:
    example = {"error": {"code": code, "message": message, "details": details or {},
                         "request_id": "0f9c2b7e5d4a4e0c9a1b2c3d4e5f6a7b"}}
    response: dict[str, Any] = {"description": description, "content": {"application/json": {
        "schema": "ErrorResponse", "example": example}}}
    if retry:
        response["headers"] = {"Retry-After": {"description": "seconds to wait, as details.retry_after_s",
                                               "schema": {"type": "integer"}}}
    return response


#: status → the name of its component response (flask-smorest names webargs' 400 BAD_REQUEST itself)
RESPONSES: dict[int, tuple[str, dict[str, Any]]] = {
    400: ("BAD_REQUEST", _error_response(
        "BAD_REQUEST: the parameters or body do not validate", "BAD_REQUEST", "invalid request",
        {"fields": {"name": ["Missing data for required field."]}})),
    401: ("UNAUTHORIZED", _error_response(
        "UNAUTHORIZED: no bearer token, or an invalid or expired one", "UNAUTHORIZED", "access token expired")),
    403: ("FORBIDDEN", _error_response(
        "FORBIDDEN: the caller's role does not allow this", "FORBIDDEN", "only a room admin may change the room")),
    404: ("NOT_FOUND", _error_response(
        "NOT_FOUND: no such resource, or the caller may not see it", "NOT_FOUND", "room not found")),
    405: ("METHOD_NOT_ALLOWED", _error_response(
        "METHOD_NOT_ALLOWED: the path exists, the method does not", "METHOD_NOT_ALLOWED",
        "The method is not allowed for the requested URL.")),
    409: ("CONFLICT", _error_response(
        "CONFLICT: the state does not allow this", "CONFLICT", "username or email already registered")),
    413: ("PAYLOAD_TOO_LARGE", _error_response(
        "PAYLOAD_TOO_LARGE: the body is over the limit", "PAYLOAD_TOO_LARGE", "payload too large")),
    414: ("URI_TOO_LONG", {"description": "the request line is over 8 KiB: refused by the HTTP server itself, "
                                          "before the application, without a body"}),
    415: ("UNSUPPORTED_MEDIA_TYPE", _error_response(
        "BAD_REQUEST: the body is not in the media type this operation takes", "BAD_REQUEST",
        "the body must be application/json", {"fields": {"json": ["send the body as application/json"]}})),
    429: ("RATE_LIMITED", _error_response(
        "RATE_LIMITED: too many requests; retry after details.retry_after_s", "RATE_LIMITED",
        "too many requests", {"retry_after_s": 2}, retry=True)),
    500: ("INTERNAL", _error_response("INTERNAL: a bug; the request id finds it in the log", "INTERNAL",
                                      "internal error")),
    503: ("UNAVAILABLE", _error_response(
        "UNAVAILABLE: a dependency is down or the server is shutting down; retry after details.retry_after_s",
        "UNAVAILABLE", "storage unavailable, retry shortly", {"retry_after_s": 1}, retry=True)),
}
_ALWAYS = (414, 429, 500, 503)


def answers(*statuses: int) -> Callable[[Callable[..., Any]], Callable[..., Any]]:
    """Declare the error statuses only the view knows it can answer (403, 409, a 404 of a body's id)."""
    def mark(view: Callable[..., Any]) -> Callable[..., Any]:
        view._confab_answers = statuses  # type: ignore[attr-defined]
        return view
    return mark


class JsonArguments(FlaskParser):
    """webargs as the contract wants it: a body that does not validate is 400 (not 422), a body in
    another media type is 415 (not read as "no body", which would blame a missing field), and a body the
    decoder gives up on is 400: webargs only turns ``JSONDecodeError`` into one, so a body nested past the
    interpreter's stack (``[[[[…``, a ``RecursionError``) or with an integer literal over Python's digit
    limit (a plain ``ValueError``) would otherwise be a 500 with a traceback in the log."""
    DEFAULT_VALIDATION_STATUS = 400

    def load_json(self, req: Any, schema: Schema) -> Any:
        if req.content_length and not is_json_request(req):
            raise UnsupportedMediaType("the body must be application/json",
                                       {"fields": {"json": ["send the body as application/json"]}})
        return super().load_json(req, schema)

    def load_json_or_form(self, req: Any, schema: Schema) -> Any:
        """A form where one is sent (Slack posts incoming webhooks as ``payload=``), else JSON as above."""
        if req.mimetype == "application/x-www-form-urlencoded":
            return self.load_form(req, schema)
        return self.load_json(req, schema)

    def _raw_load_json(self, req: Any) -> Any:
        try:
            return super()._raw_load_json(req)
        except json.JSONDecodeError:
            raise
        except (RecursionError, ValueError) as exc:
            raise json.JSONDecodeError(f"undecodable JSON: {type(exc).__name__}", "-", 0) from None


class Blueprint(flask_smorest.Blueprint):
    ARGUMENTS_PARSER = JsonArguments()


class ErrorResponses(BasePlugin):
    """Adds the error statuses to each operation as it is registered (see the module docstring)."""

    def __init__(self, app: Flask) -> None:
        self.app = app

    def operation_helper(self, path: str | None = None, operations: dict[str, Any] | None = None,
                         **kwargs: Any) -> None:
        rule = kwargs["rule"]
        view = self.app.view_functions[rule.endpoint]
        public = getattr(view, "_confab_public", False)
        for operation in (operations or {}).values():
            statuses = set(_ALWAYS) | set(getattr(view, "_confab_answers", ()))
            body = "requestBody" in operation
            if body or operation.get("parameters") or rule.arguments:
                statuses.add(400)
            if body:
                statuses |= {413, 415}
            if rule.arguments:
                statuses.add(404)
            if public:
                operation["security"] = []
            else:
                statuses.add(401)
            responses = operation.setdefault("responses", {})
            for status in sorted(statuses):
                responses.setdefault(str(status), RESPONSES[status][0])


class _Api(flask_smorest.Api):
    ERROR_SCHEMA = ErrorResponseSchema
    DEFAULT_ERROR_RESPONSE_NAME = None


def api_for(app: Flask) -> flask_smorest.Api:
    """The flask-smorest Api: the error envelope instead of its own error schema, no catch-all 'default'."""
    api = _Api(app, spec_kwargs={"extra_plugins": [ErrorResponses(app)], "info": {"description": DESCRIPTION}})
    components = api.spec.components
    for name, response in RESPONSES.values():
        components.responses_lazy.pop(name, None)  # flask-smorest's generic one of the same name
        components.response(name, response)
    return api
