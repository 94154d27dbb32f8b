"""``WS /ws``: authenticate the upgrade, run one session actor per socket, feed it what arrives.

This greenlet only reads; everything written goes through the session actor (one writer per socket).
"""
from __future__ import annotations

import logging
import uuid
from typing import Any

from flask import request
from flask_sock import Sock

from actors.gateway import Register, Unregister
from actors.session import CLOSE_GOING_AWAY, CLOSE_POLICY, Inbound, SessionActor
from domain import logs
from domain.errors import Unauthorized
from web import websocket
from web.middleware import public
from web.services import services

log = logging.getLogger("confab.ws")

sock = Sock()


@sock.route("/ws")
@public
def chat_socket(ws: Any) -> None:
    websocket.serve_guarded(ws, lambda request_id: _serve(ws, request_id))


def _serve(ws: Any, request_id: str) -> None:
    svc = services()
    websocket.harden(ws, send_timeout_s=svc.config.server.shutdown_grace_s)
    try:
        principal = svc.auth.authenticate(websocket.bearer_from(request))
    except Unauthorized as exc:
        logs.event(log, "ws.refused", logging.INFO, reason=exc.message)
        websocket.close(ws, CLOSE_POLICY, exc.message)
        return
    session_id = uuid.uuid4().hex
    session = SessionActor.start(ws, session_id, principal, request_id, svc.metrics, websocket.close,
                                 websocket.plain_frames(ws))
    try:
        if not svc.gateway.ask(Register(session_id, principal.user_id, principal.api_key_id, session)):
            websocket.close(ws, CLOSE_GOING_AWAY, "server is shutting down")
            return
        logs.event(log, "ws.opened", user_id=principal.user_id, session_id=session_id)
        while True:
            data = ws.receive()
            if data is None:
                break
            session.tell(Inbound(data))
    finally:
        svc.gateway.tell(Unregister(session_id))
        session.stop()
        logs.event(log, "ws.closed", session_id=session_id, close_code=int(ws.close_reason))
