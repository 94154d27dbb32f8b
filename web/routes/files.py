"""Files: ``POST /api/v1/upload`` streams one multipart file into the blob store; ``GET /files/{id}``
and ``GET /files/{id}/thumbnail`` serve it to its uploader and to members of rooms where it was shared.

The upload has its own body limit (``files.max_upload_bytes``, not the app-wide one): a declared
length over it, or over what is left of the uploader's ``files.user_quota_bytes``, is refused before
a byte is read, and the file part is counted as it streams in. The GETs take the signed links of
``file_url``/``thumbnail_url`` (an ``<img>`` cannot send headers) or the ``Authorization`` header.
Rules live in ``storage.files`` and ``storage.file_types``; these views translate.
"""
from __future__ import annotations

import logging
from pathlib import PurePath
from typing import IO, Any

from flask import Response, request, send_file
from werkzeug.exceptions import RequestEntityTooLarge
from werkzeug.formparser import FormDataParser

from domain import logs
from domain.errors import BadRequest, DomainError, NotFound, PayloadTooLarge, Unavailable, UnsupportedMediaType
from storage import file_types, files
from storage.blob_store import BlobStore, PendingBlob
from storage.models import UploadedFile
from storage.thumbnails import THUMBNAIL_TYPE
from web.middleware import signed_or_authenticated
from web.openapi import Blueprint, answers
from web.schemas import examples
from web.schemas.files import DOWNLOAD_DOC, THUMBNAIL_DOC, UPLOAD_BODY, FileSchema
from web.services import principal, services

log = logging.getLogger("confab.files")

blp = Blueprint("files", __name__, description="Uploaded files and message attachments")

MULTIPART_SLACK = 64 * 1024  # boundary lines and part headers around the file
MAX_PARTS = 8
MAX_FIELD_BYTES = 256 * 1024  # also bounds the parser's look-ahead buffer: keep it over 64 KiB
CACHE_MAX_AGE_S = 3600


def _missing_file() -> BadRequest:
    return BadRequest("invalid request", {"fields": {"file": ["Missing data for required field."]}})


class _Receiver:
    """The parser's stream factory: the one file part goes straight into a pending blob, once its
    declared type is accepted (so a refused type costs no disk)."""

    def __init__(self, store: BlobStore, limit: int, allowed: frozenset[str]) -> None:
        self.store, self.limit, self.allowed = store, limit, allowed
        self.pending: PendingBlob | None = None
        self.file_name = self.content_type = ""

    def open(self, total_content_length: int | None, content_type: str | None, filename: str | None,
             content_length: int | None = None) -> IO[bytes]:
        if self.pending is not None:
            raise BadRequest("one file per upload", {"fields": {"file": ["send one file per upload"]}})
        self.file_name = file_types.safe_name(filename)
        self.content_type = file_types.declared_type(content_type, self.file_name, self.allowed)
        self.pending = self.store.begin(self.limit)
        return self.pending  # type: ignore[return-value]  # write/seek are all the parser uses

    def discard(self) -> None:
        if self.pending is not None:
            self.pending.discard()


@blp.route("/api/v1/upload", methods=["POST"])
@blp.doc(requestBody=UPLOAD_BODY)
@blp.response(201, FileSchema, example=examples.FILE)
def upload() -> dict[str, Any]:
    """Upload one file (multipart field ``file``); attach it to messages with its ``file_id``."""
    config = services().config.files
    try:
        return _receive(config.max_upload_bytes, file_types.allowed_types(config.allowed_types))
    except DomainError as exc:
        if exc.status < 500:  # server-side failures are logged where they happen
            logs.event(log, "file.upload_refused", logging.INFO, code=exc.code, reason=exc.message,
                       content_length=request.content_length)
        raise


def _receive(limit: int, allowed: frozenset[str]) -> dict[str, Any]:
    if request.mimetype != "multipart/form-data":
        raise UnsupportedMediaType("the file must be sent as multipart/form-data",
                                   {"fields": {"file": ["send the file as multipart/form-data"]}})
    request.max_content_length = limit + MULTIPART_SLACK
    if (request.content_length or 0) > request.max_content_length:
        raise PayloadTooLarge(f"file larger than {limit} bytes", {"max_upload_bytes": limit})
    quota = services().config.files.user_quota_bytes
    files.check_quota(principal().user_id, max(0, (request.content_length or 0) - MULTIPART_SLACK), quota)
    receiver = _Receiver(services().blobs, limit, allowed)
    parser = FormDataParser(receiver.open, max_form_memory_size=MAX_FIELD_BYTES, max_form_parts=MAX_PARTS,
                            silent=False)
    try:
        try:
            _, _, parts = parser.parse(request.stream, request.mimetype, request.content_length,
                                       request.mimetype_params)
        except RequestEntityTooLarge:  # the body's own limit, a form field or too many parts
            raise PayloadTooLarge("upload too large", {"max_upload_bytes": limit}) from None
        except ValueError:
            raise BadRequest("malformed multipart body", {"fields": {"file": ["not a valid multipart body"]}}) from None
        if "file" not in parts or receiver.pending is None:
            raise _missing_file()
        if receiver.pending.size == 0:
            raise BadRequest("empty file", {"fields": {"file": ["the file is empty"]}})
        return files.save_upload(receiver.store, receiver.pending, principal().user_id, receiver.file_name,
                                 receiver.content_type, quota)
    except OSError as exc:  # the disk (or the client's connection) failed mid-way
        logs.event(log, "file.upload_failed", logging.ERROR, error=str(exc))
        raise Unavailable("could not store the file") from None
    finally:
        receiver.discard()


@blp.route("/files/<file_id>", methods=["GET"])
@blp.doc(**DOWNLOAD_DOC)
@answers(403)
@signed_or_authenticated
def download(file_id: str) -> Response:
    """The file's bytes, to its uploader and to members of rooms where it was shared."""
    f = _readable(file_id, "file")
    return _send(f.sha256, f.content_type, f.file_name)


@blp.route("/files/<file_id>/thumbnail", methods=["GET"])
@blp.doc(**THUMBNAIL_DOC)
@answers(403)
@signed_or_authenticated
def thumbnail(file_id: str) -> Response:
    """A WebP thumbnail (at most 320×320) of an image file; NOT_FOUND for other files."""
    f = _readable(file_id, "thumbnail")
    if not f.thumbnail_sha256:
        raise NotFound("this file has no thumbnail")
    return _send(f.thumbnail_sha256, THUMBNAIL_TYPE, PurePath(f.file_name).stem + ".webp")


def _readable(file_id: str, kind: str) -> UploadedFile:
    if "sig" in request.args:
        link = request.args
        return files.linked_file(file_id, kind, link.get("grant", ""), link.get("expires", ""), link["sig"])
    return files.readable_file(principal().user_id, file_id)


def _send(sha256: str, content_type: str, file_name: str) -> Response:
    """Stream a blob from the store: its verified type (anything else as octet-stream, downloaded), ETag =
    digest (304 on If-None-Match), byte ranges, private caching, no sniffing, and a safe RFC 5987 file name."""
    served = content_type if content_type in file_types.VERIFIABLE else file_types.OCTET_STREAM
    inline = served.startswith("image/") or served == file_types.TEXT
    try:
        reader, size = services().blobs.open(sha256)
    except FileNotFoundError:
        logs.event(log, "file.blob_missing", logging.ERROR, sha256=sha256)
        raise NotFound("file not found") from None
    response = send_file(reader, mimetype=served, as_attachment=not inline, download_name=file_name, etag=sha256,
                         conditional=False)
    response.content_length = size
    response = response.make_conditional(request, accept_ranges=True, complete_length=size)
    response.headers["Cache-Control"] = f"private, max-age={CACHE_MAX_AGE_S}"
    response.headers["X-Content-Type-Options"] = "nosniff"
    response.headers["Content-Security-Policy"] = "sandbox"
    return response
