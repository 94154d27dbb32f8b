"""Unsubscribe links in e-mails: a user id signed with a key derived from the server's secret, so the
link works without signing in (from any mail client) and for that one user only. It does not expire:
an old digest's link must still work."""
from __future__ import annotations

import hashlib
import hmac
from urllib.parse import quote


#: what the key is derived for (``AuthService.derived_key``)
PURPOSE = "digest unsubscribe"


class UnsubscribeLinks:
    def __init__(self, key: bytes, base_url: str) -> None:
        self._key, self._base_url = key, base_url.rstrip("/")

    def _signature(self, user_id: str) -> str:
        return hmac.new(self._key, f"digest|{user_id}".encode(), hashlib.sha256).hexdigest()[:32]

    def url(self, user_id: str) -> str:
        return f"{self._base_url}/api/v1/users/{quote(user_id)}/digest/unsubscribe?sig={self._signature(user_id)}"

    def genuine(self, user_id: str, signature: str) -> bool:
        return hmac.compare_digest(self._signature(user_id).encode(), signature.encode("utf-8", "surrogatepass"))
