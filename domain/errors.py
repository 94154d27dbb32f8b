"""Domain errors: each carries an error code of docs/protocol.md; the gateway maps them to HTTP and WS bodies."""
from __future__ import annotations

from typing import Any

HTTP_STATUS = {
    "BAD_REQUEST": 400, "UNAUTHORIZED": 401, "FORBIDDEN": 403, "NOT_FOUND": 404, "METHOD_NOT_ALLOWED": 405,
    "CONFLICT": 409, "PAYLOAD_TOO_LARGE": 413, "RATE_LIMITED": 429, "UNAVAILABLE": 503, "INTERNAL": 500,
}

#: seconds an UNAVAILABLE answer tells the client to wait before retrying, unless the raiser knows better
DEFAULT_RETRY_AFTER_S = 1


class DomainError(Exception):
    code = "INTERNAL"
    default_message = "internal error"

    def __init__(self, message: str | None = None, details: dict[str, Any] | None = None) -> None:
        super().__init__(message or self.default_message)
        self.message = message or self.default_message
        self.details = details or {}

    @property
    def status(self) -> int:
        return HTTP_STATUS[self.code]

    def body(self, request_id: str | None = None) -> dict[str, Any]:
        error: dict[str, Any] = {"code": self.code, "message": self.message, "details": self.details}
        if request_id is not None:
            error["request_id"] = request_id
        return {"error": error}


class BadRequest(DomainError):
    code, default_message = "BAD_REQUEST", "invalid request"


class UnsupportedMediaType(BadRequest):
    """A BAD_REQUEST answered with 415: the body is in a media type the operation does not take."""

    @property
    def status(self) -> int:
        return 415


class Unauthorized(DomainError):
    code, default_message = "UNAUTHORIZED", "authentication required"


class Forbidden(DomainError):
    code, default_message = "FORBIDDEN", "not allowed"


class NotFound(DomainError):
    code, default_message = "NOT_FOUND", "not found"


class MethodNotAllowed(DomainError):
    code, default_message = "METHOD_NOT_ALLOWED", "method not allowed on this path"


class Conflict(DomainError):
    code, default_message = "CONFLICT", "conflict"


class PayloadTooLarge(DomainError):
    code, default_message = "PAYLOAD_TOO_LARGE", "payload too large"


class RateLimited(DomainError):
    code, default_message = "RATE_LIMITED", "too many requests"

    def __init__(self, retry_after_s: float, message: str | None = None) -> None:
        self.retry_after_s = max(1, int(retry_after_s + 0.999))
        super().__init__(message, {"retry_after_s": self.retry_after_s})


class Unavailable(DomainError):
    """A transient failure (a dependency down, a queue full, shutting down): always with ``retry_after_s``."""
    code, default_message = "UNAVAILABLE", "service unavailable"

    def __init__(self, message: str | None = None, details: dict[str, Any] | None = None,
                 retry_after_s: int = DEFAULT_RETRY_AFTER_S) -> None:
        super().__init__(message, {"retry_after_s": retry_after_s, **(details or {})})

    @property
    def retry_after_s(self) -> int:
        return int(self.details["retry_after_s"])


class Internal(DomainError):
    code, default_message = "INTERNAL", "internal error"
