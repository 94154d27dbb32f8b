"""Authentication's pure rules: who a caller is (``Principal``), access tokens (``Tokens``), password
hashing (``Passwords``) and the logins revoked while their access tokens live (``RevokedFamilies``).

Access tokens are short-lived HS256 JWTs; refresh tokens are opaque and stored hashed (``token_digest``);
API keys (``cfk_…``) are for bots and services. The account service that stores all of these is
``storage.auth``.
"""
from __future__ import annotations

import hashlib
import hmac
import secrets
import time
from dataclasses import dataclass
from typing import Any, Callable

import argon2
import jwt

from domain.config import AuthConfig
from domain.errors import BadRequest, Unauthorized

API_KEY_PREFIX = "cfk_"


@dataclass(frozen=True)
class Principal:
    user_id: str
    username: str
    api_key_id: str | None = None
    expires_at: float | None = None  # epoch seconds; None for API keys
    family_id: str | None = None  # the login (refresh family) an access token was issued to

    @property
    def kind(self) -> str:
        return "api_key" if self.api_key_id else "user"


class RevokedFamilies:
    """Refresh families revoked while their access tokens may still be alive (logout, reuse, a revoke
    from another instance or the CLI): their access tokens are refused until they would have expired."""

    def __init__(self, ttl_s: float) -> None:
        self._ttl_s = ttl_s
        self._until: dict[str, float] = {}

    def add(self, family_id: str) -> None:
        self._until[family_id] = time.monotonic() + self._ttl_s
        if len(self._until) > 1024:
            now = time.monotonic()
            self._until = {f: t for f, t in self._until.items() if t > now}

    def holds(self, family_id: str) -> bool:
        until = self._until.get(family_id)
        return until is not None and until > time.monotonic()


def token_digest(token: str) -> str:
    """What is stored of a refresh token or an API key: its SHA-256."""
    return hashlib.sha256(token.encode()).hexdigest()


def new_api_key() -> str:
    return API_KEY_PREFIX + secrets.token_urlsafe(32)


class Passwords:
    """Argon2id, on an OS thread (``run_blocking``) so hashing never stalls the event loop. A hash made
    with other parameters than the configured ones ``needs_rehash``."""

    def __init__(self, config: AuthConfig, run_blocking: Callable[..., Any]) -> None:
        self._min_length = config.password_min_length
        self._run_blocking = run_blocking
        self._hasher = argon2.PasswordHasher(time_cost=config.argon2_time_cost,
                                             memory_cost=config.argon2_memory_kib, parallelism=1)
        self._dummy_hash = self._hasher.hash(secrets.token_hex(16))

    def check_length(self, password: str) -> None:
        """Refuse a new password shorter than ``password_min_length`` (BAD_REQUEST naming the field)."""
        if len(password) < self._min_length:
            raise BadRequest("password too short",
                             {"fields": {"password": [f"at least {self._min_length} characters"]}})

    def hash(self, password: str) -> str:
        return self._run_blocking(self._hasher.hash, password)

    def matches(self, stored: str | None, password: str) -> bool:
        """Whether ``password`` is the one ``stored`` was made from; with no stored hash (an unknown
        user) it still costs one verification, so timing does not reveal who exists."""
        return self._run_blocking(self._verify, stored, password)

    def _verify(self, stored: str | None, password: str) -> bool:
        try:
            return self._hasher.verify(stored or self._dummy_hash, password) and stored is not None
        except argon2.exceptions.VerificationError:
            return False
        except argon2.exceptions.InvalidHashError:
            return False

    def needs_rehash(self, stored: str) -> bool:
        return self._hasher.check_needs_rehash(stored)


class Tokens:
    """Access tokens signed with the JWT secret, and keys derived from it (shared by every instance)."""

    def __init__(self, secret: str, access_ttl_s: int) -> None:
        self._secret = secret
        self._access_ttl_s = access_ttl_s

    def access(self, user_id: str, username: str, family_id: str) -> dict[str, Any]:
        """A new access token for a login (``family_id``), as the token answers carry it."""
        now = int(time.time())
        claims = {"sub": user_id, "name": username, "iat": now, "exp": now + self._access_ttl_s,
                  "jti": secrets.token_hex(8), "typ": "access", "fam": family_id}
        return {"access_token": jwt.encode(claims, self._secret, algorithm="HS256"),
                "token_type": "Bearer", "expires_in": self._access_ttl_s}

    def verify_access(self, credential: str) -> Principal:
        """The caller an access token names, or Unauthorized (expired, forged, not an access token)."""
        try:
            claims = jwt.decode(credential, self._secret, algorithms=["HS256"],
                                options={"require": ["sub", "exp", "iat"]})
        except jwt.ExpiredSignatureError:
            raise Unauthorized("access token expired") from None
        except jwt.PyJWTError:
            raise Unauthorized("invalid access token") from None
        if claims.get("typ") != "access":
            raise Unauthorized("invalid access token")
        return Principal(claims["sub"], claims.get("name", ""), expires_at=float(claims["exp"]),
                         family_id=claims.get("fam"))

    def derived_key(self, purpose: str) -> bytes:
        """A key for ``purpose`` (file links, say) derived from the JWT secret: shared by every instance."""
        return hmac.new(self._secret.encode(), f"confab {purpose}".encode(), hashlib.sha256).digest()
