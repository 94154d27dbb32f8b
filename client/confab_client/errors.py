"""The API's errors as exceptions: one class per error code, raised by REST calls and by /ws requests."""
from __future__ import annotations

from typing import Any


class ConfabError(Exception):
    """An error answered by the server (``code``, ``message``, ``details``, ``request_id``)."""
    code = "INTERNAL"

    def __init__(self, message: str, details: dict[str, Any] | None = None, request_id: str | None = None,
                 status: int | None = None) -> None:
        super().__init__(f"{self.code}: {message}")
        self.message, self.details, self.request_id, self.status = message, details or {}, request_id, status


class BadRequest(ConfabError):
    code = "BAD_REQUEST"


class Unauthorized(ConfabError):
    code = "UNAUTHORIZED"


class Forbidden(ConfabError):
    code = "FORBIDDEN"


class NotFound(ConfabError):
    code = "NOT_FOUND"


class Conflict(ConfabError):
    code = "CONFLICT"


class PayloadTooLarge(ConfabError):
    code = "PAYLOAD_TOO_LARGE"


class RateLimited(ConfabError):
    code = "RATE_LIMITED"

    @property
    def retry_after_s(self) -> float:
        return float(self.details.get("retry_after_s", 1))


class Unavailable(ConfabError):
    code = "UNAVAILABLE"


class Internal(ConfabError):
    code = "INTERNAL"


class ConnectionFailed(ConfabError):
    """The server could not be reached, or a socket closed and could not be resumed (not an API code)."""
    code = "CONNECTION"


ERRORS: dict[str, type[ConfabError]] = {cls.code: cls for cls in (
    BadRequest, Unauthorized, Forbidden, NotFound, Conflict, PayloadTooLarge, RateLimited, Unavailable, Internal)}


def error_from(body: Any, status: int | None = None) -> ConfabError:
    """The exception for an API error body (``{"code", "message", ...}``, bare or under ``"error"``)."""
    error = body.get("error", body) if isinstance(body, dict) else {}
    if not isinstance(error, dict) or "code" not in error:
        return Internal(f"unexpected answer (HTTP {status})", status=status)
    cls = ERRORS.get(error["code"], Internal)
    return cls(str(error.get("message", "")), error.get("details") or {}, error.get("request_id"), status)
