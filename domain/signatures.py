"""Links that carry their own proof (signed file links, digest unsubscribe links): an HMAC-SHA256 of the
link's parts joined by ``|``, under a key derived for that kind of link, cut to 128 bits; checked in
constant time whatever the presented text is."""
from __future__ import annotations

import hashlib
import hmac


def sign(key: bytes, *parts: object) -> str:
    return hmac.new(key, "|".join(map(str, parts)).encode(), hashlib.sha256).hexdigest()[:32]


def matches(expected: str, presented: str) -> bool:
    """Whether ``presented`` is ``expected``, in constant time (a lone surrogate in it is simply unequal)."""
    return hmac.compare_digest(expected.encode(), presented.encode("utf-8", "surrogatepass"))
