"""``backup`` and ``restore`` (``storage.backup``): a consistent copy of a running Confab, and its way back."""
from __future__ import annotations

import argparse
import time
from pathlib import Path
from urllib.parse import urlparse

from domain.config import AppConfig
from manage.command import Command, CommandError
from storage.backup import BackupError, Places, restore_backup, write_backup


def _backup_arguments(parser: argparse.ArgumentParser) -> list[argparse.ArgumentParser]:
    parser.add_argument("archive", nargs="?", type=Path,
                        help="file to write (default confab-backup-<UTC time>.tar.gz); .gz compresses")
    return [parser]


def backup(config: AppConfig, args: argparse.Namespace) -> int:
    out = args.archive or Path(time.strftime("confab-backup-%Y%m%dT%H%M%SZ.tar.gz", time.gmtime()))
    try:
        manifest = write_backup(config, out)
    except BackupError as exc:
        raise CommandError(str(exc)) from None
    print(f"wrote {out}: {manifest['database']} database (schema {manifest['schema_version']}), "
          f"{manifest['files']} file(s), {manifest['bytes']} bytes of files")
    if manifest["database"] == "postgresql":
        print(_pg_guidance(config.database_url, out))
    return 0


def _pg_guidance(url: str, out: Path) -> str:
    parsed = urlparse(url)
    safe = parsed._replace(netloc=parsed.netloc.replace(f":{parsed.password}@", "@")).geturl() \
        if parsed.password else url  # pg_dump asks for it, or reads PGPASSWORD / ~/.pgpass
    return (f"PostgreSQL holds every row and is not in {out.name}: dump it with pg_dump, before this archive "
            "(files are only ever added, so a later copy of them covers the dump):\n"
            f"  pg_dump --format=custom --file=confab.pgdump '{safe}'\n"
            "and bring it back into an empty database before starting Confab:\n"
            f"  pg_restore --no-owner --dbname='{safe}' confab.pgdump")


def _restore_arguments(parser: argparse.ArgumentParser) -> list[argparse.ArgumentParser]:
    parser.add_argument("archive", type=Path)
    return [parser]


def restore(config: AppConfig, args: argparse.Namespace) -> int:
    try:
        manifest = restore_backup(config, args.archive)
    except BackupError as exc:
        raise CommandError(str(exc)) from None
    places = Places.of(config)
    print(f"restored {args.archive} (taken {manifest['created_at']}, schema {manifest['schema_version']}) into "
          f"{places.data_dir}; start Confab to use it (it migrates an older schema at start-up)")
    if manifest["database"] == "postgresql":
        print(_pg_guidance(config.database_url, args.archive))
    return 0


COMMANDS = (
    Command("backup", "write a consistent archive of the database, secrets and files (safe while running)",
            _backup_arguments, backup),
    Command("restore", "unpack a backup into an empty data folder", _restore_arguments, restore),
)
