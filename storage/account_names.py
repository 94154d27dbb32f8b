"""Usernames and e-mail addresses are one account each whatever their case (migration 8).

Usernames keep the case their owner chose for display; what is unique, and what every lookup
compares, is the lowered form (a unique index on ``LOWER(username)``; usernames are ASCII, so SQLite's
and PostgreSQL's ``LOWER`` agree with Python's). E-mail addresses are stored lowered, so the column's
own unique index is the lowered form.

Databases made before this rule may hold case variants (``alice`` and ``ALICE``); the migration
resolves them deterministically and without losing a row:

- The account registered first (``created_at``, then id) keeps the name. It is the one that existed
  when the later variant appeared, and a later look-alike is what the attack this closes (shares and
  invitations meant for ``alice`` reaching ``ALICE``) produces. Each later account gets the first free
  ``<its name>-2``, ``-3``… (its own spelling, cut to fit 32 characters). It keeps every row, its password and its
  e-mail, and signs in by e-mail or by its new name.
- An e-mail held by several accounts in different cases stays with the first; each later account gets
  ``<its id>@renamed.invalid`` (``.invalid`` can never be delivered to) and signs in by username.

Every change is one ``account_rename`` row (old and new value, so an operator can see and undo it) and
one ``account.renamed`` log line.
"""
from __future__ import annotations

import logging
from collections import defaultdict

import peewee

from domain import logs
from storage.models import AccountRename, User

log = logging.getLogger("confab.storage")

MAX_USERNAME = 32
PLACEHOLDER_DOMAIN = "renamed.invalid"


def username_key(username: str) -> str:
    return username.lower()


def _free_username(base: str, taken: set[str]) -> str:
    for n in range(2, 10_000):
        suffix = f"-{n}"
        candidate = base[:MAX_USERNAME - len(suffix)] + suffix
        if username_key(candidate) not in taken:
            return candidate
    raise RuntimeError(f"no free variant of username {base!r}")


def _rename(user: User, field: str, old: str, new: str, kept_by: User) -> None:
    User.update({getattr(User, field): new}).where(User.id == user.id).execute()
    AccountRename.create(user=user.id, field=field, old_value=old, new_value=new, kept_by=kept_by.id)
    logs.event(log, "account.renamed", logging.WARNING, field=field, user_id=user.id, kept_by=kept_by.id,
               old=old, new=new)


def normalise(db: peewee.Database) -> None:
    """Migration 8: resolve case collisions, lower every e-mail, then make the lowered forms unique."""
    db.create_tables([AccountRename])
    users = list(User.select(User.id, User.username, User.email).order_by(User.created_at, User.id))
    by_name: dict[str, list[User]] = defaultdict(list)
    by_email: dict[str, list[User]] = defaultdict(list)
    for user in users:
        by_name[username_key(user.username)].append(user)
        by_email[user.email.lower()].append(user)
    taken = set(by_name)
    for first, *later in by_name.values():
        for user in later:
            new = _free_username(user.username, taken)
            taken.add(username_key(new))
            _rename(user, "username", user.username, new, first)
    for email, (first, *later) in by_email.items():
        for user in later:  # first, so that lowering the first one's address collides with nothing
            _rename(user, "email", user.email, f"{user.id}@{PLACEHOLDER_DOMAIN}", first)
        if first.email != email:
            User.update(email=email).where(User.id == first.id).execute()
    table = User._meta.table_name
    db.execute_sql(f'CREATE UNIQUE INDEX user_username_lower ON "{table}" (LOWER(username))')
