"""Short-lived signed file URLs: what an ``<img>`` or a link loads instead of carrying an access token.

A link names a file (or its thumbnail), the grant it was issued under (``room:<id>``, the room where a
message carries it, or ``user:<id>``, its uploader) and an expiry, signed with a key derived from the
server's secret. Whoever holds the link may fetch that one file until the link expires and while
the grant still holds (the download route checks it), nothing else: unlike a token in a URL, a leaked
link (history, logs, Referer) opens no account.

Expiries are rounded up to a multiple of ``ttl_s`` (valid between ``ttl_s`` and twice that), so the
links of a message are the same for every member and every request within that window: one broadcast
frame serves all, and browsers cache the bytes under a stable URL.
"""
from __future__ import annotations

import time
from typing import Callable
from urllib.parse import urlencode

from domain.signatures import matches, sign

KINDS = {"file": "", "thumbnail": "/thumbnail"}


class FileLinks:
    def __init__(self, key: bytes, ttl_s: int, clock: Callable[[], float] = time.time) -> None:
        self._key, self.ttl_s, self._clock = key, ttl_s, clock

    def url(self, file_id: str, kind: str, grant: str) -> str:
        expires = (int(self._clock()) // self.ttl_s + 2) * self.ttl_s
        query = urlencode({"grant": grant, "expires": expires, "sig": sign(self._key, file_id, kind, grant, expires)})
        return f"/files/{file_id}{KINDS[kind]}?{query}"

    def check(self, file_id: str, kind: str, grant: str, expires: str, signature: str) -> str | None:
        """None when the link is genuine and current; otherwise why not ("invalid" or "expired")."""
        if not (expires.isascii() and expires.isdigit() and len(expires) <= 12):
            return "invalid"
        if not matches(sign(self._key, file_id, kind, grant, int(expires)), signature):
            return "invalid"
        return "expired" if int(expires) <= self._clock() else None
