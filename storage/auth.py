"""The account service behind the Auth routes (docs/protocol.md): registration, login, refresh, logout,
API keys, and who a bearer credential belongs to; ``domain.auth``'s tokens and passwords over the
rows of ``storage.accounts``.

Refresh tokens rotate: presenting a used one revokes its whole family. A password hash made with other
parameters than the configured ones is replaced at the next successful login.
"""
from __future__ import annotations

import logging
import secrets
from datetime import timedelta
from typing import Any, Callable

from domain import logs
from domain.auth import API_KEY_PREFIX, Passwords, Principal, RevokedFamilies, Tokens, new_api_key, token_digest
from domain.config import AppConfig, AuthConfig
from domain.errors import Forbidden, Unauthorized
from storage import accounts
from storage.secrets import JWT_SECRET_FILE, load_or_create_secret

log = logging.getLogger("confab.auth")


class AuthService:
    def __init__(self, config: AuthConfig, tokens: Tokens, passwords: Passwords) -> None:
        self._refresh_ttl = timedelta(seconds=config.refresh_token_ttl_s)
        self._tokens, self._passwords = tokens, passwords
        self.revoked = RevokedFamilies(config.access_token_ttl_s)
        self._verified_only = config.email_verification == "on"

    # -- accounts -------------------------------------------------------------------------------
    def check_password(self, password: str) -> None:
        """Refuse a new password shorter than ``password_min_length`` (BAD_REQUEST naming the field)."""
        self._passwords.check_length(password)

    def hash_password(self, password: str) -> str:
        return self._passwords.hash(password)

    def password_matches(self, stored: str | None, password: str) -> bool:
        return self._passwords.matches(stored, password)

    def forget(self, families: list[str]) -> None:
        """Refuse the access tokens of these revoked sign-ins from now on (this instance; the others
        read the revocation within a second)."""
        for family in families:
            self.revoked.add(family)

    def register(self, username: str, email: str, password: str, display_name: str | None) -> dict[str, Any]:
        password_hash = self.hash_password(password)
        user = accounts.create_user(username, email, display_name or username, password_hash)
        logs.event(log, "user.registered", user_id=user.id)
        return accounts.user_dict(user, private=True)

    def login(self, identifier: str, password: str) -> dict[str, Any]:
        user = accounts.find_user_for_login(identifier)
        if user is not None and user.is_bot:
            user = None  # bots authenticate with API keys only; refused like an unknown user
        if not self._passwords.matches(user.password_hash if user else None, password):
            logs.event(log, "login.failed", logging.WARNING, identifier=identifier[:64])
            raise Unauthorized("invalid username/email or password")
        assert user is not None
        if user.suspended_at is not None:
            logs.event(log, "login.suspended", logging.WARNING, user_id=user.id)
            raise Forbidden("this account is suspended; ask a server administrator", {"reason": "suspended"})
        if self._verified_only and user.email_verified_at is None:
            logs.event(log, "login.unverified", logging.WARNING, user_id=user.id)
            raise Forbidden("verify your e-mail address first: the code is in your inbox",
                            {"reason": "email_unverified"})
        if self._passwords.needs_rehash(user.password_hash):
            accounts.set_password_hash(user.id, self._passwords.hash(password))
            logs.event(log, "password.rehashed", user_id=user.id)
        logs.event(log, "login.ok", user_id=user.id)
        return {**self._issue(user.id, user.username, secrets.token_hex(16)),
                "user": accounts.user_dict(user, private=True)}

    def refresh(self, refresh_token: str) -> dict[str, Any]:
        new_token = secrets.token_urlsafe(32)
        rotated = accounts.rotate_refresh_token(token_digest(refresh_token), token_digest(new_token),
                                                self._refresh_ttl)
        if rotated is None:
            logs.event(log, "refresh.refused", logging.WARNING)
            raise Unauthorized("refresh token is invalid, expired or already used")
        user = accounts.get_user(rotated[0])
        return {**self._tokens.access(user.id, user.username, rotated[1]), "refresh_token": new_token,
                "user": accounts.user_dict(user, private=True)}

    def logout(self, principal: Principal, refresh_token: str | None) -> list[str]:
        """Revoke the refresh token's login, or without one every login of the caller; their access
        tokens die with them. Returns the revoked family ids (their sockets are to be closed)."""
        if refresh_token:
            families = accounts.revoke_refresh_family(principal.user_id, token_digest(refresh_token))
        else:
            families = accounts.revoke_all_refresh_tokens(principal.user_id)
        self.forget(families)
        logs.event(log, "logout", user_id=principal.user_id, families=len(families))
        return families

    def _issue(self, user_id: str, username: str, family_id: str) -> dict[str, Any]:
        refresh_token = secrets.token_urlsafe(32)
        accounts.store_refresh_token(user_id, family_id, token_digest(refresh_token),
                                     accounts.utcnow() + self._refresh_ttl)
        return {**self._tokens.access(user_id, username, family_id), "refresh_token": refresh_token}

    # -- API keys -------------------------------------------------------------------------------
    def create_api_key(self, user_id: str, name: str) -> dict[str, Any]:
        """A new key for ``user_id`` (the caller, or a bot of theirs); the key is in the answer only."""
        key = new_api_key()
        row = accounts.create_api_key(user_id, name, token_digest(key))
        logs.event(log, "api_key.created", user_id=user_id, api_key_id=row.id)
        return {"id": row.id, "name": row.name, "key": key, "created_at": row.created_at}

    def derived_key(self, purpose: str) -> bytes:
        """A key for ``purpose`` (file links, say) derived from the JWT secret: shared by every instance."""
        return self._tokens.derived_key(purpose)

    # -- verification ---------------------------------------------------------------------------
    def authenticate(self, credential: str | None) -> Principal:
        """Turn a bearer credential (JWT or API key) into a Principal, or raise Unauthorized."""
        if not credential:
            raise Unauthorized("missing bearer token")
        if credential.startswith(API_KEY_PREFIX):
            found = accounts.find_api_key_owner(token_digest(credential))
            if found is None:
                raise Unauthorized("invalid api key")
            key, user = found
            return Principal(user.id, user.username, api_key_id=key.id)
        principal = self._tokens.verify_access(credential)
        if principal.family_id is not None and self.revoked.holds(principal.family_id):
            raise Unauthorized("access token revoked")
        return principal


def create_auth_service(config: AppConfig, run_blocking: Callable[..., Any]) -> AuthService:
    """The JWT secret comes from config, or is generated once under the data folder (0600); password
    hashing runs through ``run_blocking`` (an OS thread)."""
    secret = config.auth.jwt_secret or load_or_create_secret(config.data_path / JWT_SECRET_FILE)
    return AuthService(config.auth, Tokens(secret, config.auth.access_token_ttl_s),
                       Passwords(config.auth, run_blocking))
