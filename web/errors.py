"""One error format for every failure, per API.md: ``{"error": {code, message, details, request_id}}``."""
from __future__ import annotations

import logging
from typing import Any

from flask import Flask, Response, g, jsonify
from werkzeug.exceptions import HTTPException

from domain import logs
from domain.errors import DomainError, Internal, RateLimited

from web.services import services

log = logging.getLogger("confab.http")

_HTTP_CODES = {400: "BAD_REQUEST", 401: "UNAUTHORIZED", 403: "FORBIDDEN", 404: "NOT_FOUND", 405: "BAD_REQUEST",
               409: "CONFLICT", 413: "PAYLOAD_TOO_LARGE", 415: "BAD_REQUEST", 422: "BAD_REQUEST",
               429: "RATE_LIMITED", 503: "UNAVAILABLE"}


def error_response(error: DomainError, status: int | None = None) -> Response:
    services().metrics.incr(f"errors.{error.code}")
    response = jsonify(error.body(g.get("request_id")))
    response.status_code = status or error.status
    if isinstance(error, RateLimited):
        response.headers["Retry-After"] = str(error.retry_after_s)
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
        code = _HTTP_CODES.get(status, "INTERNAL")
        details = _field_details(getattr(error, "data", None))
        message = "invalid request" if details else (error.description or error.name)
        domain_error = DomainError(message, details)
        domain_error.code = code
        return error_response(domain_error, status if code != "BAD_REQUEST" or status in (405, 415) else 400)

    @app.errorhandler(Exception)
    def _unexpected(error: Exception) -> Response:
        logs.event(log, "request.crashed", logging.ERROR, exc_info=error, error=repr(error))
        return error_response(Internal("internal error"))

