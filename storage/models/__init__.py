"""Every peewee model, in one place: one module per feature (accounts, chat, documents, files,
notifications, webhooks) on a shared base. The repositories beside this package (``storage/<feature>.py``)
hold the queries and the rules; import models from here."""
from storage.models.accounts import BOT_SUFFIX, AccountRename, ApiKey, RefreshToken, User, is_bot_username
from storage.models.base import BaseModel, SchemaVersion, new_id, utcnow
from storage.models.chat import Message, Reaction, Room, RoomMember
from storage.models.documents import Document, DocumentShare, DocumentSnapshot, DocumentUpdate
from storage.models.files import Blob, BlobChunk, FileShare, UploadedFile
from storage.models.notifications import Notification
from storage.models.webhooks import IncomingWebhook, Webhook, WebhookDelivery

__all__ = ["BOT_SUFFIX", "AccountRename", "ApiKey", "BaseModel", "Blob", "BlobChunk", "Document", "DocumentShare", "DocumentSnapshot",
           "DocumentUpdate", "FileShare", "IncomingWebhook", "Message", "Notification", "Reaction", "RefreshToken",
           "Room", "RoomMember", "SchemaVersion", "UploadedFile", "User", "Webhook", "WebhookDelivery",
           "is_bot_username", "new_id", "utcnow"]
