"""Documents across instances: every stored update, awareness change, share change and deletion goes
out on ``doc.updates``.

Each instance subscribes with a consumer group of its own (``each_instance``), so every instance
sees every record published while it runs; a record reaches a document's actor only when that actor
is loaded here and did not publish it itself. A record is JSON keyed by document id: ``origin`` (the
publishing instance), ``kind``, and for ``updates`` a list of ``{version, author_id, update (base64
Yjs bytes), delta (protocol delta as the origin saw it, or null)}``; for ``awareness`` the base64
payload and the ``user_id`` behind it; ``access`` carries ``user_id`` and ``role`` (null: no access),
``deleted`` nothing else. The receiving actor recomputes JSON deltas against its own
text, since concurrent updates may have moved positions; ``delta`` is for consumers without a CRDT.

Edits do not go through ``doc.commands``: CRDT updates merge in any order, so each instance's actor
applies its own sockets' edits and the database numbers them (``storage.documents.append_rows``).
Routing every keystroke through one owner instance would add a broker round trip and a
cross-instance reply to each ack and buy nothing the CRDT does not already give; acks still follow
the durable append, and each actor's mailbox plus the stream's per-key order keep per-document order.
A publish that fails is logged and not retried: the update is durable, and another instance's actor
notices the hole in versions at the next update and reads it from storage (``DocumentActor`` repair).

On one instance (the in-process broker) there is nobody to tell: the relay neither publishes nor
subscribes, so an update costs no encoding, no broker record (nor, with ``broker.log``, its sync).
"""
from __future__ import annotations

import base64
import json
import logging
from typing import Any, Callable

import pykka

from actors.component import tell_if_alive
from actors.documents.messages import AccessChanged, Deleted, RemoteAwareness, RemoteUpdates
from domain import logs
from domain.broker import Broker, Record

log = logging.getLogger("confab.documents")

TOPIC, GROUP = "doc.updates", "doc.relay"


class Relay:
    def __init__(self, broker: Broker, instance_id: str, *, cluster: bool) -> None:
        """``cluster``: other instances may share the broker (the Redis backend)."""
        self.broker, self.instance_id, self.cluster = broker, instance_id, cluster

    def publish_updates(self, document_id: str, updates: list[tuple[int, str, bytes, list | None]]) -> None:
        """``(version, author_id, update, delta)`` of updates just stored, in version order."""
        self._publish(document_id, {"kind": "updates", "updates": [
            {"version": version, "author_id": author, "update": _b64(update), "delta": delta}
            for version, author, update, delta in updates]})

    def publish_awareness(self, document_id: str, user_id: str | None, payload: bytes) -> None:
        self._publish(document_id, {"kind": "awareness", "user_id": user_id, "payload": _b64(payload)})

    def publish_access(self, document_id: str, user_id: str, role: str | None) -> None:
        self._publish(document_id, {"kind": "access", "user_id": user_id, "role": role})

    def publish_deleted(self, document_id: str) -> None:
        self._publish(document_id, {"kind": "deleted"})

    def _publish(self, document_id: str, body: dict[str, Any]) -> None:
        if not self.cluster:
            return
        try:
            self.broker.publish(TOPIC, document_id, json.dumps({"origin": self.instance_id, **body}).encode())
        except Exception as exc:  # noqa: BLE001 — what it announces is durable already; never fail that
            logs.event(log, "document.relay_publish_failed", logging.WARNING, document_id=document_id,
                       kind=body["kind"], error=str(exc))

    def subscribe(self, loaded: Callable[[str], pykka.ActorRef | None]) -> None:
        """Hand other instances' records to the document's actor when ``loaded`` finds one here."""
        if not self.cluster:
            return

        def deliver(record: Record) -> None:
            ref = loaded(record.key)
            if ref is None:
                return  # not open here: whoever opens it later loads it from storage
            try:
                message = self._decode(record.value)
            except (ValueError, KeyError, TypeError) as exc:  # never retried forever: skip and say so
                logs.event(log, "document.relay_bad_record", logging.ERROR, document_id=record.key,
                           offset=record.offset, error=repr(exc))
                return
            if message is not None:
                tell_if_alive(ref, message)  # evicted meanwhile: nothing to update
        self.broker.subscribe(TOPIC, GROUP, deliver, each_instance=True)

    def _decode(self, value: bytes) -> RemoteUpdates | RemoteAwareness | AccessChanged | Deleted | None:
        body = json.loads(value)
        if body["origin"] == self.instance_id:
            return None
        if body["kind"] == "updates":
            return RemoteUpdates(body["origin"], [(int(u["version"]), str(u["author_id"]), _unb64(u["update"]))
                                                  for u in body["updates"]])
        if body["kind"] == "awareness":
            return RemoteAwareness(body["origin"], body.get("user_id"), _unb64(body["payload"]))
        if body["kind"] == "access":
            return AccessChanged(str(body["user_id"]), body["role"])
        if body["kind"] == "deleted":
            return Deleted()
        raise ValueError(f"unknown kind {body['kind']!r}")


def _b64(data: bytes) -> str:
    return base64.b64encode(data).decode()


def _unb64(text: str) -> bytes:
    return base64.b64decode(text, validate=True)
