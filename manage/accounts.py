"""``create-admin`` and ``reset-password``: the operator's way in when nobody can sign in."""
from __future__ import annotations

import argparse

from actors import runtime
from domain.config import AppConfig
from domain.errors import Conflict
from manage.command import Command, CommandError, open_current_database, read_new_password
from storage import account_admin, audit
from storage.auth import create_auth_service


def _create_admin_arguments(parser: argparse.ArgumentParser) -> list[argparse.ArgumentParser]:
    parser.add_argument("username")
    parser.add_argument("--email", help="required for a new user")
    parser.add_argument("--display-name", default=None)
    parser.add_argument("--password-stdin", action="store_true", help="read the password from one line of stdin")
    parser.add_argument("--promote", action="store_true",
                        help="make an existing user a server admin instead (no password needed)")
    return [parser]


def create_admin(config: AppConfig, args: argparse.Namespace) -> int:
    open_current_database(config)
    if args.promote:
        user = account_admin.find_user(args.username)
        try:
            _, changed = account_admin.set_server_admin(user.id, True)
        except Conflict as exc:
            raise CommandError(str(exc)) from None
        if changed:
            audit.record("admin.granted", None, user.id, via="cli")
        print(f"{user.username} ({user.id}) is {'now' if changed else 'already'} a server admin")
        return 0
    if not args.email:
        raise CommandError("--email is required to create a user (or --promote an existing one)")
    auth = create_auth_service(config, runtime.run_blocking)
    password = read_new_password(args.password_stdin)
    auth.check_password(password)
    try:
        user = auth.register(args.username, args.email, password, args.display_name)
    except Conflict:
        raise CommandError(f"{args.username!r} or {args.email!r} is taken; --promote makes an existing user "
                           "an admin") from None
    account_admin.set_server_admin(user["id"], True)
    account_admin.mark_verified(user["id"])  # the operator vouches for the address
    audit.record("admin.granted", None, user["id"], via="cli", created=True)
    print(f"created server admin {user['username']} ({user['id']})")
    return 0


def _reset_password_arguments(parser: argparse.ArgumentParser) -> list[argparse.ArgumentParser]:
    parser.add_argument("user", help="username or e-mail address")
    parser.add_argument("--password-stdin", action="store_true", help="read the password from one line of stdin")
    return [parser]


def reset_password(config: AppConfig, args: argparse.Namespace) -> int:
    open_current_database(config)
    user = account_admin.find_user(args.user)
    auth = create_auth_service(config, runtime.run_blocking)
    password = read_new_password(args.password_stdin)
    auth.check_password(password)
    families = account_admin.replace_password(user.id, auth.hash_password(password))
    audit.record("password.reset", None, user.id, via="cli", sessions_revoked=families)
    print(f"password of {user.username} changed; {families} sign-in(s) revoked: running servers refuse their "
          "access tokens and close their sockets within a second")
    return 0


COMMANDS = (
    Command("create-admin", "create a server-admin user (or --promote an existing one)", _create_admin_arguments,
            create_admin),
    Command("reset-password", "set a user's password and sign them out everywhere", _reset_password_arguments,
            reset_password),
)
