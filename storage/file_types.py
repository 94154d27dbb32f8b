"""What an upload is: the content type a client declares, checked against the configured list and
then against the bytes themselves.

A type Confab can verify (the images Pillow reads, PDF, UTF-8 text) is stored and served as such once
the bytes prove it. Any other type an operator allows is stored and served as
``application/octet-stream``: a client's claim alone never decides how a browser treats a file.
"""
from __future__ import annotations

import codecs
import mimetypes
import unicodedata
from pathlib import Path

from domain.errors import BadRequest
from storage import thumbnails

OCTET_STREAM = "application/octet-stream"
PDF, TEXT = "application/pdf", "text/plain"
VERIFIABLE = frozenset(thumbnails.FORMATS) | {PDF, TEXT}
MAX_NAME_CHARS = 200
_CHUNK = 64 * 1024


def _rejected(message: str) -> BadRequest:
    return BadRequest(message, {"fields": {"file": [message]}})


def allowed_types(spec: str) -> frozenset[str]:
    """``files.allowed_types`` as a set of normalized content types."""
    return frozenset(filter(None, (normalize(item) for item in spec.split(","))))


def normalize(content_type: str | None) -> str:
    """``Image/PNG; charset=x`` → ``image/png``; empty when absent."""
    return (content_type or "").split(";", 1)[0].strip().lower()


def declared_type(content_type: str | None, file_name: str, allowed: frozenset[str]) -> str:
    """The type the client declares (or, when it sends none or octet-stream, the one its file name
    suggests); BAD_REQUEST unless it is allowed."""
    declared = normalize(content_type)
    if declared in ("", OCTET_STREAM):
        declared = normalize(mimetypes.guess_type(file_name, strict=False)[0]) or declared or OCTET_STREAM
    if declared not in allowed:
        raise _rejected(f"content type {declared!r} is not accepted")
    return declared


def safe_name(raw: str | None) -> str:
    """The client's file name reduced to a display name: no folders, no control or format characters,
    NFC, at most ``MAX_NAME_CHARS`` characters (keeping the extension). Never used in a path."""
    name = (raw or "").replace("\\", "/").rsplit("/", 1)[-1]
    name = unicodedata.normalize("NFC", name)
    name = "".join(ch for ch in name if unicodedata.category(ch)[0] not in "CZ" or ch == " ")
    name = name.strip(" .")
    if len(name) > MAX_NAME_CHARS:
        stem, dot, ext = name.rpartition(".")
        suffix = "." + ext if dot and stem and len(ext) <= 16 else ""
        name = name[:MAX_NAME_CHARS - len(suffix)] + suffix
    return name or "file"


def verify(path: Path, content_type: str) -> tuple[str, bytes | None]:
    """Check the bytes at ``path`` against ``content_type`` (blocking: run it on a thread).

    Returns the type to store and serve, and a thumbnail for images; BAD_REQUEST when the bytes are
    not what the type says.
    """
    if content_type in thumbnails.FORMATS:
        try:
            return content_type, thumbnails.thumbnail(path, content_type)
        except thumbnails.BadImage as exc:
            raise _rejected(str(exc)) from None
    if content_type == PDF:
        with path.open("rb") as handle:
            if b"%PDF-" not in handle.read(1024):
                raise _rejected("not a PDF document")
        return PDF, None
    if content_type == TEXT:
        _check_utf8(path)
        return TEXT, None
    return OCTET_STREAM, None


def _check_utf8(path: Path) -> None:
    decoder = codecs.getincrementaldecoder("utf-8")()
    try:
        with path.open("rb") as handle:
            while chunk := handle.read(_CHUNK):
                if b"\x00" in chunk:
                    raise _rejected("text file contains NUL bytes")
                decoder.decode(chunk)
            decoder.decode(b"", final=True)
    except UnicodeDecodeError:
        raise _rejected("text file is not UTF-8") from None
