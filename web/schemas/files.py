"""Schemas of the Files routes: the upload answer, which is also the attachment object of messages."""
from __future__ import annotations

from marshmallow import Schema, fields


class FileSchema(Schema):
    file_id = fields.String(required=True)
    file_name = fields.String(required=True, metadata={"description": "the client's name, without folders"})
    content_type = fields.String(required=True, metadata={
        "description": "the verified type it is served with; unverifiable types are application/octet-stream"})
    file_size = fields.Integer(required=True)
    sha256 = fields.String(required=True)
    file_url = fields.String(required=True, metadata={"description": "/files/{file_id}"})
    thumbnail_url = fields.String(required=True, allow_none=True,
                                  metadata={"description": "/files/{file_id}/thumbnail; null for non-images"})


#: The multipart body of ``POST /api/v1/upload`` for OpenAPI (the route streams it itself).
UPLOAD_BODY = {"required": True, "content": {"multipart/form-data": {"schema": {
    "type": "object", "required": ["file"],
    "properties": {"file": {"type": "string", "format": "binary"}}}}}}

#: OpenAPI for the two GETs: raw bytes, the ``?token=`` alternative to the header, conditional requests.
DOWNLOAD_DOC = {
    "parameters": [{"in": "query", "name": "token", "required": False, "schema": {"type": "string"},
                    "description": "access token or API key, for clients that cannot send headers (<img>)"}],
    "responses": {
        "200": {"description": "the bytes, with ETag = sha256 and Cache-Control: private",
                "content": {"application/octet-stream": {"schema": {"type": "string", "format": "binary"}}}},
        "304": {"description": "If-None-Match matched the ETag"},
        "404": {"description": "no such file, or the caller may not read it"},
    },
}
