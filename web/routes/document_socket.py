"""``WS /yjs/<document_id>``: the standard y-websocket endpoint.

Authenticate and check access *before* any document byte (1008 otherwise), register with the
gateway (shutdown and key revocation close these sockets too), join the document actor, then only
read: each binary message is parsed here (pure, ``domain.yjs_sync``) and told to the document actor;
a malformed one is logged and skipped, and the socket goes on. The document actor pushes what this
socket must receive straight into its outbox.
"""
from __future__ import annotations

import logging
import time
import uuid
from typing import Callable

import pykka
from flask import Blueprint, request

from actors import runtime
from actors.component import tell_if_alive
from actors.documents.messages import Join, Leave, Subscriber, YjsIn
from actors.gateway import Register, Unregister
from domain import logs, yjs_sync
from domain.errors import DomainError, Unauthorized
from domain.ws_protocol import CLOSE_INTERNAL, CLOSE_POLICY
from storage import documents as store
from web.middleware import public
from web.services import services
from web.sockets import transport
from web.sockets.transport import Connection

log = logging.getLogger("confab.yjs")


blp = Blueprint("document_socket", __name__)


@transport.socket_route(blp, "/yjs/<document_id>")
@public
def yjs_socket(conn: Connection, document_id: str) -> None:
    transport.serve_guarded(conn, lambda _request_id: _serve(conn, document_id), document_id=document_id)


def _serve(conn: Connection, document_id: str) -> None:
    svc = services()
    try:
        principal = svc.auth.authenticate(transport.bearer_from(request))
        _doc, role = store.access(document_id, principal.user_id)
    except (Unauthorized, DomainError) as exc:  # NOT_FOUND too: same close, no existence leak
        logs.event(log, "yjs.refused", logging.INFO, code=exc.code, reason=exc.message)
        conn.close(CLOSE_POLICY, "not authorized for this document")
        return
    peer_id = uuid.uuid4().hex
    refused = svc.gateway.ask(Register(peer_id, principal.user_id, principal.api_key_id, conn, principal.family_id))
    if refused is not None:
        logs.event(log, "yjs.refused", logging.INFO, reason=refused[1], user_id=principal.user_id)
        conn.close(*refused)
        return
    document = None
    expiry = None if principal.expires_at is None else runtime.call_later_in_hub(
        principal.expires_at - time.time(), conn.close, CLOSE_POLICY, "access token expired")
    try:
        document = svc.documents.open(document_id)
        document.ask(Join(Subscriber(peer_id, principal.user_id, role, "yjs", conn.send, conn.close,
                                     lambda: conn.outbox.behind)), timeout=10)
        logs.event(log, "yjs.opened", user_id=principal.user_id, peer_id=peer_id, role=role)
        _read(conn, document, peer_id, lambda: svc.frame_limits.budget.check(principal.user_id))
    except (DomainError, pykka.ActorDeadError) as exc:
        logs.event(log, "yjs.join_failed", logging.WARNING, error=repr(exc))
        conn.close(CLOSE_INTERNAL, "document unavailable, retry")
    finally:
        if expiry is not None:
            expiry.cancel()
        svc.gateway.tell(Unregister(peer_id))
        if document is not None:
            tell_if_alive(document, Leave(peer_id))
            svc.documents.release(document_id, document)
        logs.event(log, "yjs.closed", peer_id=peer_id, close_code=conn.close_code)


def _read(conn: Connection, document: pykka.ActorRef, peer_id: str, take: Callable[[], float]) -> None:
    """Parse and hand on what arrives. Every message is taken from the user's frame budget (``take``:
    0 when allowed, else the seconds to wait); over it, this socket is read more slowly (y-websocket
    has no error message, and a dropped update would diverge the client), so TCP slows the client."""
    while (data := conn.receive()) is not None:
        while wait := take():
            runtime.sleep(wait)
        try:
            message = yjs_sync.parse(data if isinstance(data, bytes) else b"")
        except yjs_sync.ProtocolError as exc:
            logs.event(log, "yjs.bad_message", logging.INFO, peer_id=peer_id, error=str(exc), size=len(data))
            continue
        if not isinstance(message, yjs_sync.Ignored) and not tell_if_alive(document, YjsIn(peer_id, message,
                                                                                     time.perf_counter())):
            return


