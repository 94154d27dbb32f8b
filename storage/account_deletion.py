"""A person deletes their own account. The row stays, renamed "deleted user" with no e-mail, password,
profile or sign-ins, as the author of their messages (deleting it would delete the messages and leave
holes in the rooms' seqs, as for bots). Everything else that was theirs goes: room memberships, API keys,
sign-ins, notifications, webhooks, pending resets, document shares granted to them, files never shared
in a room, and their bots. Documents they own are transferred to an heir or deleted, as they chose.
"""
from __future__ import annotations

from dataclasses import dataclass, field

from domain.errors import BadRequest, Conflict
from storage import account_admin, accounts, bots
from storage.db import serialize, unit_of_work
from storage.documents import delete_document
from storage.models import (Document, DocumentShare, FileShare, Notification, PasswordReset, UploadedFile, User,
                            Webhook, utcnow)

DELETED_NAME = "deleted user"


@dataclass
class Deleted:
    """What the rest of the server must hear about: rooms each account left, documents gone or moved."""
    rooms_left: dict[str, list[str]] = field(default_factory=dict)  # the user's and their bots' ids → rooms
    documents_deleted: list[str] = field(default_factory=list)
    documents_transferred: list[str] = field(default_factory=list)
    families: list[str] = field(default_factory=list)


def heir_for(user_id: str, username: str | None) -> str:
    """The active person ``username`` names, to receive the documents; BAD_REQUEST naming ``transfer_to``."""
    heir = accounts.find_by_username(username) if username else None
    if heir is None or heir.id == user_id or heir.is_bot or heir.deactivated_at or heir.suspended_at:
        raise BadRequest("name another active user to receive your documents",
                         {"fields": {"transfer_to": ["not an active user other than you"]}})
    return heir.id


def delete_account(user_id: str, heir_id: str | None) -> Deleted:
    """Delete the person's account; their documents go to ``heir_id``, or are deleted without one. The
    last server admin who can sign in is a CONFLICT, as for revoking the role: nobody would be left."""
    now = utcnow()
    deleted = Deleted()
    owned = [d.id for d in Document.select(Document.id).where(Document.owner == user_id)]
    with unit_of_work():
        serialize(accounts.ADMINS_LOCK)
        if account_admin.last_admin(user_id):
            raise Conflict("the last server admin cannot delete their account; make another user admin first")
        if heir_id is not None:
            DocumentShare.delete().where(DocumentShare.document.in_(owned) & (DocumentShare.user == heir_id)).execute()
            Document.update(owner=heir_id).where(Document.id.in_(owned)).execute()
            deleted.documents_transferred = owned
        else:
            for document_id in owned:
                delete_document(document_id)
            deleted.documents_deleted = owned
        for bot in User.select(User.id).where((User.bot_owner == user_id) & User.deactivated_at.is_null()):
            deleted.rooms_left[bot.id] = bots.deactivate(bot.id)
        deleted.rooms_left[user_id] = bots.deactivate(user_id)
        deleted.families = accounts.revoke_sign_ins(user_id, now)
        for model in (Notification, Webhook, PasswordReset, DocumentShare):
            model.delete().where(model.user == user_id).execute()
        shared = FileShare.select(FileShare.file)
        UploadedFile.delete().where((UploadedFile.uploader == user_id) & UploadedFile.id.not_in(shared)).execute()
        User.update(username=f"deleted-{user_id.replace('-', '')[:24]}", email=f"{user_id}@deleted.invalid",
                    display_name=DELETED_NAME, password_hash=bots.NO_PASSWORD, status_text=None, is_server_admin=False,
                    avatar_file_id=None, digest_opted_out_at=now, updated_at=now).where(User.id == user_id).execute()
    return deleted
