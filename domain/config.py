"""Typed configuration: every key is declared once, as a dataclass field with its type and bounds;
``build_config`` validates raw strings into an ``AppConfig`` before anything starts and reports the first
bad one as ``section.key: reason``. Where the strings come from (``config.ini``, then ``CONFAB_<SECTION>_<KEY>``
variables, then flags) is ``domain.config_sources``.
"""
from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, Mapping, Sequence

from domain.forwarded import TrustedProxies
from domain.logs import redact_urls
from domain.outbound import AddressPolicy


class ConfigError(ValueError):
    """A configuration value is missing or invalid; the message names the key."""


def setting(default: Any, doc: str, *, minimum: float | None = None, maximum: float | None = None,
            choices: Sequence[str] | None = None) -> Any:
    """Declare one configuration key with its default, documentation and bounds."""
    return field(default=default, metadata={"doc": doc, "min": minimum, "max": maximum, "choices": choices})


@dataclass(frozen=True)
class ServerConfig:
    host: str = setting("127.0.0.1", "Address to bind")
    port: int = setting(8080, "TCP port for HTTP, WebSockets, UI and health", minimum=0, maximum=65535)
    data_dir: str = setting("data", "Folder for the database, secrets, broker log and files")
    shutdown_grace_s: float = setting(10.0, "Seconds a graceful shutdown may take before exiting", minimum=0.1)
    ws_max_message_bytes: int = setting(1_048_576, "Largest WebSocket message accepted; bigger closes with 1009",
                                        minimum=1024)
    ws_ping_interval_s: float = setting(25.0, "Seconds between WebSocket pings; a peer that misses one is closed",
                                        minimum=0)
    ws_compression: bool = setting(False, "Accept permessage-deflate on WebSockets (less bandwidth, more CPU)")
    ws_outbox_bytes: int = setting(1_048_576, "Bytes queued for a WebSocket whose client stopped reading before "
                                   "it is closed (4008)", minimum=16384)
    ws_max_sockets_per_user: int = setting(32, "WebSockets (/ws and /yjs) one user may hold open; more are "
                                           "closed with 4429 (0 = no limit)", minimum=0)
    ws_frame_rate_per_s: float = setting(30.0, "Frames that write or broadcast one user may send per second over "
                                         "all their sockets (a /yjs socket over it is read more slowly)", minimum=0.1)
    ws_frame_burst: int = setting(120, "Bucket size of that per-user frame budget", minimum=1)
    cors_origins: str = setting("", "Comma-separated origins allowed by CORS; empty disables CORS, * allows any")
    trusted_proxies: str = setting("", "Comma-separated proxy addresses or CIDRs whose X-Forwarded-For is believed; "
                                       "the rightmost address not among them is the client")


@dataclass(frozen=True)
class DatabaseConfig:
    url: str = setting("", "sqlite:///path or postgresql://...; empty means SQLite at <data_dir>/confab.db")
    pool_size: int = setting(16, "Largest number of pooled connections", minimum=1, maximum=1000)
    busy_timeout_ms: int = setting(5000, "SQLite busy timeout in milliseconds", minimum=0)


@dataclass(frozen=True)
class BrokerConfig:
    backend: str = setting("memory", "Broker backend", choices=("memory", "redis"))
    redis_url: str = setting("redis://127.0.0.1:6379/0", "Redis URL when backend = redis")
    redis_prefix: str = setting("confab", "Redis backend: prefix of every key (instances of one cluster share it)")
    redis_stream_maxlen: int = setting(1_000_000, "Redis backend: entries kept per partition stream (approximate)",
                                       minimum=1000)
    topics: str = setting("doc.commands:8,doc.updates:8,chat.commands:8,chat.events:8,presence:4",
                          "Topics created at start-up as name:partitions, comma-separated")
    queue_size: int = setting(10_000, "Records a partition holds before publish waits", minimum=1)
    publish_timeout_s: float = setting(5.0, "Seconds a publish waits on a full partition before UNAVAILABLE",
                                       minimum=0)
    log: str = setting("off", "Keep an append-only segment log per partition", choices=("on", "off"))
    log_dir: str = setting("", "Folder for segment logs; empty means <data_dir>/broker")
    fsync: str = setting("batch", "When the log is synced to disk", choices=("always", "batch", "off"))
    fsync_batch_records: int = setting(256, "Group commit: sync after this many records", minimum=1)
    fsync_batch_ms: float = setting(5.0, "Group commit: sync at least this often (milliseconds)", minimum=0)
    segment_bytes: int = setting(16 * 1024 * 1024, "Roll to a new segment file past this size", minimum=1024)
    retention_bytes: int = setting(1024 * 1024 * 1024, "Keep at most this many bytes per partition (0 = no limit)",
                                   minimum=0)
    retention_hours: float = setting(168.0, "Delete segments older than this (0 = keep forever)", minimum=0)


@dataclass(frozen=True)
class CollabConfig:
    max_document_bytes: int = setting(10 * 1024 * 1024, "Largest document state; bigger updates are refused",
                                      minimum=1024)
    snapshot_every_updates: int = setting(200, "Snapshot a document after this many updates", minimum=1)
    snapshot_every_s: float = setting(60.0, "Snapshot a changed document at least this often", minimum=0.1)
    idle_evict_s: float = setting(300.0, "Unload a document this long after its last client left", minimum=0.1)


@dataclass(frozen=True)
class ChatConfig:
    max_message_chars: int = setting(4000, "Longest message content in characters", minimum=1)
    send_rate: int = setting(10, "Messages a user may send per window", minimum=1)
    send_window_s: float = setting(10.0, "Send rate limit window in seconds", minimum=0.1)
    rate_limit_close_after: int = setting(20, "Rate-limited frames in a row before the socket closes with 4429",
                                          minimum=1)
    replay_max: int = setting(500, "Most messages join_room replays after since_seq (the newest); older ones are "
                              "paged over REST", minimum=1)
    typing_ttl_s: float = setting(5.0, "A typing indicator expires after this many seconds", minimum=0.1)
    group_commit_max: int = setting(256, "Most messages written in one storage transaction", minimum=1)


@dataclass(frozen=True)
class AuthConfig:
    jwt_secret: str = setting("", "HS256 secret; empty generates one kept in <data_dir>/jwt_secret (0600)")
    access_token_ttl_s: int = setting(900, "Access token lifetime in seconds", minimum=10)
    refresh_token_ttl_s: int = setting(30 * 24 * 3600, "Refresh token lifetime in seconds", minimum=60)
    password_min_length: int = setting(8, "Shortest password accepted at registration", minimum=1)
    argon2_time_cost: int = setting(2, "Argon2id passes", minimum=1)
    argon2_memory_kib: int = setting(19456, "Argon2id memory in KiB", minimum=1024)
    registration: str = setting("open", "open: anyone may register; invite: only with auth.invite_code",
                                choices=("open", "invite"))
    invite_code: str = setting("", "The code that lets someone register when registration = invite (empty: nobody)")
    email_verification: str = setting("off", "on: a new account signs in only once the code e-mailed to it is used",
                                      choices=("off", "on"))


@dataclass(frozen=True)
class RateLimitConfig:
    enabled: bool = setting(True, "Apply HTTP rate limits")
    ip_rate_per_s: float = setting(50.0, "Requests per second refilled per client IP", minimum=0.001)
    ip_burst: int = setting(200, "Bucket size per client IP", minimum=1)
    user_rate_per_s: float = setting(20.0, "Requests per second refilled per user", minimum=0.001)
    user_burst: int = setting(100, "Bucket size per user", minimum=1)
    auth_rate_per_s: float = setting(1.0, "Login/register attempts per second refilled per IP", minimum=0.001)
    auth_burst: int = setting(20, "Login/register bucket size per IP", minimum=1)
    login_account_rate_per_s: float = setting(0.1, "Failed logins per second refilled per account name, from any IP",
                                              minimum=0.001)
    login_account_burst: int = setting(10, "Failed logins in a row per account name before 429", minimum=1)
    reset_address_rate_per_s: float = setting(0.002, "Password-reset e-mails per second refilled per address",
                                              minimum=0.0001)
    reset_address_burst: int = setting(3, "Password-reset e-mails in a row per address before 429", minimum=1)


@dataclass(frozen=True)
class StatsdConfig:
    enabled: bool = setting(True, "Send metrics over UDP")
    host: str = setting("127.0.0.1", "statsd host")
    port: int = setting(8125, "statsd UDP port", minimum=1, maximum=65535)
    prefix: str = setting("confab", "Prefix of every metric name")
    instance: str = setting("", "This instance's name in per-instance metrics (gauges); empty means the host name")


@dataclass(frozen=True)
class LoggingConfig:
    level: str = setting("INFO", "Lowest level written", choices=("DEBUG", "INFO", "WARNING", "ERROR"))
    format: str = setting("text", "Line format", choices=("text", "json"))


@dataclass(frozen=True)
class FilesConfig:
    backend: str = setting("local", "Where uploaded files' bytes live: a folder (local) or the PostgreSQL database "
                                    "(postgresql, for a cluster)", choices=("local", "postgresql"))
    dir: str = setting("", "Folder for uploaded files (with backend = postgresql: uploads being received); "
                           "empty means <data_dir>/files")
    max_upload_bytes: int = setting(25 * 1024 * 1024, "Largest upload accepted", minimum=1)
    allowed_types: str = setting("image/png,image/jpeg,image/gif,image/webp,application/pdf,text/plain",
                                 "Comma-separated content types accepted for upload")
    user_quota_bytes: int = setting(1024 * 1024 * 1024, "Total bytes one user may upload (0 = no limit)", minimum=0)
    url_ttl_s: int = setting(3600, "Signed file URLs stay valid at least this long (at most twice)", minimum=60)
    gc_interval_s: float = setting(3600.0, "How often blobs no file refers to are deleted (singleton job)",
                                   minimum=1)


@dataclass(frozen=True)
class WebhooksConfig:
    max_failures: int = setting(10, "Failed attempts in a row after which a webhook is disabled and its owner notified",
                                minimum=1)
    timeout_s: float = setting(5.0, "Seconds one delivery attempt may take, connect to response", minimum=0.1)
    backoff_base_s: float = setting(2.0, "Delay before the first retry; doubles per failed attempt, with jitter",
                                    minimum=0.01)
    backoff_max_s: float = setting(600.0, "Longest delay between two attempts", minimum=0.01)
    dispatch_interval_s: float = setting(1.0, "How often due deliveries are sent (at most once per cluster "
                                              "heartbeat, 1 s)", minimum=0.1)
    allowed_targets: str = setting("", "Comma-separated CIDRs or host names webhooks may reach besides public "
                                       "addresses (e.g. your LAN)")


@dataclass(frozen=True)
class EmailConfig:
    host: str = setting("", "SMTP server; empty sends no e-mail (password resets are then impossible)")
    port: int = setting(587, "SMTP port", minimum=1, maximum=65535)
    security: str = setting("starttls", "starttls, tls (implicit, port 465) or none",
                            choices=("starttls", "tls", "none"))
    username: str = setting("", "SMTP user; empty sends without logging in")
    password: str = setting("", "SMTP password")
    from_address: str = setting("confab@localhost", "Sender of every e-mail")
    timeout_s: float = setting(10.0, "Seconds one SMTP conversation may take", minimum=0.1)
    reset_ttl_s: int = setting(3600, "A password-reset code works this many seconds, once", minimum=60)
    base_url: str = setting("http://127.0.0.1:8080", "Address users open Confab at, for the links in e-mails")
    digest_after_s: float = setting(3600.0, "A user with no socket open this long gets their unread mentions, "
                                    "DMs and replies by e-mail (unless they opted out)", minimum=60)
    digest_interval_s: float = setting(300.0, "How often the digest job looks for such users (singleton job)",
                                       minimum=1)


@dataclass(frozen=True)
class AuditConfig:
    retention_days: int = setting(365, "Audit events older than this many days are deleted (0 = keep them forever)",
                                  minimum=0)
    retention_interval_s: float = setting(3600.0, "How often old audit events are deleted (singleton job)", minimum=1)


@dataclass(frozen=True)
class PushConfig:
    interval_s: float = setting(1.0, "How often new mentions, DMs and replies are looked for to push (singleton job, "
                                     "at most once per cluster heartbeat, 1 s)", minimum=0.1)
    max_age_s: float = setting(3600.0, "A notification older than this when the push job reaches it (after an "
                                       "outage) is not pushed, only counted and logged", minimum=60)


@dataclass(frozen=True)
class AppConfig:
    server: ServerConfig = field(default_factory=ServerConfig)
    database: DatabaseConfig = field(default_factory=DatabaseConfig)
    broker: BrokerConfig = field(default_factory=BrokerConfig)
    collab: CollabConfig = field(default_factory=CollabConfig)
    chat: ChatConfig = field(default_factory=ChatConfig)
    auth: AuthConfig = field(default_factory=AuthConfig)
    rate_limit: RateLimitConfig = field(default_factory=RateLimitConfig)
    statsd: StatsdConfig = field(default_factory=StatsdConfig)
    logging: LoggingConfig = field(default_factory=LoggingConfig)
    files: FilesConfig = field(default_factory=FilesConfig)
    webhooks: WebhooksConfig = field(default_factory=WebhooksConfig)
    email: EmailConfig = field(default_factory=EmailConfig)
    audit: AuditConfig = field(default_factory=AuditConfig)
    push: PushConfig = field(default_factory=PushConfig)

    @property
    def data_path(self) -> Path:
        return Path(self.server.data_dir)

    @property
    def database_url(self) -> str:
        return self.database.url or f"sqlite:///{self.data_path / 'confab.db'}"

    @property
    def broker_log_path(self) -> Path:
        return Path(self.broker.log_dir) if self.broker.log_dir else self.data_path / "broker"

    @property
    def files_path(self) -> Path:
        return Path(self.files.dir) if self.files.dir else self.data_path / "files"

    def topic_partitions(self) -> dict[str, int]:
        return parse_topics(self.broker.topics)


def parse_topics(spec: str) -> dict[str, int]:
    topics: dict[str, int] = {}
    for item in filter(None, (part.strip() for part in spec.split(","))):
        name, _, count = item.partition(":")
        if not name or not count.isdigit() or int(count) < 1:
            raise ConfigError(f"broker.topics: '{item}' is not name:partitions with partitions >= 1")
        topics[name.strip()] = int(count)
    return topics


def sections() -> dict[str, type]:
    """Section name → dataclass, in declaration order."""
    return {f.name: f.default_factory for f in dataclasses.fields(AppConfig)}  # type: ignore[misc]


def describe() -> list[tuple[str, str, Any, str]]:
    """(section, key, default, doc) for every key — the README table is checked against this."""
    return [(name, f.name, f.default, f.metadata["doc"])
            for name, cls in sections().items() for f in dataclasses.fields(cls)]


_TRUE = {"1", "true", "yes", "on"}
_FALSE = {"0", "false", "no", "off"}


def _convert(section: str, f: dataclasses.Field, raw: str) -> Any:
    key = f"{section}.{f.name}"
    text = raw.strip()
    kind = f.type if isinstance(f.type, str) else f.type.__name__
    if kind == "bool" and text.lower() not in _TRUE | _FALSE:
        raise ConfigError(f"{key}: expected true or false, got {raw!r}")
    try:
        if kind == "bool":
            value: Any = text.lower() in _TRUE
        elif kind == "int":
            value = int(text.replace("_", ""))
        elif kind == "float":
            value = float(text)
        else:
            value = text
    except ValueError:
        raise ConfigError(f"{key}: expected {'an integer' if kind == 'int' else 'a number'}, got {raw!r}") from None
    meta = f.metadata
    if meta["choices"] and value not in meta["choices"]:
        if isinstance(value, str) and value.upper() in meta["choices"]:
            return value.upper()
        raise ConfigError(f"{key}: must be one of {', '.join(meta['choices'])}, got {raw!r}")
    if meta["min"] is not None and value < meta["min"]:
        raise ConfigError(f"{key}: must be >= {meta['min']}, got {raw!r}")
    if meta["max"] is not None and value > meta["max"]:
        raise ConfigError(f"{key}: must be <= {meta['max']}, got {raw!r}")
    return value


def build_config(values: Mapping[str, Mapping[str, str]]) -> AppConfig:
    """Build and validate an AppConfig from raw strings; unknown sections or keys are errors."""
    known = sections()
    for section, keys in values.items():
        if section not in known:
            raise ConfigError(f"{section}: unknown section (known: {', '.join(known)})")
        names = {f.name for f in dataclasses.fields(known[section])}
        for key in keys:
            if key not in names:
                raise ConfigError(f"{section}.{key}: unknown key")
    built = {}
    for section, cls in known.items():
        raw = values.get(section, {})
        built[section] = cls(**{f.name: _convert(section, f, raw[f.name])
                                for f in dataclasses.fields(cls) if f.name in raw})
    config = AppConfig(**built)
    config.topic_partitions()
    if not config.database_url.startswith(("sqlite:///", "postgresql://", "postgres://")):
        raise ConfigError(f"database.url: must start with sqlite:/// or postgresql://, "
                          f"got {redact_urls(config.database.url)!r}")
    if config.files.backend == "postgresql" and config.database_url.startswith("sqlite:///"):
        raise ConfigError("files.backend: postgresql needs database.url on PostgreSQL")
    for key, parse in _PARSED.items():
        section, name = key.split(".")
        try:
            parse(getattr(getattr(config, section), name))
        except ValueError as exc:
            raise ConfigError(f"{key}: {exc}") from None
    return config


#: keys whose value is a list parsed by its user: checked at start-up like any other value
_PARSED: dict[str, Callable[[str], object]] = {"server.trusted_proxies": TrustedProxies.parse,
                                               "webhooks.allowed_targets": AddressPolicy.parse}
