"""Management commands: ``python app.py <command> [options]``, next to the server they manage.

They are the server's own entry point with a command name in front, so they read the same
configuration (config.ini, ``CONFAB_*`` variables, the same flags) and run on the same code and
migrations as the server of the same checkout; no second tool to install, no Flask app to build.
``python app.py <command> --help`` describes each. Exit status: 0 done, 1 refused or failed (one line
on stderr saying why), 2 bad configuration or usage.
"""
from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Sequence

from domain import logs
from domain.config import ConfigError
from domain.config_sources import add_config_arguments, config_from_args
from domain.errors import DomainError
from manage import access, accounts, backup, database
from manage.command import Command, CommandError
from storage.db import StorageUnavailable, close_database

COMMANDS: dict[str, Command] = {command.name: command for command in (
    *database.COMMANDS, *accounts.COMMANDS, *access.COMMANDS, *backup.COMMANDS)}


def summary() -> str:
    """The command list, for ``python app.py --help``."""
    width = max(map(len, COMMANDS))
    lines = [f"  {name:<{width}}  {command.help}" for name, command in COMMANDS.items()]
    return "management commands (python app.py <command> --help):\n" + "\n".join(lines)


def parser() -> argparse.ArgumentParser:
    root = argparse.ArgumentParser(prog="app.py", description="Confab management commands")
    commands = root.add_subparsers(dest="command", required=True, metavar="command")
    for command in COMMANDS.values():
        for leaf in command.add_arguments(commands.add_parser(command.name, help=command.help,
                                                             description=command.help)):
            add_config_arguments(leaf)
    return root


def main(argv: Sequence[str], default_config: Path) -> int:
    args = parser().parse_args(argv)
    try:
        config = config_from_args(args, default_path=default_config)
    except ConfigError as exc:
        print(f"confab: configuration error: {exc}", file=sys.stderr)
        return 2
    logs.configure("WARNING", config.logging.format)
    try:
        return COMMANDS[args.command].run(config, args)
    except (CommandError, StorageUnavailable) as exc:
        print(f"confab {args.command}: {exc}", file=sys.stderr)
    except DomainError as exc:
        fields = exc.details.get("fields") if isinstance(exc.details.get("fields"), dict) else {}
        reasons = "; ".join(f"{name}: {', '.join(map(str, why))}" for name, why in fields.items())
        print(f"confab {args.command}: {exc.message}" + (f" ({reasons})" if reasons else ""), file=sys.stderr)
    finally:
        close_database()
    return 1
