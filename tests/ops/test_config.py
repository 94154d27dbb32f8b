"""Configuration: ini < env < CLI, validation names the key, README documents every key."""
import subprocess
import sys
from pathlib import Path

import pytest

from domain.config import AppConfig, ConfigError, build_config, describe
from domain.config_sources import load_config

ROOT = Path(__file__).resolve().parents[2]


def test_shipped_config_ini_loads_to_the_defaults():
    assert load_config([], env={}, default_path=ROOT / "config.ini") == AppConfig()


def test_env_overrides_ini_and_cli_overrides_env(tmp_path):
    ini = tmp_path / "c.ini"
    ini.write_text("[server]\nport = 9001\n[logging]\nformat = json\n")
    env = {"CONFAB_SERVER_PORT": "9002", "CONFAB_BROKER_FSYNC": "always"}
    assert load_config(["--config", str(ini)], env=env).server.port == 9002
    config = load_config(["--config", str(ini), "--port", "9003", "--set", "chat.send_rate=3"], env=env)
    assert (config.server.port, config.logging.format, config.broker.fsync, config.chat.send_rate) == \
        (9003, "json", "always", 3)


@pytest.mark.parametrize("values, message", [
    ({"server": {"port": "abc"}}, "server.port: expected an integer, got 'abc'"),
    ({"server": {"port": "70000"}}, "server.port: must be <= 65535"),
    ({"broker": {"fsync": "sometimes"}}, "broker.fsync: must be one of always, batch, off"),
    ({"statsd": {"enabled": "maybe"}}, "statsd.enabled: expected true or false"),
    ({"server": {"colour": "blue"}}, "server.colour: unknown key"),
    ({"nope": {"a": "1"}}, "nope: unknown section"),
    ({"broker": {"topics": "a:0"}}, "broker.topics:"),
    ({"database": {"url": "mysql://x"}}, "database.url: must start with"),
])
def test_bad_values_name_the_key_and_the_reason(values, message):
    with pytest.raises(ConfigError, match="^" + message.replace("(", r"\(").replace(")", r"\)")):
        build_config(values)


def test_bad_value_exits_non_zero_with_one_line_before_starting(tmp_path):
    result = subprocess.run([sys.executable, str(ROOT / "app.py"), "--port", "abc", "--data-dir", str(tmp_path)],
                            capture_output=True, text=True, timeout=60, cwd=ROOT)
    assert result.returncode == 2
    assert result.stderr.strip().splitlines() == ["confab: configuration error: server.port: expected an integer, got 'abc'"]
    assert not (tmp_path / "confab.db").exists()


def test_readme_table_lists_every_key_with_its_default():
    readme = (ROOT / "README.md").read_text()
    for section, key, default, _doc in describe():
        shown = ("true" if default else "false") if isinstance(default, bool) else str(default) or '""'
        assert f"| `{section}.{key}` | `{shown}` |" in readme, f"{section}.{key} missing from the README table"


@pytest.mark.parametrize("flags, line", [
    (["--database-url", "postgresql://nobody@127.0.0.1:1/none"],
     "confab: cannot start: database: cannot connect to postgresql://nobody@127.0.0.1:1/none"),
    (["--broker-backend", "redis", "--set", "broker.redis_url=redis://127.0.0.1:1/0"],
     "confab: cannot start: broker: cannot reach Redis at redis://127.0.0.1:1/0"),
])
def test_unreachable_services_stop_start_up_with_one_clear_line(tmp_path, flags, line):
    result = subprocess.run([sys.executable, str(ROOT / "app.py"), "--port", "0", "--data-dir", str(tmp_path),
                             "--log-level", "ERROR", *flags], capture_output=True, text=True, timeout=60, cwd=ROOT)
    assert result.returncode == 1
    assert result.stderr.strip().splitlines()[-1].startswith(line)
    assert "Traceback" not in result.stderr


@pytest.mark.parametrize("flags", [
    ["--database-url", "postgresql://nobody:s3cr3t-pw@127.0.0.1:1/none"],
    ["--database-url", "postgresql://nobody:s3cr3t-pw@127.0.0.1:abc/none"],
    ["--database-url", "mysql://nobody:s3cr3t-pw@127.0.0.1/none"],
    ["--broker-backend", "redis", "--set", "broker.redis_url=redis://:s3cr3t-pw@127.0.0.1:1/0"],
    ["--broker-backend", "redis", "--set", "broker.redis_url=redis://user:s3cr3t@pw@127.0.0.1:1/0"],
    ["--broker-backend", "redis", "--set", "broker.redis_url=http://:s3cr3t-pw@127.0.0.1:1/0"],
])
def test_no_start_up_error_prints_a_urls_password(tmp_path, flags):
    result = subprocess.run([sys.executable, str(ROOT / "app.py"), "--port", "0", "--data-dir", str(tmp_path),
                             "--log-level", "DEBUG", *flags], capture_output=True, text=True, timeout=60, cwd=ROOT)
    assert result.returncode in (1, 2)
    assert "confab: c" in result.stderr
    assert "s3cr3t" not in result.stderr + result.stdout
