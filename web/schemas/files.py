"""Schemas of the Files routes: the upload answer, which is also the attachment object of messages."""
from __future__ import annotations

from marshmallow import Schema, fields

from storage.file_types import OCTET_STREAM, VERIFIABLE
from storage.thumbnails import THUMBNAIL_TYPE


class FileSchema(Schema):
    file_id = fields.String(required=True)
    file_name = fields.String(required=True, metadata={"description": "the client's name, without folders"})
    content_type = fields.String(required=True, metadata={
        "description": "the verified type it is served with; unverifiable types are application/octet-stream"})
    file_size = fields.Integer(required=True)
    sha256 = fields.String(required=True)
    file_url = fields.String(required=True, metadata={
        "description": "/files/{file_id}?grant=…&expires=…&sig=…: a signed link valid for an hour or more"})
    thumbnail_url = fields.String(required=True, allow_none=True, metadata={
        "description": "/files/{file_id}/thumbnail?…, signed like file_url; null for non-images"})


#: The multipart body of ``POST /api/v1/upload`` for OpenAPI (the route streams it itself).
UPLOAD_BODY = {"required": True, "content": {"multipart/form-data": {"schema": {
    "type": "object", "required": ["file"],
    "properties": {"file": {"type": "string", "format": "binary"}}}}}}

#: The content types ``GET /files/{id}`` answers: a verified type as such, anything else as octet-stream.
SERVED_TYPES = (*sorted(VERIFIABLE), OCTET_STREAM)

_LINK = [{"in": "query", "name": name, "required": False, "schema": {"type": "string"},
          "description": f"{name} of the signed link in file_url/thumbnail_url (for clients that cannot send "
                         "headers, such as <img>); without a link, the Authorization header"}
         for name in ("grant", "expires", "sig")]
_BYTES = {"schema": {"type": "string", "format": "binary"}}
_NOT_MODIFIED = {"description": "If-None-Match matched the ETag"}


def download_doc(content_types: tuple[str, ...], description: str) -> dict:
    """OpenAPI for a GET of raw bytes: the signed link as the alternative to the header, conditional
    requests (an expired link is a 403, declared on the view)."""
    return {"parameters": _LINK, "responses": {
        "200": {"description": description, "content": {t: _BYTES for t in content_types}},
        "304": _NOT_MODIFIED}}


DOWNLOAD_DOC = download_doc(SERVED_TYPES, "the bytes, with ETag = sha256 and Cache-Control: private; the "
                                          "verified type (text/plain with charset=utf-8), else octet-stream")
THUMBNAIL_DOC = download_doc((THUMBNAIL_TYPE,), "a WebP within 320×320, with ETag and Cache-Control: private")
