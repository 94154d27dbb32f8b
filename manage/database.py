"""``migrate`` (the Procfile's ``release`` step) and ``check-config`` (what a start would run into)."""
from __future__ import annotations

import argparse
import socket
import tempfile
from pathlib import Path
from typing import Callable
from urllib.parse import urlparse

import peewee
import redis

from actors import mailer
from domain.config import AppConfig, describe
from domain.metrics import instance_name
from manage.command import Command, latest_version
from storage import migrations
from storage.db import StorageUnavailable, close_database, open_database
from storage.secrets import JWT_SECRET_FILE


def _no_arguments(parser: argparse.ArgumentParser) -> list[argparse.ArgumentParser]:
    return [parser]


def migrate(config: AppConfig, _args: argparse.Namespace) -> int:
    db = open_database(config)
    with db.connection_context():
        applied = migrations.pending(db)
    after = migrations.migrate(db)
    for migration in applied:
        print(f"applied {migration.version}: {migration.name}")
    print(f"schema version {after}" + ("" if applied else " (nothing to do)"))
    return 0


# --- check-config ---------------------------------------------------------------------------------

Check = tuple[str, str, str]  # (status: ok | warn | fail, what, detail)


def _writable(path: Path) -> Check:
    """``path`` is a writable folder, or the nearest existing parent is (it is created at start-up)."""
    probe = path
    while not probe.exists() and probe != probe.parent:
        probe = probe.parent
    if not probe.is_dir():
        return "fail", str(path), f"{probe} is not a folder"
    try:
        with tempfile.TemporaryFile(dir=probe):
            pass
    except OSError as exc:
        return "fail", str(path), f"not writable: {exc.strerror}"
    return "ok", str(path), "writable" if probe == path else f"will be created (in {probe})"


def _database(config: AppConfig) -> Check:
    url = config.database_url
    if url.startswith("sqlite:///") and not Path(url[len("sqlite:///"):]).exists():
        return "ok", "database", f"{url}: created and migrated at first start (or `python app.py migrate`)"
    try:
        db = open_database(config)
        with db.connection_context():
            version, missing = migrations.current_version(db), migrations.pending(db)
        close_database()
    except (StorageUnavailable, peewee.PeeweeException) as exc:
        return "fail", "database", str(exc).splitlines()[0]
    if missing:
        return "warn", "database", f"schema {version}, migration(s) {', '.join(str(m.version) for m in missing)} " \
                                   "pending: they run at start-up, or now with `python app.py migrate`"
    if version > latest_version():
        return "fail", "database", f"schema {version} is newer than this Confab ({latest_version()})"
    return "ok", "database", f"schema {version} (current)"


def _broker(config: AppConfig) -> Check:
    if config.broker.backend == "memory":
        return _writable(config.broker_log_path) if config.broker.log == "on" else \
            ("ok", "broker", "in-process, no log (one instance)")
    try:
        redis.Redis.from_url(config.broker.redis_url, socket_connect_timeout=3, socket_timeout=3).ping()
    except (redis.RedisError, ValueError) as exc:
        return "fail", "broker", f"cannot reach Redis at {config.broker.redis_url}: {exc}"
    if not config.database_url.startswith(("postgresql://", "postgres://")):
        return "warn", "broker", "Redis without PostgreSQL: instances on other machines cannot share SQLite"
    return "ok", "broker", f"Redis at {config.broker.redis_url} (prefix {config.broker.redis_prefix})"


def _secret(config: AppConfig) -> Check:
    if config.auth.jwt_secret:
        return ("ok", "auth.jwt_secret", "set") if len(config.auth.jwt_secret) >= 32 else \
            ("fail", "auth.jwt_secret", "shorter than 32 characters")
    path = config.data_path / JWT_SECRET_FILE
    if not path.exists():
        return "ok", "auth.jwt_secret", f"generated into {path} at first start"
    if path.stat().st_mode & 0o077:
        return "warn", "auth.jwt_secret", f"{path} is readable by others (it is set to 0600 at start-up)"
    return "ok", "auth.jwt_secret", f"kept in {path}"


def _statsd(config: AppConfig) -> Check:
    if not config.statsd.enabled:
        return "ok", "statsd", "disabled"
    try:
        socket.getaddrinfo(config.statsd.host, config.statsd.port, type=socket.SOCK_DGRAM)
    except OSError as exc:
        return "fail", "statsd", f"cannot resolve {config.statsd.host}: {exc.strerror} (metrics would be off)"
    return "ok", "statsd", f"UDP {config.statsd.host}:{config.statsd.port}, gauges as " \
                           f"{config.statsd.prefix}.{instance_name(config.statsd.instance)}.*"


def _email(config: AppConfig) -> Check:
    email = config.email
    if not email.host:
        return "ok", "email", "off (email.host is empty): nobody can reset a forgotten password by e-mail"
    problem = mailer.probe(email)
    if problem:
        return "fail", "email", f"SMTP {email.host}:{email.port} ({email.security}): {problem}"
    return "ok", "email", f"SMTP {email.host}:{email.port} ({email.security}), from {email.from_address}"


def _checks(config: AppConfig) -> list[Callable[[], Check]]:
    return [lambda: _writable(config.data_path), lambda: _database(config), lambda: _broker(config),
            lambda: _writable(config.files_path), lambda: _secret(config), lambda: _statsd(config),
            lambda: _email(config)]


def _check_arguments(parser: argparse.ArgumentParser) -> list[argparse.ArgumentParser]:
    parser.add_argument("--show", action="store_true", help="also print every key's effective value (secrets hidden)")
    return [parser]


def _shown(key: str, value: object) -> object:
    """A value as --show prints it: secrets and the passwords inside URLs hidden."""
    if key in ("jwt_secret", "password") and value:
        return "[hidden]"
    if isinstance(value, str) and "://" in value:
        password = urlparse(value).password
        return value.replace(f":{password}@", ":[hidden]@") if password else value
    return value


def check_config(config: AppConfig, args: argparse.Namespace) -> int:
    """Print one line per check; exit 1 when any fails (warnings do not)."""
    if args.show:
        for section, key, _default, _doc in describe():
            print(f"{section}.{key} = {_shown(key, getattr(getattr(config, section), key))}")
    results = [check() for check in _checks(config)]
    for status, what, detail in results:
        print(f"{status:<4}  {what}: {detail}")
    failed = sum(status == "fail" for status, _, _ in results)
    print("configuration ok" if not failed else f"{failed} check(s) failed", flush=True)
    return 1 if failed else 0


COMMANDS = (
    Command("migrate", "apply pending database migrations (the Procfile's release step)", _no_arguments, migrate),
    Command("check-config", "validate the configuration and try what it points at", _check_arguments, check_config),
)
