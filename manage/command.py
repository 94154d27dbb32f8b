"""What every management command shares: its declaration, its errors, the database check, output."""
from __future__ import annotations

import argparse
import getpass
import json
import sys
from dataclasses import dataclass
from typing import Any, Callable, Sequence

import peewee

from domain import jsonfmt
from domain.config import AppConfig
from storage import migrations
from storage.db import open_database


class CommandError(Exception):
    """A command cannot do what was asked; the message is one line for the operator (exit status 1)."""


@dataclass(frozen=True)
class Command:
    """``add_arguments`` declares the command's arguments and returns the parsers that end a command line
    (the command's own, or its actions' like ``sessions list``): those also take the configuration flags."""
    name: str
    help: str
    add_arguments: Callable[[argparse.ArgumentParser], list[argparse.ArgumentParser]]
    run: Callable[[AppConfig, argparse.Namespace], int]


def latest_version() -> int:
    return max(m.version for m in migrations.MIGRATIONS)


def open_current_database(config: AppConfig) -> peewee.Database:
    """Open the configured database, refusing one whose schema is not this code's: a command never
    migrates behind the operator's back (``python app.py migrate`` does, deliberately)."""
    db = open_database(config)
    with db.connection_context():
        version, missing = migrations.current_version(db), migrations.pending(db)
    if missing:
        raise CommandError(f"the database is at schema version {version} without migration(s) "
                           f"{', '.join(str(m.version) for m in missing)}: run `python app.py migrate` first")
    if version > latest_version():
        raise CommandError(f"the database is at schema version {version}, newer than this Confab "
                           f"({latest_version()})")
    return db


def read_new_password(from_stdin: bool) -> str:
    """The new password: one line on stdin (``--password-stdin``, for scripts), else typed twice."""
    if from_stdin:
        password = sys.stdin.readline().rstrip("\r\n")
    elif sys.stdin.isatty():
        password = getpass.getpass("New password: ")
        if getpass.getpass("Again: ") != password:
            raise CommandError("the two passwords differ")
    else:
        raise CommandError("no terminal to ask for the password: pass it on stdin with --password-stdin")
    if not password:
        raise CommandError("empty password")
    return password


def print_rows(rows: Sequence[dict[str, Any]], columns: Sequence[str], as_json: bool) -> None:
    """Rows as aligned columns (``-`` for none), or as one JSON array with ``--json``."""
    if as_json:
        print(json.dumps([{c: row[c] for c in columns} for row in rows], default=jsonfmt.default, indent=1))
        return
    cells = [[_cell(row[c]) for c in columns] for row in rows]
    widths = [max([len(c)] + [len(line[i]) for line in cells]) for i, c in enumerate(columns)]
    for line in [list(columns), *cells]:
        print("  ".join(text.ljust(width) for text, width in zip(line, widths)).rstrip())


def _cell(value: Any) -> str:
    if value is None:
        return "-"
    text = jsonfmt.default(value) if not isinstance(value, (str, int, float, bool)) else value
    return str(text).lower() if isinstance(value, bool) else str(text)
