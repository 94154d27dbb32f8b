"""Unsubscribe links in e-mails: a user id signed with a key derived from the server's secret, so the
link works without signing in (from any mail client) and for that one user only. It does not expire:
an old digest's link must still work."""
from __future__ import annotations

from urllib.parse import quote

from domain.signatures import matches, sign


#: what the key is derived for (``AuthService.derived_key``)
PURPOSE = "digest unsubscribe"


class UnsubscribeLinks:
    def __init__(self, key: bytes, base_url: str) -> None:
        self._key, self._base_url = key, base_url.rstrip("/")

    def url(self, user_id: str) -> str:
        signature = sign(self._key, "digest", user_id)
        return f"{self._base_url}/api/v1/users/{quote(user_id)}/digest/unsubscribe?sig={signature}"

    def genuine(self, user_id: str, signature: str) -> bool:
        return matches(sign(self._key, "digest", user_id), signature)
