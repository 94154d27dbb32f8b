"""Authentication: who a caller is (``Principal``) and the account service behind the Auth routes
(docs/protocol.md).

Access tokens are short-lived HS256 JWTs; refresh tokens are opaque, stored hashed, and rotate:
presenting a used one revokes its whole family. API keys (``cfk_…``) are for bots and services.
Password hashing is Argon2id on an OS thread so it never stalls the event loop; a hash made with other
parameters than the configured ones is replaced at the next successful login.
"""
from __future__ import annotations

import hashlib
import hmac
import logging
import secrets
import time
from dataclasses import dataclass
from datetime import timedelta
from typing import Any, Callable

import argon2
import jwt

from domain import logs
from domain.config import AppConfig, AuthConfig
from domain.errors import BadRequest, Unauthorized
from storage import accounts
from storage.secrets import JWT_SECRET_FILE, load_or_create_secret

log = logging.getLogger("confab.auth")

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


def _digest(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


class AuthService:
    def __init__(self, config: AuthConfig, secret: str, run_blocking: Callable[..., Any]) -> None:
        self._config = config
        self._secret = secret
        self._run_blocking = run_blocking
        self._hasher = argon2.PasswordHasher(time_cost=config.argon2_time_cost,
                                             memory_cost=config.argon2_memory_kib, parallelism=1)
        self.revoked = RevokedFamilies(config.access_token_ttl_s)
        self._dummy_hash = self._hasher.hash(secrets.token_hex(16))

    # -- accounts -------------------------------------------------------------------------------
    def check_password(self, password: str) -> None:
        """Refuse a new password shorter than ``password_min_length`` (BAD_REQUEST naming the field)."""
        minimum = self._config.password_min_length
        if len(password) < minimum:
            raise BadRequest("password too short", {"fields": {"password": [f"at least {minimum} characters"]}})

    def hash_password(self, password: str) -> str:
        return self._run_blocking(self._hasher.hash, password)

    def register(self, username: str, email: str, password: str, display_name: str | None) -> dict[str, Any]:
        password_hash = self.hash_password(password)
        user = accounts.create_user(username, email, display_name or username, password_hash)
        logs.event(log, "user.registered", user_id=user.id)
        return accounts.user_dict(user, private=True)

    def login(self, identifier: str, password: str) -> dict[str, Any]:
        user = accounts.find_user_for_login(identifier)
        if user is not None and user.is_bot:
            user = None  # bots authenticate with API keys only; refused like an unknown user
        if not self._run_blocking(self._password_matches, user.password_hash if user else None, password):
            logs.event(log, "login.failed", logging.WARNING, identifier=identifier[:64])
            raise Unauthorized("invalid username/email or password")
        assert user is not None
        if self._hasher.check_needs_rehash(user.password_hash):
            accounts.set_password_hash(user.id, self._run_blocking(self._hasher.hash, password))
            logs.event(log, "password.rehashed", user_id=user.id)
        logs.event(log, "login.ok", user_id=user.id)
        return {**self._issue(user.id, user.username, secrets.token_hex(16)),
                "user": accounts.user_dict(user, private=True)}

    def _password_matches(self, stored: str | None, password: str) -> bool:
        try:  # an unknown user still costs one verification, so timing does not reveal who exists
            return self._hasher.verify(stored or self._dummy_hash, password) and stored is not None
        except argon2.exceptions.VerificationError:
            return False
        except argon2.exceptions.InvalidHashError:
            return False

    def refresh(self, refresh_token: str) -> dict[str, Any]:
        new_token = secrets.token_urlsafe(32)
        rotated = accounts.rotate_refresh_token(_digest(refresh_token), _digest(new_token),
                                                timedelta(seconds=self._config.refresh_token_ttl_s))
        if rotated is None:
            logs.event(log, "refresh.refused", logging.WARNING)
            raise Unauthorized("refresh token is invalid, expired or already used")
        user = accounts.get_user(rotated[0])
        return {**self._access(user.id, user.username, rotated[1]), "refresh_token": new_token,
                "user": accounts.user_dict(user, private=True)}

    def logout(self, principal: Principal, refresh_token: str | None) -> list[str]:
        """Revoke the refresh token's login, or without one every login of the caller; their access
        tokens die with them. Returns the revoked family ids (their sockets are to be closed)."""
        if refresh_token:
            families = accounts.revoke_refresh_family(principal.user_id, _digest(refresh_token))
        else:
            families = accounts.revoke_all_refresh_tokens(principal.user_id)
        for family in families:
            self.revoked.add(family)
        logs.event(log, "logout", user_id=principal.user_id, families=len(families))
        return families

    def _issue(self, user_id: str, username: str, family_id: str) -> dict[str, Any]:
        refresh_token = secrets.token_urlsafe(32)
        accounts.store_refresh_token(user_id, family_id, _digest(refresh_token),
                                     accounts.utcnow() + timedelta(seconds=self._config.refresh_token_ttl_s))
        return {**self._access(user_id, username, family_id), "refresh_token": refresh_token}

    def _access(self, user_id: str, username: str, family_id: str) -> dict[str, Any]:
        now = int(time.time())
        claims = {"sub": user_id, "name": username, "iat": now, "exp": now + self._config.access_token_ttl_s,
                  "jti": secrets.token_hex(8), "typ": "access", "fam": family_id}
        return {"access_token": jwt.encode(claims, self._secret, algorithm="HS256"),
                "token_type": "Bearer", "expires_in": self._config.access_token_ttl_s}

    # -- API keys -------------------------------------------------------------------------------
    def create_api_key(self, user_id: str, name: str) -> dict[str, Any]:
        """A new key for ``user_id`` (the caller, or a bot of theirs); the key is in the answer only."""
        key = API_KEY_PREFIX + secrets.token_urlsafe(32)
        row = accounts.create_api_key(user_id, name, _digest(key))
        logs.event(log, "api_key.created", user_id=user_id, api_key_id=row.id)
        return {"id": row.id, "name": row.name, "key": key, "created_at": row.created_at}

    def derived_key(self, purpose: str) -> bytes:
        """A key for ``purpose`` (file links, say) derived from the JWT secret: shared by every instance."""
        return hmac.new(self._secret.encode(), f"confab {purpose}".encode(), hashlib.sha256).digest()

    # -- verification ---------------------------------------------------------------------------
    def authenticate(self, credential: str | None) -> Principal:
        """Turn a bearer credential (JWT or API key) into a Principal, or raise Unauthorized."""
        if not credential:
            raise Unauthorized("missing bearer token")
        if credential.startswith(API_KEY_PREFIX):
            found = accounts.find_api_key_owner(_digest(credential))
            if found is None:
                raise Unauthorized("invalid api key")
            key, user = found
            return Principal(user.id, user.username, api_key_id=key.id)
        try:
            claims = jwt.decode(credential, self._secret, algorithms=["HS256"],
                                options={"require": ["sub", "exp", "iat"]})
        except jwt.ExpiredSignatureError:
            raise Unauthorized("access token expired") from None
        except jwt.PyJWTError:
            raise Unauthorized("invalid access token") from None
        if claims.get("typ") != "access":
            raise Unauthorized("invalid access token")
        family = claims.get("fam")
        if family is not None and self.revoked.holds(family):
            raise Unauthorized("access token revoked")
        return Principal(claims["sub"], claims.get("name", ""), expires_at=float(claims["exp"]), family_id=family)


def create_auth_service(config: AppConfig, run_blocking: Callable[..., Any]) -> AuthService:
    """The JWT secret comes from config, or is generated once under the data folder (0600)."""
    secret = config.auth.jwt_secret or load_or_create_secret(config.data_path / JWT_SECRET_FILE)
    return AuthService(config.auth, secret, run_blocking)
