"""Revocations reach every instance: a watch that reads what was revoked from the database.

A logout, a refresh token's reuse, a revoked API key, a suspension or a revoke from the CLI is written
to the database by whichever process did it; that process closes its own sockets at once. Every instance
also reads, once a second, the refresh families and API keys revoked and the users suspended since its
last look: it closes its sockets that belong to them (1008) and refuses the families' access tokens until they would have
expired. A starting instance first reads back one access-token lifetime, so a restart forgets nothing
that could still be presented. The database is the channel, so nothing else (a broker, Redis) is
needed and a revocation made while an instance was down still reaches it.
"""
from __future__ import annotations

import logging
from datetime import timedelta

import peewee
import pykka

from actors.component import HealthSink, PeriodicActor
from actors.gateway import CloseSessions
from actors.supervisor import ChildHandle, ChildSpec, start_child
from domain import logs
from domain.auth import RevokedFamilies
from domain.ws_protocol import CLOSE_POLICY
from storage import account_admin, accounts
from storage.models import utcnow

log = logging.getLogger("confab.auth")

LOOK_EVERY_S = 1.0
OVERLAP = timedelta(seconds=5)  # a revocation committed a moment before our clock read it is not missed


class RevocationWatch(PeriodicActor):
    def __init__(self, health_sink: HealthSink, gateway: ChildHandle, revoked: RevokedFamilies,
                 token_ttl_s: float) -> None:
        super().__init__("revocations", health_sink, LOOK_EVERY_S)
        self._gateway = gateway
        self._revoked = revoked
        self._since = utcnow() - timedelta(seconds=token_ttl_s)
        self._status = ""

    def _health(self, status: str, **detail: str) -> None:
        if status != self._status:  # a report per change, not per look
            self._status = status
            self.report_health(status, True, **detail)

    def tick(self) -> None:
        now = utcnow()
        try:
            families, keys = accounts.revoked_since(self._since)
            suspended = account_admin.suspended_since(self._since)
        except peewee.PeeweeException as exc:  # storage is down: look again next time, from the same point
            logs.event(log, "revocations.look_failed", logging.WARNING, error=str(exc).splitlines()[0])
            self._health("degraded", error=str(exc).splitlines()[0])
            return
        self._health("ok")
        self._since = now - OVERLAP
        for family in families:
            self._revoked.add(family)
        if families:
            self._gateway.tell(CloseSessions(CLOSE_POLICY, "session revoked", family_ids=frozenset(families)))
        if keys:
            self._gateway.tell(CloseSessions(CLOSE_POLICY, "api key revoked", api_key_ids=frozenset(keys)))
        for user_id in suspended:
            self._gateway.tell(CloseSessions(CLOSE_POLICY, "account suspended", user_id=user_id))


def start_revocations(supervisor: pykka.ActorRef, gateway: ChildHandle, revoked: RevokedFamilies,
                      token_ttl_s: float) -> ChildHandle:
    return start_child(supervisor, ChildSpec("revocations", "auth", lambda sink: RevocationWatch.start(
        sink, gateway, revoked, token_ttl_s)))
