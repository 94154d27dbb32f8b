"""Versioned migrations, applied in order at start-up inside one transaction each.

A migration is never edited once released: a change to the schema is a new, higher version.
"""
from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import Callable

import peewee
from playhouse.migrate import SchemaMigrator
from playhouse.migrate import migrate as migrate_schema

from domain import logs
from storage import account_names, models
from storage.models import (AuditEvent, Blob, BlobChunk, Document, DocumentShare, DocumentSnapshot, DocumentUpdate,
                            EmailVerification, FileShare, IncomingWebhook, JobCursor, Message, Notification,
                            PasswordReset, PushSubscription, Reaction, Room, RoomMember, UploadedFile, Webhook,
                            WebhookDelivery)
from storage.search import create_index as create_search_index

log = logging.getLogger("confab.storage")


@dataclass(frozen=True)
class Migration:
    version: int
    name: str
    apply: Callable[[peewee.Database], None]


def _accounts(db: peewee.Database) -> None:
    db.create_tables([models.User, models.RefreshToken, models.ApiKey])


def _documents(db: peewee.Database) -> None:
    db.create_tables([Document, DocumentShare, DocumentUpdate, DocumentSnapshot])


def _chat(db: peewee.Database) -> None:
    db.create_tables([Room, RoomMember, Message, Reaction])


def _files(db: peewee.Database) -> None:
    db.create_tables([UploadedFile, FileShare])


def _notifications(db: peewee.Database) -> None:
    db.create_tables([Notification])


def _webhooks(db: peewee.Database) -> None:
    db.create_tables([Webhook, WebhookDelivery])


def _lookup_indexes(db: peewee.Database) -> None:
    """Deleting or editing a message rewrites its notifications' snippets (by message), and the blob
    collector asks whether any file still uses a blob as its thumbnail."""
    db.execute_sql("CREATE INDEX IF NOT EXISTS notification_message ON notification (message_id)")
    db.execute_sql("CREATE INDEX IF NOT EXISTS uploaded_file_thumbnail ON uploaded_file (thumbnail_sha256)")


def _server_admins(db: peewee.Database) -> None:
    """The server-admin flag on users. A database created at version 1 by this code has it already
    (migration 1 creates the current model), one created before does not."""
    if "is_server_admin" not in {column.name for column in db.get_columns(models.User._meta.table_name)}:
        migrate_schema(SchemaMigrator.from_database(db).add_column(
            models.User._meta.table_name, "is_server_admin", peewee.BooleanField(default=False)))


def _revocation_indexes(db: peewee.Database) -> None:
    """Every instance asks each second what was revoked since its last look."""
    db.execute_sql("CREATE INDEX IF NOT EXISTS refresh_token_revoked_at ON refresh_token (revoked_at)")
    db.execute_sql("CREATE INDEX IF NOT EXISTS api_key_revoked_at ON api_key (revoked_at)")


def _add_columns(db: peewee.Database, table: str, fields: dict[str, peewee.Field]) -> None:
    """Add the columns a database created before them lacks (one created since has them: migration 1
    and 3 create the tables from the current models)."""
    present = {column.name for column in db.get_columns(table)}
    migrator = SchemaMigrator.from_database(db)
    migrate_schema(*[migrator.add_column(table, name, field) for name, field in fields.items()
                     if name not in present])


def _bots(db: peewee.Database) -> None:
    _add_columns(db, models.User._meta.table_name, {
        "bot_owner_id": peewee.ForeignKeyField(models.User, null=True, on_delete="SET NULL", field=models.User.id),
        "deactivated_at": peewee.DateTimeField(null=True)})
    db.execute_sql('CREATE INDEX IF NOT EXISTS "user_bot_owner_id" ON "user" ("bot_owner_id")')
    _add_columns(db, Message._meta.table_name, {"display_name": peewee.CharField(max_length=64, null=True)})


def _incoming_webhooks(db: peewee.Database) -> None:
    db.create_tables([IncomingWebhook])


def _blobs(db: peewee.Database) -> None:
    db.create_tables([Blob, BlobChunk])


def _account_lifecycle(db: peewee.Database) -> None:
    """Profile fields and suspension on users; password resets and the audit log."""
    _add_columns(db, models.User._meta.table_name, {
        "status_text": peewee.CharField(max_length=140, null=True),
        "avatar_file_id": peewee.CharField(max_length=36, null=True),
        "suspended_at": peewee.DateTimeField(null=True)})
    db.execute_sql('CREATE INDEX IF NOT EXISTS "user_suspended_at" ON "user" ("suspended_at")')
    db.create_tables([PasswordReset, AuditEvent])


def _digests(db: peewee.Database) -> None:
    """Who opted out of e-mail digests, and what the last digest covered."""
    _add_columns(db, models.User._meta.table_name, {"digest_opted_out_at": peewee.DateTimeField(null=True),
                                                    "digest_sent_at": peewee.DateTimeField(null=True)})


def _email_verification(db: peewee.Database) -> None:
    """Verified addresses and their codes. Accounts that exist now predate verification: they count as
    verified, so turning ``auth.email_verification`` on does not lock them out."""
    _add_columns(db, models.User._meta.table_name, {"email_verified_at": peewee.DateTimeField(null=True)})
    models.User.update(email_verified_at=models.User.created_at).where(
        models.User.email_verified_at.is_null()).execute()
    db.create_tables([EmailVerification])


def _push(db: peewee.Database) -> None:
    db.create_tables([PushSubscription])


def _job_cursors(db: peewee.Database) -> None:
    """Where the push job got to, kept across restarts and lease moves; it reads notifications in
    creation order every second, which the index serves."""
    db.create_tables([JobCursor])
    db.execute_sql("CREATE INDEX IF NOT EXISTS notification_created_at ON notification (created_at, id)")


MIGRATION_LOCK = 0x636F6E666162  # "confab": the PostgreSQL advisory lock key held while migrating

MIGRATIONS: list[Migration] = [
    Migration(1, "accounts: users, refresh tokens, api keys", _accounts),
    Migration(2, "documents: documents, shares, update log, snapshots", _documents),
    Migration(3, "chat: rooms, members, messages, reactions", _chat),
    Migration(4, "files: uploaded files, the rooms they were shared in", _files),
    Migration(5, "search: full-text index over messages", create_search_index),
    Migration(6, "notifications: mentions, DMs, replies, disabled webhooks", _notifications),
    Migration(7, "webhooks: webhooks and their pending deliveries", _webhooks),
    Migration(8, "accounts: usernames and e-mails unique whatever their case", account_names.normalise),
    Migration(9, "lookup indexes: notifications by message, files by thumbnail", _lookup_indexes),
    Migration(10, "users: server-admin flag", _server_admins),
    Migration(12, "bots: users.bot_owner_id, users.deactivated_at; message.display_name", _bots),
    Migration(13, "incoming webhooks: a secret URL posting into a room as its bot", _incoming_webhooks),
    Migration(14, "accounts: index revocation times (every instance looks for new ones each second)",
              _revocation_indexes),
    Migration(15, "files: blobs and their chunks in the database (files.backend = postgresql)", _blobs),
    Migration(16, "accounts: profile, suspension, password resets, audit log", _account_lifecycle),
    Migration(17, "users: e-mail digest opt-out and the time the last digest covered", _digests),
    Migration(18, "users: verified e-mail addresses and their codes", _email_verification),
    Migration(19, "push: Web Push subscriptions", _push),
    Migration(20, "jobs: cursors (where push.dispatch got to); notifications by creation time", _job_cursors),
]


def current_version(db: peewee.Database) -> int:
    if not db.table_exists(models.SchemaVersion._meta.table_name):
        return 0
    return models.SchemaVersion.select(peewee.fn.MAX(models.SchemaVersion.version)).scalar() or 0


def pending(db: peewee.Database, migrations: list[Migration] | None = None) -> list[Migration]:
    """The migrations not recorded in ``db`` yet, in the order they would run."""
    applied: set[int] = set()
    if db.table_exists(models.SchemaVersion._meta.table_name):
        applied = {row.version for row in models.SchemaVersion.select(models.SchemaVersion.version)}
    return sorted((m for m in (MIGRATIONS if migrations is None else migrations) if m.version not in applied),
                  key=lambda m: m.version)


def migrate(db: peewee.Database, migrations: list[Migration] | None = None) -> int:
    """Apply every migration newer than the stored version; returns the resulting version."""
    migrations = MIGRATIONS if migrations is None else migrations
    with db.connection_context():
        if isinstance(db, peewee.PostgresqlDatabase):  # instances starting together migrate one at a time
            db.execute_sql("SELECT pg_advisory_lock(%s)", (MIGRATION_LOCK,))
        try:
            return _apply_pending(db, migrations)
        finally:
            if isinstance(db, peewee.PostgresqlDatabase):
                db.execute_sql("SELECT pg_advisory_unlock(%s)", (MIGRATION_LOCK,))


def _apply_pending(db: peewee.Database, migrations: list[Migration]) -> int:
    """Apply, in order, every migration not recorded yet (not only those above the highest recorded:
    a migration numbered below one already applied, from work that landed later, is applied too)."""
    db.create_tables([models.SchemaVersion])
    applied = {row.version for row in models.SchemaVersion.select(models.SchemaVersion.version)}
    for migration in sorted(migrations, key=lambda m: m.version):
        if migration.version in applied:
            continue
        with db.atomic():
            migration.apply(db)
            models.SchemaVersion.create(version=migration.version, name=migration.name)
        logs.event(log, "migration.applied", version=migration.version, name=migration.name)
    return current_version(db)
