"""``WS /yjs/<document_id>``: the standard y-websocket endpoint.

Authenticate and check access *before* any document byte (1008 otherwise), register with the
gateway (shutdown and key revocation close these sockets too), join the document actor, then only
read: each binary message is parsed here (pure, ``domain.yjs_sync``) and told to the document actor;
a malformed one is logged and skipped, and the socket goes on. A peer actor is the socket's writer.
"""
from __future__ import annotations

import logging
import time
import uuid
from typing import Any

import pykka
from flask import request

from actors.documents.messages import Join, Leave, Subscriber, YjsIn
from actors.documents.peer import Outbound, YjsPeerActor
from actors.gateway import Register, Unregister
from actors.session import CLOSE_GOING_AWAY, CLOSE_INTERNAL, CLOSE_POLICY, Close
from domain import logs, yjs_sync
from domain.errors import DomainError, Unauthorized
from storage import documents as store
from web import websocket
from web.middleware import public
from web.services import services
from web.ws import sock

log = logging.getLogger("confab.yjs")


@sock.route("/yjs/<document_id>")
@public
def yjs_socket(ws: Any, document_id: str) -> None:
    websocket.serve_guarded(ws, lambda _request_id: _serve(ws, document_id), document_id=document_id)


def _serve(ws: Any, document_id: str) -> None:
    svc = services()
    websocket.harden(ws, send_timeout_s=svc.config.server.shutdown_grace_s)
    try:
        principal = svc.auth.authenticate(websocket.bearer_from(request))
        _doc, role = store.access(document_id, principal.user_id)
    except (Unauthorized, DomainError) as exc:  # NOT_FOUND too: same close, no existence leak
        logs.event(log, "yjs.refused", logging.INFO, code=exc.code, reason=exc.message)
        websocket.close(ws, CLOSE_POLICY, "not authorized for this document")
        return
    peer_id = uuid.uuid4().hex
    peer = YjsPeerActor.start(ws, peer_id, websocket.close)
    document = None
    try:
        if not svc.gateway.ask(Register(peer_id, principal.user_id, principal.api_key_id, peer)):
            websocket.close(ws, CLOSE_GOING_AWAY, "server is shutting down")
            return
        document = svc.collab.open(document_id)
        subscriber = Subscriber(peer_id, principal.user_id, role, "yjs",
                                lambda data: peer.tell(Outbound(data)),
                                lambda code, reason: peer.tell(Close(code, reason)))
        document.ask(Join(subscriber), timeout=10)
        logs.event(log, "yjs.opened", user_id=principal.user_id, peer_id=peer_id, role=role)
        _read(ws, document, peer_id)
    except (DomainError, pykka.ActorDeadError) as exc:
        logs.event(log, "yjs.join_failed", logging.WARNING, error=repr(exc))
        peer.ask(Close(CLOSE_INTERNAL, "document unavailable, retry"), timeout=5)  # before flask-sock's 1000
    finally:
        svc.gateway.tell(Unregister(peer_id))
        if document is not None:
            _tell(document, Leave(peer_id))
            svc.collab.release(document_id, document)
        peer.stop(block=False)
        logs.event(log, "yjs.closed", peer_id=peer_id, close_code=int(ws.close_reason or 0))


def _read(ws: Any, document: pykka.ActorRef, peer_id: str) -> None:
    while True:
        data = ws.receive()
        if data is None:
            return
        try:
            message = yjs_sync.parse(data if isinstance(data, bytes) else b"")
        except yjs_sync.ProtocolError as exc:
            logs.event(log, "yjs.bad_message", logging.INFO, peer_id=peer_id, error=str(exc), size=len(data))
            continue
        if not isinstance(message, yjs_sync.Ignored) and not _tell(document, YjsIn(peer_id, message,
                                                                                     time.perf_counter())):
            return


def _tell(ref: pykka.ActorRef, message: Any) -> bool:
    try:
        ref.tell(message)
        return True
    except pykka.ActorDeadError:
        return False
