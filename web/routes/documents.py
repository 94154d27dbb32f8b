"""``/api/v1/documents``: documents, their history and versions, and shares.

Anyone without a role on a document gets NOT_FOUND (no existence leak); a role too low for the
action gets FORBIDDEN. Live sockets follow share changes and deletion through ``DocumentService``.
"""
from __future__ import annotations

from typing import Any

from domain.errors import BadRequest, Forbidden, NotFound
from storage import documents as store
from storage.models import Document, DocumentShare
from web.audit import audit
from web.cursors import paginate, read_cursor, time_and_id
from web.openapi import Blueprint, answers
from web.schemas import examples
from web.schemas.common import PageQuery, page_of
from web.schemas.documents import (DocumentCreateSchema, DocumentDetailSchema, DocumentSchema, HistoryItemSchema,
                                   DocumentHistoryQuery, ShareCreateSchema, ShareSchema, VersionSchema)
from web.services import principal, services

blp = Blueprint("documents", __name__, url_prefix="/api/v1/documents", description="Collaborative documents")


def _access(document_id: str, minimum: str) -> tuple[Document, str]:
    doc, role = store.access(document_id, principal().user_id)
    if store.role_rank(role) < store.role_rank(minimum):
        raise Forbidden(f"this needs the {minimum} role")
    return doc, role


@blp.route("", methods=["POST"])
@blp.arguments(DocumentCreateSchema, example=examples.DOCUMENT_CREATE)
@blp.response(201, DocumentSchema, example=examples.DOCUMENT)
def create(body: dict[str, Any]) -> dict[str, Any]:
    return store.document_dict(store.create_document(principal().user_id, body["title"].strip() or body["title"]),
                               "owner")


@blp.route("", methods=["GET"])
@blp.arguments(PageQuery, location="query")
@blp.response(200, page_of(DocumentSchema))
def list_documents(query: dict[str, Any]) -> dict[str, Any]:
    after = read_cursor(query["cursor"], time_and_id("created_at"))
    rows = store.list_documents(principal().user_id, query["limit"] + 1, after)
    rows, cursor = paginate(rows, query["limit"],
                            lambda last: {"created_at": last[0].created_at.isoformat(), "id": last[0].id})
    return {"items": [store.document_dict(doc, role) for doc, role in rows], "next_cursor": cursor}


@blp.route("/<document_id>", methods=["GET"])
@blp.response(200, DocumentDetailSchema, example=examples.DOCUMENT_DETAIL)
def get(document_id: str) -> dict[str, Any]:
    doc, role = _access(document_id, "viewer")
    return _detail(doc, role)


def _detail(doc: Document, role: str) -> dict[str, Any]:
    version, content = services().documents.content(doc.id)
    return {**store.document_dict(doc, role), "version": version, "content": content}


@blp.route("/<document_id>", methods=["PATCH"])
@answers(403)
@blp.arguments(DocumentCreateSchema)
@blp.response(200, DocumentSchema)
def rename(body: dict[str, Any], document_id: str) -> dict[str, Any]:
    _doc, role = _access(document_id, "editor")
    return store.document_dict(store.rename(document_id, body["title"]), role)


@blp.route("/<document_id>", methods=["DELETE"])
@answers(403)
@blp.response(204)
def delete(document_id: str) -> None:
    doc, _role = _access(document_id, "owner")
    store.delete_document(document_id)
    audit("document.deleted", document_id, title=doc.title)
    services().documents.deleted(document_id)


@blp.route("/<document_id>/history", methods=["GET"])
@blp.arguments(DocumentHistoryQuery, location="query")
@blp.response(200, page_of(HistoryItemSchema))
def history(query: dict[str, Any], document_id: str) -> dict[str, Any]:
    _access(document_id, "viewer")
    items, cursor = paginate(store.history(document_id, query["before"], query["limit"] + 1), query["limit"],
                             lambda last: str(last["version"]))
    return {"items": items, "next_cursor": cursor}


@blp.route("/<document_id>/versions/<int:version>", methods=["GET"])
@blp.response(200, VersionSchema)
def version_content(document_id: str, version: int) -> dict[str, Any]:
    doc, _role = _access(document_id, "viewer")
    if version > doc.version:
        raise NotFound("no such version")
    _version, content = services().documents.content(document_id, version)
    return {"document_id": document_id, "version": version, "content": content}


@blp.route("/<document_id>/versions/<int:version>/restore", methods=["POST"])
@answers(403)
@blp.response(200, DocumentDetailSchema)
def restore(document_id: str, version: int) -> dict[str, Any]:
    """An addition to the first contract: the old text comes back as one new update (a diff), never a rebuilt CRDT."""
    doc, role = _access(document_id, "editor")
    if version > doc.version:
        raise NotFound("no such version")
    services().documents.restore(document_id, version, principal().user_id)
    return _detail(doc, role)


@blp.route("/<document_id>/shares", methods=["GET"])
@blp.response(200, ShareSchema(many=True))
def list_shares(document_id: str) -> list[dict[str, Any]]:
    _access(document_id, "viewer")
    return [_share_dict(share, share.user.username) for share in store.list_shares(document_id)]


@blp.route("/<document_id>/shares", methods=["POST"])
@answers(403)
@blp.arguments(ShareCreateSchema)
@blp.response(201, ShareSchema)
def share(body: dict[str, Any], document_id: str) -> dict[str, Any]:
    doc, _role = _access(document_id, "owner")
    user_id = str(body["user_id"]) if "user_id" in body else None
    target = store.find_user(user_id, body.get("username"))
    if target.id == doc.owner_id:
        raise BadRequest("the owner already has every right", {"fields": {"user_id": ["is the owner"]}})
    created = store.upsert_share(document_id, target.id, body["role"])
    audit("document.shared", target.id, document_id=document_id, role=body["role"])
    services().documents.access_changed(document_id, target.id, body["role"])
    return _share_dict(created, target.username)


@blp.route("/<document_id>/shares/<user_id>", methods=["DELETE"])
@answers(403)
@blp.response(204)
def unshare(document_id: str, user_id: str) -> None:
    if user_id != principal().user_id:  # anyone may leave; only the owner removes others
        _access(document_id, "owner")
    else:
        _access(document_id, "viewer")
    if not store.remove_share(document_id, user_id):
        raise NotFound("share not found")
    audit("document.unshared", user_id, document_id=document_id)
    services().documents.access_changed(document_id, user_id, None)


def _share_dict(share: DocumentShare, username: str) -> dict[str, Any]:
    return {"document_id": share.document_id, "user_id": share.user_id, "username": username,
            "role": share.role, "created_at": share.created_at}
