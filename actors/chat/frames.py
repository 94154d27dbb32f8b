"""The chat frame handlers of /ws: they run in the session's greenlet, validate, and hand commands on.

Writes never block the session: the command is published and the ``ack`` (or error) arrives later,
after the group commit, through ``ctx.send``. Only ``join_room`` reads storage in the session, to
replay what the client missed before live delivery resumes (see ``actors.chat.hub`` for the seam).
"""
from __future__ import annotations

import time
from typing import Any

from actors.chat.batch import Outcome
from actors.chat.commands import Command
from actors.chat.service import ChatService
from actors.session import FrameHandler, Route, SessionContext, SessionFeature
from domain import ws_protocol
from domain.chat_frames import SCHEMAS
from domain.errors import Forbidden
from domain.ws_protocol import Frame
from storage.chat_messages import messages_between
from storage.db import reading

REPLAY_PAGE = 200


def _user(ctx: SessionContext) -> dict[str, str]:
    return {"id": ctx.principal.user_id, "username": ctx.principal.username}


class ChatFrames:
    def __init__(self, service: ChatService) -> None:
        self.chat, self.commands = service, service.commands

    def session_feature(self) -> SessionFeature:
        """Chat's part of every /ws session: its frames, and presence when a session opens and closes."""
        handlers: dict[str, FrameHandler] = {
            "join_room": self.join_room, "leave_room": self.leave_room, "send_message": self.send_message,
            "edit_message": self.edit_message, "delete_message": self.delete_message,
            "add_reaction": self.add_reaction, "remove_reaction": self.remove_reaction,
            "typing": self.typing, "read": self.read}
        routes = {frame_type: Route(SCHEMAS[frame_type], handler, free=frame_type == "leave_room")
                  for frame_type, handler in handlers.items()}
        return SessionFeature(routes, opened=self.session_opened, closed=self.session_closed)

    def session_opened(self, ctx: SessionContext) -> None:
        self.chat.presence.opened(ctx.principal.user_id, ctx.principal.username, ctx.session_id, ctx.send)

    def session_closed(self, ctx: SessionContext) -> None:
        self.chat.hub.drop_session(ctx.session_id)
        self.chat.presence.closed(ctx.principal.user_id, ctx.session_id)

    def join_room(self, ctx: SessionContext, frame: Frame) -> None:
        """Subscribe, then replay what the client missed (at most ``replay_max``, the newest: if more
        was missed, ``user_joined`` carries the ``gap`` to page over REST), then deliver live."""
        room_id, since = frame.data["room_id"], frame.data["since_seq"]
        room, _newly = self.chat.join(_user(ctx), room_id)
        self.chat.presence.add_room(ctx.principal.user_id, room_id)
        hub = self.chat.hub
        hub.subscribe(room_id, ctx.session_id, ctx.principal.user_id, ctx.send, buffering=since is not None,
                      batched=ctx.batched_presence)
        gap = None
        try:
            if since is not None:
                start = max(since, room["last_seq"] - self.chat.config.replay_max)
                if start > since:
                    gap = {"after_seq": since, "before_seq": start + 1}
                hub.go_live(room_id, ctx.session_id, self._replay(ctx, room_id, start))
        except BaseException:
            hub.unsubscribe(room_id, ctx.session_id)
            raise
        extra = {"gap": gap} if gap else {}
        ctx.send(ws_protocol.reply("user_joined", frame.ref, room_id=room_id, user=_user(ctx), room=room, **extra))
        return None

    def _replay(self, ctx: SessionContext, room_id: str, since: int) -> int:
        """Send every stored message above ``since``; returns the last seq sent."""
        last = since
        while True:
            with reading():
                page = messages_between(room_id, after_seq=last, limit=REPLAY_PAGE)
            for message in page:
                ctx.send({"type": "new_message", "message": message})
            if page:
                last = page[-1]["seq"]
            if len(page) < REPLAY_PAGE:
                return last

    def leave_room(self, ctx: SessionContext, frame: Frame) -> dict[str, Any]:
        """Stop live delivery of the room to this socket (membership is left over REST)."""
        self.chat.hub.unsubscribe(frame.data["room_id"], ctx.session_id)
        return ws_protocol.reply("user_left", frame.ref, room_id=frame.data["room_id"], user_id=ctx.principal.user_id)

    def send_message(self, ctx: SessionContext, frame: Frame) -> None:
        """A refusal of the sender's message budget (across sockets) also counts towards the
        session's 4429 when it repeats."""
        self._submit(ctx, frame, self.commands.send(ctx.principal.user_id, frame.data["room_id"], frame.data,
                                                    rid=ctx.request_id))

    def edit_message(self, ctx: SessionContext, frame: Frame) -> None:
        data = frame.data
        self._submit(ctx, frame, self.commands.edit(ctx.principal.user_id, data["message_id"], data["new_content"],
                                                    rid=ctx.request_id, field="new_content"))

    def delete_message(self, ctx: SessionContext, frame: Frame) -> None:
        self._submit(ctx, frame, self.commands.delete(ctx.principal.user_id, frame.data["message_id"],
                                                      rid=ctx.request_id, ip=ctx.client_ip))

    def add_reaction(self, ctx: SessionContext, frame: Frame) -> None:
        self._react(ctx, frame, present=True)

    def remove_reaction(self, ctx: SessionContext, frame: Frame) -> None:
        self._react(ctx, frame, present=False)

    def _react(self, ctx: SessionContext, frame: Frame, present: bool) -> None:
        self._submit(ctx, frame, self.commands.react(ctx.principal.user_id, frame.data["message_id"],
                                                     frame.data["emoji"], present, rid=ctx.request_id))

    def read(self, ctx: SessionContext, frame: Frame) -> None:
        self._submit(ctx, frame, self.commands.read(ctx.principal.user_id, frame.data["room_id"], frame.data["seq"],
                                                    rid=ctx.request_id))

    def typing(self, ctx: SessionContext, frame: Frame) -> None:
        room_id = frame.data["room_id"]
        if not self.chat.hub.is_subscribed(room_id, ctx.session_id):
            raise Forbidden("join the room on this socket first")
        self.chat.typing.update(room_id, _user(ctx), frame.data["is_typing"])
        return None

    def _submit(self, ctx: SessionContext, frame: Frame, command: Command) -> None:
        ref, send, metrics, submitted = frame.ref, ctx.send, self.chat.metrics, time.perf_counter()

        def reply(outcome: Outcome) -> None:
            """After the commit (or the refusal inside it): the answer the sender waits for."""
            if outcome.error is not None:
                metrics.incr(f"errors.{outcome.error.code}")
                send(ws_protocol.error_frame(outcome.error, ref))
            else:
                metrics.timing("chat.ack_latency", (time.perf_counter() - submitted) * 1000)
                send(ws_protocol.reply("ack", ref, **(outcome.reply or {})))

        self.chat.submit(command, reply)
