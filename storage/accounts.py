"""Account repository: users, refresh-token families and API keys, each call one short unit of work.

A username or an e-mail address names one account whatever its case (``storage.account_names``):
every lookup compares lowered forms, and the database refuses a second account with the same one.
"""
from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

import peewee

from domain.errors import Conflict, NotFound
from storage import files
from storage.account_names import username_key
from storage.db import reading, serialize, unit_of_work
from storage.models import ApiKey, RefreshToken, User, utcnow

#: held (``storage.db.serialize``) by whoever reads and then changes who the server admins are
ADMINS_LOCK = 0x636F6E666164  # "confad"


def user_ref(user: User) -> dict[str, Any]:
    """The short user object inside messages, members and notifications."""
    return {"id": user.id, "username": user.username, "display_name": user.display_name, "is_bot": user.is_bot}


def user_dict(user: User, *, private: bool = False) -> dict[str, Any]:
    """The user object of the REST routes; ``private`` adds what only the user themselves (or a server
    admin) sees."""
    avatar = files.uploader_link(user.avatar_file_id, user.id) if user.avatar_file_id else None
    body: dict[str, Any] = {**user_ref(user), "owner_id": user.bot_owner_id, "status_text": user.status_text or "",
                            "avatar_url": avatar, "created_at": user.created_at, "last_seen": user.last_seen}
    if private:
        body.update(email=user.email, is_server_admin=user.is_server_admin, suspended_at=user.suspended_at,
                    email_digest=user.digest_opted_out_at is None, email_verified=user.email_verified_at is not None)
    return body


def create_user(username: str, email: str, display_name: str, password_hash: str) -> User:
    """A new account, a server admin when it is the first (two registering at once on an empty server: one
    is); CONFLICT naming ``username`` when the name (in any case) is taken. An e-mail that is taken gets a
    CONFLICT that names no field: usernames are public, who registered an address is not."""
    try:
        with unit_of_work():
            first = not User.select().exists()  # the first account administers the server
            if first:  # only then: registrations on a server with users do not queue behind one lock
                serialize(ADMINS_LOCK)
                first = not User.select().exists()
            return User.create(username=username, email=email.lower(), display_name=display_name,
                               password_hash=password_hash, is_server_admin=first)
    except peewee.IntegrityError:
        if find_by_username(username) is not None:
            raise Conflict("username already taken", {"fields": {"username": ["already taken"]}}) from None
        raise Conflict("cannot register with these details; if you have an account, sign in") from None


def find_by_username(username: str) -> User | None:
    with reading():
        return User.get_or_none(peewee.fn.LOWER(User.username) == username_key(username))


def find_user_for_login(identifier: str) -> User | None:
    """The account a username or an e-mail address (anything with an ``@``) names, in any case."""
    if "@" not in identifier:
        return find_by_username(identifier)
    with reading():
        return User.get_or_none(User.email == identifier.lower())


def person_with_email(email: str) -> User | None:
    """The active person (not a bot, not suspended or deleted) whose address this is, in any case; what a
    code e-mailed to that address (a password reset, a verification) may be sent for."""
    user = find_user_for_login(email) if "@" in email else None
    if user is None or user.is_bot or user.suspended_at is not None or user.deactivated_at is not None:
        return None
    return user


def set_password_hash(user_id: str, password_hash: str) -> None:
    with unit_of_work():
        User.update(password_hash=password_hash).where(User.id == user_id).execute()


def get_user(user_id: str) -> User:
    with reading():
        user = User.get_or_none(User.id == user_id)
    if user is None:
        raise NotFound("user not found")
    return user


def update_user(user_id: str, **fields: Any) -> User:
    """Change profile fields; ``email_digest`` (a flag) is stored as the time the user opted out."""
    if "email_digest" in fields:
        fields["digest_opted_out_at"] = None if fields.pop("email_digest") else utcnow()
    with unit_of_work():
        User.update(updated_at=utcnow(), **fields).where(User.id == user_id).execute()
        return User.get_by_id(user_id)


def search_users(query: str, limit: int, after_username: str | None) -> list[User]:
    with reading():
        select = User.select().where(User.deactivated_at.is_null()).order_by(User.username).limit(limit)
        if query:
            pattern = f"%{query.lower()}%"
            select = select.where(peewee.fn.LOWER(User.username).contains(query.lower())
                                  | peewee.fn.LOWER(User.display_name) ** pattern)
        if after_username:
            select = select.where(User.username > after_username)
        return list(select)


def store_refresh_token(user_id: str, family_id: str, token_hash: str, expires_at: datetime) -> None:
    with unit_of_work():
        RefreshToken.create(user=user_id, family_id=family_id, token_hash=token_hash, expires_at=expires_at)


def rotate_refresh_token(token_hash: str, new_hash: str, ttl: timedelta) -> tuple[str, str] | None:
    """Mark ``token_hash`` used and store its successor in the same family.

    Returns (user_id, family_id), or None when the token is unknown, expired, revoked or already
    used — reuse of a used token revokes its whole family (it was stolen or replayed).
    """
    now = utcnow()
    with unit_of_work():
        token = RefreshToken.get_or_none(RefreshToken.token_hash == token_hash)
        if token is None:
            return None
        if token.used_at is not None or token.revoked_at is not None:
            (RefreshToken.update(revoked_at=now)
             .where((RefreshToken.family_id == token.family_id) & RefreshToken.revoked_at.is_null()).execute())
            return None
        if token.expires_at <= now:
            return None
        claimed = (RefreshToken.update(used_at=now)
                   .where((RefreshToken.id == token.id) & RefreshToken.used_at.is_null()).execute())
        if claimed != 1:
            return None
        RefreshToken.create(user=token.user_id, family_id=token.family_id, token_hash=new_hash,
                            expires_at=now + ttl)
        return token.user_id, token.family_id


def revoke_refresh_family(user_id: str, token_hash: str) -> list[str]:
    """Revoke the family of one of the user's refresh tokens; its id (none if the token is unknown)."""
    with unit_of_work():
        token = RefreshToken.get_or_none((RefreshToken.token_hash == token_hash) & (RefreshToken.user == user_id))
        if token is None:
            return []
        (RefreshToken.update(revoked_at=utcnow())
         .where((RefreshToken.family_id == token.family_id) & RefreshToken.revoked_at.is_null()).execute())
        return [token.family_id]


def revoke_all_refresh_tokens(user_id: str) -> list[str]:
    """Revoke every live refresh family of the user; their ids."""
    with unit_of_work():
        return revoke_sign_ins(user_id, utcnow())


def revoke_sign_ins(user_id: str, now: datetime, keep_family: str | None = None) -> list[str]:
    """Inside a unit of work: revoke every live refresh family of the user but ``keep_family``; their ids."""
    live = (RefreshToken.user == user_id) & RefreshToken.revoked_at.is_null()
    if keep_family is not None:
        live &= RefreshToken.family_id != keep_family
    families = sorted({t.family_id for t in RefreshToken.select(RefreshToken.family_id).where(live)})
    RefreshToken.update(revoked_at=now).where(live).execute()
    return families


def revoked_since(since: datetime) -> tuple[set[str], set[str]]:
    """The refresh families and the API keys revoked at or after ``since`` (by anyone: this instance,
    another one, the CLI), for closing their sockets and refusing their access tokens."""
    with reading():
        families = {t.family_id for t in RefreshToken.select(RefreshToken.family_id)
                    .where(RefreshToken.revoked_at >= since).distinct()}
        keys = {k.id for k in ApiKey.select(ApiKey.id).where(ApiKey.revoked_at >= since)}
    return families, keys


def create_api_key(user_id: str, name: str, key_hash: str) -> ApiKey:
    with unit_of_work():
        return ApiKey.create(user=user_id, name=name, key_hash=key_hash)


def list_api_keys(user_id: str) -> list[ApiKey]:
    with reading():
        return list(ApiKey.select().where((ApiKey.user == user_id) & ApiKey.revoked_at.is_null())
                    .order_by(ApiKey.created_at))


def revoke_api_key(user_id: str, key_id: str) -> None:
    with unit_of_work():
        updated = (ApiKey.update(revoked_at=utcnow())
                   .where((ApiKey.id == key_id) & (ApiKey.user == user_id) & ApiKey.revoked_at.is_null()).execute())
    if updated != 1:
        raise NotFound("api key not found")


#: ``last_used_at`` is refreshed at most this often, so a busy bot does not cost a write per request.
LAST_USED_RESOLUTION = timedelta(minutes=1)


def find_api_key_owner(key_hash: str) -> tuple[ApiKey, User] | None:
    with reading():
        row = (ApiKey.select(ApiKey, User).join(User)
               .where((ApiKey.key_hash == key_hash) & ApiKey.revoked_at.is_null()
                      & User.deactivated_at.is_null() & User.suspended_at.is_null()).first())
    if row is None:
        return None
    now = utcnow()
    if row.last_used_at is None or now - row.last_used_at > LAST_USED_RESOLUTION:
        with unit_of_work():
            ApiKey.update(last_used_at=now).where(ApiKey.id == row.id).execute()
    return row, row.user
