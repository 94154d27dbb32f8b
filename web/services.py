"""The long-lived services a request needs, built by app.py and reached through ``current_app``."""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import pykka
from flask import current_app, g

from actors.gateway import CloseSessions
from actors.supervisor import ChildHandle
from domain.auth import Principal
from domain.config import AppConfig
from domain.metrics import Metrics
from domain.ratelimit import LimiterFactory, local_limiter
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
