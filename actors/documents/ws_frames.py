"""The JSON side of documents on ``/ws``: join_document, leave_document, edit_document, presence.

Handlers run inside the session actor; they ask only the registry and the document actor, which
never ask a session back (they ``ctx.send``), so no ask cycle is possible. Joined documents live
in ``ctx.state["documents"]`` (document id → actor ref, holding one registry lease each).
"""
from __future__ import annotations

import json
import time
from typing import Any

import pykka
from marshmallow import Schema, fields, validate

from actors import session
from actors.component import tell_if_alive
from actors.documents.messages import Edit, Join, Leave, PresenceUpdate, Subscriber
from actors.session import Route, SessionFeature
from domain import ws_protocol
from domain.input_fields import JsonObject
from domain.errors import BadRequest, NotFound, PayloadTooLarge, Unavailable
from domain.ws_protocol import CLOSE_POLICY
from storage import documents as store

MAX_PRESENCE_BYTES = 8192


class _DocumentFrame(Schema):
    type = fields.String()
    ref = fields.Raw()
    document_id = fields.UUID(required=True)


class _EditFrame(_DocumentFrame):
    ops = fields.List(JsonObject(), required=True, validate=validate.Length(min=1))


class _PresenceFrame(_DocumentFrame):
    state = JsonObject(required=True, allow_none=True)


def _joined(ctx: session.SessionContext) -> dict[str, Any]:
    return ctx.state.setdefault("documents", {})


def _document_ref(ctx: session.SessionContext, document_id: str) -> Any:
    ref = _joined(ctx).get(document_id)
    if ref is None:
        raise BadRequest("join the document first", {"fields": {"document_id": ["not joined"]}})
    return ref


def _ask(ctx: session.SessionContext, document_id: str, ref: Any, message: Any) -> Any:
    try:
        return ref.ask(message, timeout=10)
    except pykka.ActorDeadError:  # the document was reloaded after a failure: the client joins again
        _joined(ctx).pop(document_id, None)
        raise Unavailable("document was reloaded; join it again", {"document_id": document_id}) from None


class DocumentFrames:
    """The document frames of /ws, bound to the service that serves them (``DocumentService``)."""

    def __init__(self, documents: Any) -> None:
        self.documents = documents

    def session_feature(self) -> SessionFeature:
        """Documents' part of every /ws session: its frames, and leaving every document on close."""
        return SessionFeature({"join_document": Route(_DocumentFrame(), self.join_document),
                               "leave_document": Route(_DocumentFrame(), self.leave_document, free=True),
                               "edit_document": Route(_EditFrame(), self.edit_document),
                               "presence": Route(_PresenceFrame(), self.presence)},
                              closed=self.session_closed)

    def join_document(self, ctx: session.SessionContext, frame: ws_protocol.Frame) -> dict[str, Any]:
        document_id = str(frame.data["document_id"])
        doc, role = store.access(document_id, ctx.principal.user_id)
        joined = _joined(ctx)
        ref = joined.get(document_id) or self.documents.open(document_id)

        def revoked(code: int, reason: str) -> None:
            """The document closed this subscriber: access revoked or deleted, or the actor failed."""
            details = {"document_id": document_id, "reason": reason}
            error = NotFound("document not found", details) if code == CLOSE_POLICY else \
                Unavailable("document unavailable; join it again", details)
            ctx.send(ws_protocol.error_frame(error))

        sub = Subscriber(ctx.session_id, ctx.principal.user_id, role, "json", ctx.send, revoked)
        try:
            state = _ask(ctx, document_id, ref, Join(sub))
        except Exception:
            if document_id not in joined:
                self.documents.release(document_id, ref)
            raise
        joined[document_id] = ref
        return ws_protocol.reply("ack", frame.ref, document_id=document_id, title=doc.title, role=role, **state)

    def leave_document(self, ctx: session.SessionContext, frame: ws_protocol.Frame) -> dict[str, Any]:
        document_id = str(frame.data["document_id"])
        ref = _joined(ctx).pop(document_id, None)
        if ref is not None:
            tell_if_alive(ref, Leave(ctx.session_id))
            self.documents.release(document_id, ref)
        return ws_protocol.reply("ack", frame.ref, document_id=document_id)

    def edit_document(self, ctx: session.SessionContext, frame: ws_protocol.Frame) -> dict[str, Any]:
        document_id = str(frame.data["document_id"])
        ref = _document_ref(ctx, document_id)
        result = _ask(ctx, document_id, ref, Edit(ctx.session_id, frame.data["ops"], time.perf_counter()))
        return ws_protocol.reply("ack", frame.ref, **result)

    def presence(self, ctx: session.SessionContext, frame: ws_protocol.Frame) -> None:
        document_id = str(frame.data["document_id"])
        ref = _document_ref(ctx, document_id)
        state = frame.data["state"]
        if len(json.dumps(state)) > MAX_PRESENCE_BYTES:
            raise PayloadTooLarge(f"presence state is over {MAX_PRESENCE_BYTES} bytes")
        tell_if_alive(ref, PresenceUpdate(ctx.session_id, state))
        return None

    def session_closed(self, ctx: session.SessionContext) -> None:
        for document_id, ref in ctx.state.pop("documents", {}).items():
            tell_if_alive(ref, Leave(ctx.session_id))
            self.documents.release(document_id, ref)
