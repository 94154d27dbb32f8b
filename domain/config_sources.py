"""Where configuration comes from: the ini file (``config.ini`` beside app.py by default), then
``CONFAB_<SECTION>_<KEY>`` environment variables, then command-line flags (a few named ones and
``--set SECTION.KEY=VALUE``); the last one wins and ``domain.config.build_config`` validates the result."""
from __future__ import annotations

import argparse
import configparser
import dataclasses
import os
from pathlib import Path
from typing import Mapping, Sequence

from domain.config import AppConfig, ConfigError, build_config, sections


def _read_ini(path: Path, values: dict[str, dict[str, str]]) -> None:
    parser = configparser.ConfigParser(interpolation=None)
    try:
        with path.open(encoding="utf-8") as handle:
            parser.read_file(handle)
    except OSError as exc:
        raise ConfigError(f"config: cannot read {path}: {exc.strerror}") from None
    except configparser.Error as exc:
        raise ConfigError(f"config: {path} is not a valid ini file: {exc.message.splitlines()[0]}") from None
    for section in parser.sections():
        values.setdefault(section, {}).update(parser[section])


def _read_env(env: Mapping[str, str], values: dict[str, dict[str, str]]) -> None:
    for section, cls in sections().items():
        for f in dataclasses.fields(cls):
            name = f"CONFAB_{section.upper()}_{f.name.upper()}"
            if name in env:
                values.setdefault(section, {})[f.name] = env[name]


CLI_FLAGS = {  # flag → (section, key)
    "host": ("server", "host"), "port": ("server", "port"), "data_dir": ("server", "data_dir"),
    "database_url": ("database", "url"), "log_level": ("logging", "level"), "log_format": ("logging", "format"),
    "broker_backend": ("broker", "backend"),
}


def add_config_arguments(parser: argparse.ArgumentParser) -> None:
    """The flags that override configuration keys; the server and every management command take them."""
    parser.add_argument("--config", default=None, help="ini file (default: config.ini beside app.py)")
    for flag, (section, key) in CLI_FLAGS.items():
        parser.add_argument("--" + flag.replace("_", "-"), dest=flag, default=None, help=f"overrides {section}.{key}")
    parser.add_argument("--set", action="append", default=[], metavar="SECTION.KEY=VALUE",
                        help="override any key; may repeat")


def cli_parser(epilog: str | None = None) -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="app.py", description="Confab real-time collaboration and chat server",
                                     epilog=epilog, formatter_class=argparse.RawDescriptionHelpFormatter)
    add_config_arguments(parser)
    return parser


def load_config(argv: Sequence[str] | None = None, env: Mapping[str, str] | None = None,
                default_path: Path | None = None) -> AppConfig:
    """ini file, then environment, then CLI flags; raises ConfigError naming the first bad key."""
    return config_from_args(cli_parser().parse_args(argv), env, default_path)


def config_from_args(args: argparse.Namespace, env: Mapping[str, str] | None = None,
                     default_path: Path | None = None) -> AppConfig:
    """The configuration for parsed ``add_config_arguments`` flags (see ``load_config``)."""
    env = os.environ if env is None else env
    values: dict[str, dict[str, str]] = {}
    path = Path(args.config) if args.config else default_path
    if path is not None:
        _read_ini(path, values)
    _read_env(env, values)
    for flag, (section, key) in CLI_FLAGS.items():
        if getattr(args, flag) is not None:
            values.setdefault(section, {})[key] = getattr(args, flag)
    for item in args.set:
        target, sep, value = item.partition("=")
        section, dot, key = target.partition(".")
        if not sep or not dot:
            raise ConfigError(f"--set {item!r}: expected SECTION.KEY=VALUE")
        values.setdefault(section, {})[key] = value
    return build_config(values)
