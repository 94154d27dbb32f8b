"""``WS /ws``: authenticate the upgrade, admit it at the gateway, then run its session on this greenlet.

The route's greenlet is the session's actor: it reads each frame and has the session handle it, in
order (``actors.session``); everything written goes through the socket's outbox.
"""
from __future__ import annotations

import logging
import uuid

from flask import Blueprint, g, request

from actors.gateway import Register, Unregister
from actors.session import Session
from domain import logs
from domain.errors import Unauthorized
from domain.metrics import Metrics
from domain.ws_protocol import CLOSE_POLICY
from web.middleware import public
from web.services import services
from web.sockets import transport
from web.sockets.transport import Connection

log = logging.getLogger("confab.ws")

blp = Blueprint("chat_socket", __name__)


@transport.socket_route(blp, "/ws")
@public
def chat_socket(conn: Connection) -> None:
    transport.serve_guarded(conn, lambda request_id: _serve(conn, request_id))


def _serve(conn: Connection, request_id: str) -> None:
    svc = services()
    try:
        principal = svc.auth.authenticate(transport.bearer_from(request))
    except Unauthorized as exc:
        logs.event(log, "ws.refused", logging.INFO, reason=exc.message)
        conn.close(CLOSE_POLICY, exc.message)
        return
    session_id = uuid.uuid4().hex
    session = Session(conn, session_id, principal, request_id, svc.metrics, svc.frame_limits, svc.router,
                      batched_presence=request.args.get("presence") == "batched", client_ip=g.get("client_ip"))
    refused = svc.gateway.ask(Register(session_id, principal.user_id, principal.api_key_id, session,
                                         principal.family_id))
    if refused is not None:
        logs.event(log, "ws.refused", logging.INFO, reason=refused[1], user_id=principal.user_id)
        conn.close(*refused)
        return
    conn.on_overflow(lambda queued: _slow_consumer(svc.metrics, request_id, session_id, queued))
    with logs.bound(user_id=principal.user_id, session_id=session_id):
        logs.event(log, "ws.opened")
        session.start()
        try:
            while (data := conn.receive()) is not None:
                session.handle(data)
        finally:
            svc.gateway.tell(Unregister(session_id))
            session.stop()
            logs.event(log, "ws.closed", close_code=conn.close_code)


def _slow_consumer(metrics: Metrics, request_id: str, session_id: str, queued: int) -> None:
    """One line and one count per socket cut for not reading (see ``web.sockets.outbox``); it runs in whichever
    greenlet overflowed the outbox, so the socket's ids are passed, not taken from the log context."""
    metrics.incr("ws.slow_consumer")
    logs.event(log, "ws.slow_consumer", logging.WARNING, request_id=request_id, session_id=session_id,
               queued_bytes=queued)
