"""``sessions`` and ``api-keys``: list and revoke what lets a client in, for any user.

A revoke is written to the database; every running instance reads new revocations once a second
(``actors.revocations``), then refuses the sign-in's access tokens or the key, and closes their sockets
with 1008.
"""
from __future__ import annotations

import argparse

from domain.config import AppConfig
from manage.command import Command, open_current_database, print_rows
from storage import account_admin, audit

FAMILY_COLUMNS = ("family_id", "username", "started_at", "last_refresh_at", "expires_at", "active")
KEY_COLUMNS = ("id", "name", "username", "created_at", "last_used_at")


def _user_id(name: str | None) -> str | None:
    return None if name is None else account_admin.find_user(name).id


def _sessions_arguments(parser: argparse.ArgumentParser) -> list[argparse.ArgumentParser]:
    actions = parser.add_subparsers(dest="action", required=True)
    listing = actions.add_parser("list", help="sign-ins (refresh-token families), newest first")
    listing.add_argument("--user", help="only this username or e-mail address")
    listing.add_argument("--all", action="store_true", help="also ended ones (revoked, expired, used up)")
    listing.add_argument("--json", action="store_true")
    revoke = actions.add_parser("revoke", help="end one sign-in, or all of a user's")
    target = revoke.add_mutually_exclusive_group(required=True)
    target.add_argument("family_id", nargs="?")
    target.add_argument("--user", help="every sign-in of this username or e-mail address")
    return [listing, revoke]


def sessions(config: AppConfig, args: argparse.Namespace) -> int:
    open_current_database(config)
    if args.action == "list":
        rows = account_admin.sign_in_families(_user_id(args.user), include_ended=args.all)
        print_rows(rows, FAMILY_COLUMNS, args.json)
        return 0
    if args.user is not None:
        user_id = _user_id(args.user) or ""
        revoked = account_admin.revoke_user_families(user_id)
        audit.record("sessions.revoked", None, user_id, via="cli", tokens=revoked)
        print(f"revoked {revoked} refresh token(s) of {args.user}")
    else:
        account_admin.revoke_family(args.family_id)
        audit.record("sessions.revoked", None, args.family_id, via="cli")
        print(f"revoked sign-in {args.family_id}")
    return 0


def _api_keys_arguments(parser: argparse.ArgumentParser) -> list[argparse.ArgumentParser]:
    actions = parser.add_subparsers(dest="action", required=True)
    listing = actions.add_parser("list", help="API keys that are not revoked")
    listing.add_argument("--user", help="only this username or e-mail address")
    listing.add_argument("--json", action="store_true")
    revoke = actions.add_parser("revoke", help="revoke one key, whoever owns it")
    revoke.add_argument("key_id")
    return [listing, revoke]


def api_keys(config: AppConfig, args: argparse.Namespace) -> int:
    open_current_database(config)
    if args.action == "list":
        print_rows(account_admin.api_keys(_user_id(args.user)), KEY_COLUMNS, args.json)
        return 0
    owner_id = account_admin.revoke_api_key(args.key_id)
    audit.record("api_key.revoked", None, args.key_id, via="cli", owner_id=owner_id)
    print(f"revoked api key {args.key_id}; running servers refuse it and close its sockets within a second")
    return 0


COMMANDS = (
    Command("sessions", "list or revoke sign-ins (refresh-token families)", _sessions_arguments, sessions),
    Command("api-keys", "list or revoke API keys", _api_keys_arguments, api_keys),
)
