"""Awareness of one document: pycrdt's ``Awareness`` plus who owns which client id, and expiry.

pycrdt's own expiry loop runs only under anyio, so the document actor calls ``expire`` from a timer.
JSON (/ws) clients get a synthetic awareness client id, so Yjs peers see their presence too.
"""
from __future__ import annotations

import json
import random
import time
from typing import Any

from pycrdt import Awareness, Doc

from domain import yjs_sync
from domain.errors import BadRequest

OUTDATED_MS = 30_000
#: what one peer may announce: client ids at once (a y-websocket client has one) and bytes per state
MAX_STATES_PER_PEER, MAX_STATE_BYTES = 8, 8192


class PresenceTable:
    def __init__(self, doc: Doc) -> None:
        self._awareness = Awareness(doc, outdated_timeout=OUTDATED_MS)
        self._awareness.set_local_state(None)  # the server is not a participant
        self._server_id = self._awareness.client_id
        self._owned: dict[str, set[int]] = {}  # peer id → client ids it announced
        self._json_ids: dict[str, int] = {}  # JSON peer id → its synthetic client id

    @property
    def has_states(self) -> bool:
        return bool(self.states())

    def states(self) -> dict[int, Any]:
        return {cid: state for cid, state in self._awareness.states.items() if cid != self._server_id}

    def apply(self, peer_id: str, payload: bytes) -> dict[int, Any]:
        """Apply a peer's awareness update; returns {client_id: new state or None} for what changed.
        BadRequest (nothing applied) for anything malformed or over the bounds."""
        try:
            entries = yjs_sync.awareness_entries(payload)
        except yjs_sync.ProtocolError as exc:
            raise BadRequest(f"invalid awareness update: {exc}") from None
        client_ids = [cid for cid, _clock, _state in entries]
        owned = self._owned.setdefault(peer_id, set())
        if len(owned | set(client_ids)) > MAX_STATES_PER_PEER:
            raise BadRequest(f"at most {MAX_STATES_PER_PEER} awareness states per connection")
        if any(len(state) > MAX_STATE_BYTES for _cid, _clock, state in entries):
            raise BadRequest(f"an awareness state is over {MAX_STATE_BYTES} bytes")
        before = {cid: self._awareness.states.get(cid) for cid in client_ids}
        try:
            self._awareness.apply_awareness_update(payload, peer_id)
        except Exception as exc:  # noqa: BLE001 — pycrdt parses the JSON: any failure (deep nesting too) is the peer's
            raise BadRequest(f"invalid awareness state: {type(exc).__name__}") from None
        changed = {}
        for cid in client_ids:
            if cid == self._server_id:
                continue
            after = self._awareness.states.get(cid)
            if after is None:
                owned.discard(cid)
            else:
                owned.add(cid)
            if after != before[cid]:
                changed[cid] = after
        return changed

    def set_json_state(self, peer_id: str, state: dict[str, Any] | None) -> tuple[int, bytes]:
        """Set (None: clear) a JSON peer's presence; returns its client id and the awareness payload."""
        cid = self._json_ids.get(peer_id)
        if cid is None:
            cid = self._json_ids[peer_id] = random.getrandbits(31) | 1
        clock = self._awareness.meta.get(cid, {}).get("clock", 0) + 1
        payload = yjs_sync.encode_awareness_states([(cid, clock, json.dumps(state, separators=(",", ":")))])
        self.apply(peer_id, payload)
        return cid, payload

    def drop_peer(self, peer_id: str) -> tuple[list[int], bytes | None]:
        """Remove every state a peer announced; the removal payload to relay, if any."""
        owned = sorted(self._owned.pop(peer_id, set()))
        self._json_ids.pop(peer_id, None)
        return owned, self._remove(owned)

    def expire(self, now_ms: int | None = None) -> tuple[list[int], bytes | None]:
        """Remove Yjs states not renewed within the outdated timeout (JSON states live until their peer leaves)."""
        now_ms = int(time.time() * 1000) if now_ms is None else now_ms
        synthetic = set(self._json_ids.values())
        stale = [cid for cid, meta in self._awareness.meta.items()
                 if cid in self.states() and cid not in synthetic and now_ms - meta["lastUpdated"] >= OUTDATED_MS]
        for ids in self._owned.values():
            ids.difference_update(stale)
        return stale, self._remove(stale)

    def _remove(self, client_ids: list[int]) -> bytes | None:
        present = [cid for cid in client_ids if cid in self._awareness.states]
        if not present:
            return None
        self._awareness.remove_awareness_states(present, "server")
        return self._awareness.encode_awareness_update(present)

    def full_update(self) -> bytes | None:
        """Every current state, for a client that just joined."""
        ids = list(self.states())
        return self._awareness.encode_awareness_update(ids) if ids else None
