"""Every peewee model, in one place: one module per feature (accounts, chat, documents, files,
notifications, webhooks, singleton jobs) on a shared base. The repositories beside this package
(``storage/<feature>.py``) hold the queries and the rules; import models from here."""
from storage.models.accounts import (BOT_SUFFIX, AccountRename, ApiKey, AuditEvent, EmailVerification, PasswordReset,
                                     RefreshToken, User, UserToken, is_bot_username)
from storage.models.base import BaseModel, SchemaVersion, new_id, utcnow
from storage.models.chat import Message, Reaction, Room, RoomMember
from storage.models.documents import Document, DocumentShare, DocumentSnapshot, DocumentUpdate
from storage.models.files import Blob, BlobChunk, FileShare, UploadedFile
from storage.models.jobs import JobCursor
from storage.models.notifications import Notification, PushSubscription
from storage.models.webhooks import IncomingWebhook, Webhook, WebhookDelivery

__all__ = ["AccountRename", "ApiKey", "AuditEvent", "BOT_SUFFIX", "BaseModel", "Blob", "BlobChunk",
           "Document", "DocumentShare", "DocumentSnapshot", "DocumentUpdate", "EmailVerification",
           "FileShare", "IncomingWebhook", "JobCursor", "Message", "Notification", "PasswordReset",
           "PushSubscription", "Reaction", "RefreshToken", "Room", "RoomMember", "SchemaVersion", "UploadedFile",
           "User", "UserToken", "Webhook", "WebhookDelivery", "is_bot_username", "new_id", "utcnow"]
