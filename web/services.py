"""The long-lived services a request needs, built by app.py and reached through ``current_app``."""
from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import Any, Callable

import pykka
from flask import current_app, g

from actors import runtime
from actors.gateway import CloseSessions
from actors.supervisor import ChildHandle
from domain import logs
from domain.auth import Principal
from domain.config import AppConfig
from domain.metrics import Metrics
from domain.ratelimit import LimiterFactory, local_limiter
from domain.unsubscribe import UnsubscribeLinks
from domain.ws_protocol import CLOSE_POLICY
from storage.auth import AuthService
from storage.blob_store import BlobStore


@dataclass
class Services:
    config: AppConfig
    metrics: Metrics
    auth: AuthService
    supervisor: pykka.ActorRef
    gateway: ChildHandle
    blobs: BlobStore  # uploaded files' bytes
    broker: Any = None
    chat: Any = None
    documents: Any = None
    frame_limits: Any = None  # actors.session.FrameLimits: one budget per user for every socket
    router: Any = None  # actors.session.Router: the frames every /ws session understands
    limiters: LimiterFactory = local_limiter  # HTTP limits: this process's buckets, or the cluster's (Redis)
    mailer: Any = None  # actors.mailer.Mailer: e-mail through SMTP
    unsubscribe_links: UnsubscribeLinks | None = None  # the digest's links, checked by the unsubscribe route


def services() -> Services:
    return current_app.extensions["confab"]


def close_sockets(reason: str, *, user_id: str | None = None, api_key_ids: frozenset[str] | None = None,
                  family_ids: frozenset[str] | None = None) -> None:
    """Close with 1008 this instance's sockets of a user, of API keys or of sign-in families that were just
    revoked or suspended (the other instances learn it from the revocation watch)."""
    services().gateway.tell(CloseSessions(CLOSE_POLICY, reason, user_id=user_id, api_key_ids=api_key_ids,
                                          family_ids=family_ids))


def principal() -> Principal:
    """The authenticated caller of the current request (set by the auth middleware)."""
    return g.principal


def client_ip() -> str:
    """The caller's address, behind trusted proxies the one they received the request from."""
    return g.client_ip


log = logging.getLogger("confab.web")


def after_answer(fn: Callable[..., None], *args: Any) -> None:
    """Run ``fn(*args)`` on a greenlet of its own, with this request's app, log fields and audit fields
    (client address, request id): for work whose duration must not show in the answer (whether an
    address has an account). A failure is logged with the request id; the answer has gone already."""
    app, context = current_app._get_current_object(), logs.current()  # type: ignore[attr-defined]
    request_fields = {"client_ip": g.get("client_ip"), "request_id": g.get("request_id")}

    def run() -> None:
        with app.app_context(), logs.bound(**context):
            for name, value in request_fields.items():
                setattr(g, name, value)
            try:
                fn(*args)
            except Exception as exc:  # noqa: BLE001 — nobody is left to answer: log it
                logs.event(log, "after_answer.failed", logging.ERROR, exc_info=exc, task=fn.__name__)

    runtime.spawn(run)
