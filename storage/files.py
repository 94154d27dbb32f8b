"""Uploaded files: their metadata, the rooms each was shared in, who may read one, and the
attachment objects messages carry. The bytes themselves are blobs in ``storage.blob_store``.

A file is readable by its uploader and by the members of any room where a message attached it;
to anyone else it does not exist (NOT_FOUND, never FORBIDDEN). Many uploads of the same bytes are
many file rows over one blob, and each uploader's rows count against ``files.user_quota_bytes``.

The ``file_url``/``thumbnail_url`` of the objects sent to clients are short-lived signed links
(``domain.file_links``) under the grant that lets the reader see the file: the room of the message
carrying it, or the uploader for the upload answer. Messages store plain ``/files/{id}`` paths; links
are signed when a message is rendered (``signed_attachments``).
"""
from __future__ import annotations

import functools
import json
import operator
from typing import Any

import peewee

from domain.errors import BadRequest, Forbidden, NotFound, PayloadTooLarge
from domain.file_links import FileLinks
from storage import file_types
from storage.blob_store import BlobStore, PendingBlob
from storage.models import FileShare, Message, RoomMember, UploadedFile
from storage.db import reading, unit_of_work

MAX_ATTACHMENTS = 10


_links: FileLinks | None = None


def configure_links(links: FileLinks) -> None:
    """Sign file URLs with ``links`` (bootstrap; the last server started in a process wins)."""
    global _links
    _links = links


def _url(file_id: str, kind: str, grant: str | None) -> str:
    if grant is None or _links is None:
        return f"/files/{file_id}/thumbnail" if kind == "thumbnail" else f"/files/{file_id}"
    return _links.url(file_id, kind, grant)


def uploader_link(file_id: str, uploader_id: str) -> str:
    """A signed link to a file under its uploader's grant (an avatar: whoever sees the user may load it)."""
    return _url(file_id, "file", f"user:{uploader_id}")


def own_image(user_id: str, file_id: str, field: str) -> UploadedFile:
    """An image ``user_id`` uploaded, or BAD_REQUEST naming ``field``."""
    with reading():
        row = UploadedFile.get_or_none((UploadedFile.id == file_id) & (UploadedFile.uploader == user_id))
    if row is None or not row.content_type.startswith("image/"):
        raise BadRequest("not an image you uploaded", {"fields": {field: ["upload an image first (POST /upload)"]}})
    return row


def file_dict(f: UploadedFile, grant: str | None = None) -> dict[str, Any]:
    """The upload answer, and the attachment object inside messages (docs/protocol.md); links signed under
    ``grant``, plain paths without one (as stored in messages)."""
    return {"file_id": f.id, "file_name": f.file_name, "content_type": f.content_type, "file_size": f.file_size,
            "sha256": f.sha256, "file_url": _url(f.id, "file", grant),
            "thumbnail_url": _url(f.id, "thumbnail", grant) if f.thumbnail_sha256 else None}


def signed_attachments(attachments: list[dict[str, Any]], room_id: str) -> list[dict[str, Any]]:
    """A message's stored attachment objects with links its room's members can load."""
    grant = f"room:{room_id}"
    return [{**a, "file_url": _url(a["file_id"], "file", grant),
             "thumbnail_url": a["thumbnail_url"] and _url(a["file_id"], "thumbnail", grant)} for a in attachments]


def save_upload(store: BlobStore, pending: PendingBlob, uploader_id: str, file_name: str,
                declared_type: str, quota: int) -> dict[str, Any]:
    """Verify the bytes received into ``pending``, move them (and an image's thumbnail) into the
    store and record the file; BAD_REQUEST, with nothing stored, when the bytes are not what
    ``declared_type`` says."""
    pending.flush()
    check_quota(uploader_id, pending.size, quota)  # before anything is stored (concurrent uploads may overrun it)
    twin = _verified_twin(store, pending.sha256, declared_type)
    if twin is not None:  # the same bytes under the same type passed already: no second decode
        content_type, thumbnail_sha = twin.content_type, twin.thumbnail_sha256
    else:
        content_type, thumb = store.run_blocking(file_types.verify, pending.temp_path, declared_type)
        thumbnail_sha = store.put(thumb) if thumb else None
    digest = pending.commit()
    with unit_of_work():
        row = UploadedFile.create(uploader=uploader_id, file_name=file_name, content_type=content_type,
                                  file_size=pending.size, sha256=digest, thumbnail_sha256=thumbnail_sha)
    return file_dict(row, f"user:{uploader_id}")


def check_quota(uploader_id: str, size: int, quota: int) -> None:
    """PAYLOAD_TOO_LARGE when ``size`` more bytes would take the uploader's files past ``quota`` (0: none)."""
    if not quota:
        return
    with reading():
        used = UploadedFile.select(peewee.fn.COALESCE(peewee.fn.SUM(UploadedFile.file_size), 0)).where(
            UploadedFile.uploader == uploader_id).scalar()
    if used + size > quota:
        raise PayloadTooLarge("upload quota exceeded", {"quota_bytes": quota, "used_bytes": int(used)})


def _verified_twin(store: BlobStore, sha256: str, declared_type: str) -> UploadedFile | None:
    if declared_type not in file_types.VERIFIABLE:
        return None
    with reading():
        twin = UploadedFile.get_or_none((UploadedFile.sha256 == sha256) & (UploadedFile.content_type == declared_type))
    if twin is None or (twin.thumbnail_sha256 and not store.exists(twin.thumbnail_sha256)):
        return None
    return twin


def _readable_by(user_id: str) -> peewee.Expression:
    rooms = RoomMember.select(RoomMember.room).where(RoomMember.user == user_id)
    shared = FileShare.select(FileShare.file).where(FileShare.room.in_(rooms))
    return (UploadedFile.uploader == user_id) | UploadedFile.id.in_(shared)


def linked_file(file_id: str, kind: str, grant: str, expires: str, signature: str) -> UploadedFile:
    """The file a signed link names, while its grant holds (the room still shares it, or it is the
    uploader's); NOT_FOUND for a forged link or a revoked grant, FORBIDDEN for an expired one."""
    problem = "invalid" if _links is None else _links.check(file_id, kind, grant, expires, signature)
    if problem == "expired":
        raise Forbidden("this file link has expired; load the message again for a fresh one")
    holder, _, holder_id = grant.partition(":")
    if problem or holder not in ("room", "user"):
        raise NotFound("file not found")
    grant_holds = (UploadedFile.id.in_(FileShare.select(FileShare.file).where(FileShare.room == holder_id))
                   if holder == "room" else UploadedFile.uploader == holder_id)
    with reading():
        row = UploadedFile.select().where((UploadedFile.id == file_id) & grant_holds).first()
    if row is None:
        raise NotFound("file not found")
    return row


def readable_file(user_id: str, file_id: str) -> UploadedFile:
    """The file if ``user_id`` may read it; NOT_FOUND otherwise, whether or not it exists."""
    with reading():
        row = UploadedFile.select().where((UploadedFile.id == file_id) & _readable_by(user_id)).first()
    if row is None:
        raise NotFound("file not found")
    return row


# --- attachments (inside the chat writer's transaction) -----------------------------------------------

def attachments_for(user_id: str, file_ids: list[str]) -> list[dict[str, Any]]:
    """The attachment objects of a message ``user_id`` sends with ``file_ids`` (each a file they
    uploaded or can already read); NOT_FOUND naming the field otherwise. No query without ids."""
    wanted = list(dict.fromkeys(file_ids))
    if not wanted:
        return []
    if len(wanted) > MAX_ATTACHMENTS:
        raise BadRequest("too many attachments", {"fields": {"attachments": [f"at most {MAX_ATTACHMENTS}"]}})
    found = {f.id: f for f in UploadedFile.select().where(UploadedFile.id.in_(wanted) & _readable_by(user_id))}
    missing = [file_id for file_id in wanted if file_id not in found]
    if missing:
        raise NotFound("attachment not found", {"fields": {"attachments": [f"no such file: {i}" for i in missing]}})
    return [file_dict(found[file_id]) for file_id in wanted]


def unshare(file_ids: list[str], room_id: str, message_id: str) -> None:
    """Inside the caller's transaction, when ``message_id`` stops carrying ``file_ids``: the room's members
    lose access to each of them, unless another message of the room still attaches it."""
    if not file_ids:
        return
    carried = (Message.select(Message.attachments)
               .where((Message.room == room_id) & (Message.id != message_id) & (Message.attachments != "[]")
                      & functools.reduce(operator.or_, (Message.attachments.contains(f) for f in file_ids))))
    still = {a["file_id"] for m in carried for a in json.loads(m.attachments)}
    gone = [f for f in file_ids if f not in still]
    if gone:
        FileShare.delete().where((FileShare.room == room_id) & FileShare.file.in_(gone)).execute()


def record_shares(rows: list[dict[str, Any]]) -> None:
    """Share each attached file with the room of the message row that carries it (batch rows:
    ``room`` and the ``attachments`` JSON), in one statement; shares already recorded are kept."""
    pairs = {(a["file_id"], row["room"]) for row in rows for a in json.loads(row["attachments"])}
    if pairs:
        FileShare.insert_many([{"file": f, "room": r} for f, r in sorted(pairs)]).on_conflict_ignore().execute()
