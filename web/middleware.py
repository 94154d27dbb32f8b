"""Per-request plumbing: request id, client address, CORS, rate limits, authentication, the ``http.*``
timers.

Every route needs a bearer token in the ``Authorization`` header unless its view is marked ``@public``
(or ``@signed_or_authenticated`` and the URL is signed). ``?token=`` is for WebSockets alone, whose
routes authenticate themselves: in any other URL a token would end up in histories, logs and Referers. Limits are token buckets per
client IP (every request), per user (authenticated requests), a stricter one per IP for the login and
registration routes, and one per account name that only failed logins draw from. The client IP is
``server.trusted_proxies``' reading of ``X-Forwarded-For`` (``domain.forwarded``), and every log line
of the request carries it.
"""
from __future__ import annotations

import logging
import re
import time
import uuid
from typing import Any, Callable

from flask import Flask, Response, current_app, g, request

from domain import logs
from domain.config import AppConfig
from domain.errors import BadRequest, RateLimited
from domain.forwarded import TrustedProxies
from domain.input_fields import text_problem
from domain.metrics import segment
from domain.ratelimit import Limiter, LimiterFactory
from web.services import services
from web.sockets.transport import bearer_from

log = logging.getLogger("confab.http")

#: endpoints public as a whole: the OpenAPI document, like the contract it describes
_PUBLIC_PREFIXES = ("api-docs.",)
_REQUEST_ID = re.compile(r"^[A-Za-z0-9._:-]{1,128}$")


def public(view: Callable[..., Any]) -> Callable[..., Any]:
    """Mark a view as reachable without a token (its path is logged as its route: it may hold a secret)."""
    view._confab_public = True  # type: ignore[attr-defined]
    return view


def signed_or_authenticated(view: Callable[..., Any]) -> Callable[..., Any]:
    """Mark a view reachable without a token when its URL carries a signature (``sig``), which the view
    verifies itself; without one it needs a token like any other."""
    view._confab_signed = True  # type: ignore[attr-defined]
    return view


def strict_limit(view: Callable[..., Any]) -> Callable[..., Any]:
    """Mark a view as an account route with the stricter per-IP limit (brute-force protection)."""
    view._confab_strict = True  # type: ignore[attr-defined]
    return view


class Limits:
    def __init__(self, config: AppConfig, limiter: LimiterFactory) -> None:
        limits = config.rate_limit
        self.enabled = limits.enabled
        self.ip = limiter("http.ip", limits.ip_rate_per_s, limits.ip_burst)
        self.user = limiter("http.user", limits.user_rate_per_s, limits.user_burst)
        self.strict = limiter("http.auth", limits.auth_rate_per_s, limits.auth_burst)
        self.login_failures = limiter("login.failures", limits.login_account_rate_per_s, limits.login_account_burst)
        self.reset_requests = limiter("reset.address", limits.reset_address_rate_per_s, limits.reset_address_burst)

    def check(self, limiter: Limiter, key: str) -> None:
        if self.enabled:
            wait = limiter.check(key)
            if wait:
                raise RateLimited(wait)

    def before_login(self, account: str) -> None:
        """RATE_LIMITED while ``account`` (a username or e-mail, existing or not) has used up its failures,
        from whatever addresses they came: a guess spread over many clients is limited too."""
        wait = self.enabled and self.login_failures.wait(account.lower())
        if wait:
            raise RateLimited(wait, "too many failed logins for this account; try again later")

    def login_failed(self, account: str) -> None:
        if self.enabled:
            self.login_failures.check(account.lower())


def limits() -> Limits:
    return current_app.extensions["confab.limits"]


def route_name(endpoint: str | None) -> str:
    """The route part of ``http.route.*`` metrics: the Flask endpoint as one segment (``rooms_list_rooms``),
    ``unmatched`` when no route matched (404 and 405 of unknown paths), so a scan cannot mint new series."""
    return segment(endpoint) if endpoint else "unmatched"


def _view_flag(name: str) -> bool:
    view = current_app.view_functions.get(request.endpoint or "")
    return bool(getattr(view, name, False))


def _check_path_values() -> None:
    """Path parameters are client text too (``/rooms/%00``): refused like a bad body field."""
    for name, value in (request.view_args or {}).items():
        problem = isinstance(value, str) and text_problem(value)
        if problem:
            raise BadRequest("invalid request", {"fields": {name: [problem]}})


def init_app(app: Flask, config: AppConfig, limiter: LimiterFactory) -> None:
    limits = app.extensions["confab.limits"] = Limits(config, limiter)
    proxies = TrustedProxies.parse(config.server.trusted_proxies)
    origins = {o.strip() for o in config.server.cors_origins.split(",") if o.strip()}
    compression = config.server.ws_compression

    @app.before_request
    def _begin() -> Response | None:
        g.started = time.perf_counter()
        incoming = request.headers.get("X-Request-ID", "")
        g.request_id = incoming if _REQUEST_ID.match(incoming) else uuid.uuid4().hex
        forwarded = ", ".join(request.headers.getlist("X-Forwarded-For")) or None
        g.client_ip = client_ip = proxies.client(request.remote_addr, forwarded)
        g.log_token = logs.bind(request_id=g.request_id, client_ip=client_ip)
        if not compression and request.environ.get("HTTP_UPGRADE", "").lower() == "websocket":
            # simple-websocket accepts permessage-deflate whenever a client offers it; without the offer
            # a broadcast frame costs one plain write per member instead of one compression each.
            request.environ.pop("HTTP_SEC_WEBSOCKET_EXTENSIONS", None)
        if request.method == "OPTIONS" and origins:
            return Response(status=204)
        limits.check(limits.ip, client_ip)
        if _view_flag("_confab_strict"):
            limits.check(limits.strict, client_ip)
        _check_path_values()
        if request.endpoint is None or request.endpoint.startswith(_PUBLIC_PREFIXES) or _view_flag("_confab_public"):
            return None
        if "sig" in request.args and _view_flag("_confab_signed"):
            return None
        g.principal = services().auth.authenticate(bearer_from(request) if "Authorization" in request.headers
                                                   else None)
        logs.bind(user_id=g.principal.user_id)
        limits.check(limits.user, g.principal.user_id)
        return None

    @app.after_request
    def _finish(response: Response) -> Response:
        response.headers["X-Request-ID"] = g.get("request_id", "")
        origin = request.headers.get("Origin")
        if origin and ("*" in origins or origin in origins):
            response.headers["Access-Control-Allow-Origin"] = origin
            response.headers["Vary"] = "Origin"
            response.headers["Access-Control-Allow-Headers"] = "Authorization, Content-Type, X-Request-ID"
            response.headers["Access-Control-Allow-Methods"] = "GET, POST, PUT, PATCH, DELETE, OPTIONS"
            response.headers["Access-Control-Expose-Headers"] = "X-Request-ID, Retry-After"
            response.headers["Access-Control-Max-Age"] = "600"
        if "started" in g and request.headers.get("Upgrade", "").lower() != "websocket":
            elapsed_ms = (time.perf_counter() - g.started) * 1000
            metrics = services().metrics
            metrics.timing("http.request", elapsed_ms)
            status_class = f"{response.status_code // 100}xx"
            metrics.timing(f"http.route.{route_name(request.endpoint)}.{status_class}", elapsed_ms)
            if elapsed_ms > 1000:
                path = request.url_rule.rule if _view_flag("_confab_public") and request.url_rule else request.path
                logs.event(log, "request.slow", logging.WARNING, method=request.method, path=path,
                           status=response.status_code, ms=round(elapsed_ms, 1))
        return response

    @app.teardown_request
    def _end(_error: BaseException | None) -> None:
        token = g.pop("log_token", None)
        if token is not None:
            try:
                logs.unbind(token)
            except ValueError:  # bound in another context (a WebSocket greenlet); nothing to undo here
                pass
