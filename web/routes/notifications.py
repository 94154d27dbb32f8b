"""``/api/v1/notifications``: the caller's mentions, DMs, replies and disabled webhooks, newest first."""
from __future__ import annotations

from typing import Any

from storage import notifications
from web.openapi import Blueprint
from web.cursors import paginate, read_cursor, time_and_id
from web.schemas.notifications import NotificationPageSchema, NotificationQuery, NotificationSchema
from web.services import principal

blp = Blueprint("notifications", __name__, url_prefix="/api/v1/notifications", description="Notifications")


@blp.route("", methods=["GET"])
@blp.arguments(NotificationQuery, location="query")
@blp.response(200, NotificationPageSchema)
def list_notifications(query: dict[str, Any]) -> dict[str, Any]:
    """``unread=true`` lists only unread ones; ``unread_count`` counts all unread ones."""
    rows, unread = notifications.list_for(principal().user_id, query["unread"], read_cursor(query["cursor"], time_and_id("at")),
                                          query["limit"] + 1)
    items, cursor = paginate(rows, query["limit"], lambda n: {"at": n["created_at"].isoformat(), "id": n["id"]})
    return {"items": items, "next_cursor": cursor, "unread_count": unread}


@blp.route("/<notification_id>/read", methods=["POST"])
@blp.response(200, NotificationSchema)
def mark_read(notification_id: str) -> dict[str, Any]:
    return notifications.mark_read(principal().user_id, notification_id)
