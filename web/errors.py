"""One error format for every failure (docs/protocol.md, Errors): ``{"error": {code, message, details, request_id}}``."""
from __future__ import annotations

import logging
from typing import Any

import peewee
from flask import Flask, Response, g, jsonify
from werkzeug.exceptions import HTTPException

from domain import logs
from domain.errors import DomainError, Internal
from storage.unavailable import STORAGE_DOWN, storage_unavailable

from web.services import services

log = logging.getLogger("confab.http")

#: werkzeug's own refusals (routing, body limits, webargs' validation) by status; 415 has no code of its own,
#: nor has any other client error werkzeug may raise (a Range a file cannot satisfy, ...)
_HTTP_CODES = {400: "BAD_REQUEST", 401: "UNAUTHORIZED", 403: "FORBIDDEN", 404: "NOT_FOUND", 405: "METHOD_NOT_ALLOWED",
               409: "CONFLICT", 413: "PAYLOAD_TOO_LARGE", 415: "BAD_REQUEST", 422: "BAD_REQUEST",
               429: "RATE_LIMITED", 503: "UNAVAILABLE"}
#: a status werkzeug uses that the contract answers differently (webargs' 422 is a plain validation failure)
_HTTP_STATUS = {422: 400}


def error_response(error: DomainError, status: int | None = None) -> Response:
    services().metrics.incr(f"errors.{error.code}")
    response = jsonify(error.body(g.get("request_id")))
    response.status_code = status or error.status
    retry_after = error.details.get("retry_after_s")
    if isinstance(retry_after, int):
        response.headers["Retry-After"] = str(retry_after)
    return response


def _field_details(data: Any) -> dict[str, Any]:
    """webargs nests messages by location (json, query, ...); clients want them by field."""
    messages = (data or {}).get("messages") or (data or {}).get("errors") or {}
    fields: dict[str, Any] = {}
    for location, errors in messages.items():
        if isinstance(errors, dict):
            fields.update(errors)
        else:
            fields[location] = errors
    return {"fields": fields} if fields else {}


def init_app(app: Flask) -> None:
    @app.errorhandler(DomainError)
    def _domain(error: DomainError) -> Response:
        if error.status >= 500:
            logs.event(log, "request.failed", logging.ERROR, code=error.code, message=error.message)
        return error_response(error)

    @app.errorhandler(HTTPException)
    def _http(error: HTTPException) -> Response:
        status = error.code or 500
        details = _field_details(getattr(error, "data", None))
        message = "invalid request" if details else (error.description or error.name)
        domain_error = DomainError(message, details)
        domain_error.code = _HTTP_CODES.get(status, "BAD_REQUEST" if status < 500 else "INTERNAL")
        return error_response(domain_error, _HTTP_STATUS.get(status, status))

    def _storage(error: peewee.PeeweeException) -> Response:
        """The database is unreachable, full or locked: a transient failure the client may retry."""
        return error_response(storage_unavailable(error, log))

    for kind in STORAGE_DOWN:
        app.register_error_handler(kind, _storage)

    @app.errorhandler(Exception)
    def _unexpected(error: Exception) -> Response:
        logs.event(log, "request.crashed", logging.ERROR, exc_info=error, error=repr(error))
        return error_response(Internal("internal error"))
