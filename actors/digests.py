"""The ``email.digest`` singleton job: e-mails each person who has been away (no socket open for
``email.digest_after_s``) what they missed: unread mentions, DMs and replies (``storage.digests``)."""
from __future__ import annotations

import logging
from datetime import timedelta
from typing import Any

from actors.mailer import Mailer
from domain import logs
from domain.unsubscribe import UnsubscribeLinks
from storage import digests
from storage.digests import Digest
from storage.models import utcnow

log = logging.getLogger("confab.email")

KIND_WORDS = {"mention": "mentioned you in", "dm": "wrote to you in", "reply": "replied to you in"}


def digest_text(digest: Digest, unsubscribe_url: str) -> str:
    lines = [f"Hello {digest.display_name},", "", "While you were away:", ""]
    for item in reversed(digest.items):
        lines.append(f"- {item.actor} {KIND_WORDS[item.kind]} {item.room_name}: {item.snippet}")
    if digest.total > len(digest.items):
        lines.append(f"… and {digest.total - len(digest.items)} more.")
    lines += ["", "Open Confab to answer.", "", f"No more of these e-mails: {unsubscribe_url}", ""]
    return "\n".join(lines)


class DigestJob:
    def __init__(self, mailer: Mailer, presence: Any, links: UnsubscribeLinks, away_for_s: float) -> None:
        self._mailer, self._presence, self._links = mailer, presence, links
        self._away_for = timedelta(seconds=away_for_s)

    def run(self) -> None:
        if not self._mailer.enabled:
            return
        due = digests.due(utcnow() - self._away_for, set(self._presence.online()))
        for digest in due:
            self._mailer.send(digest.email, f"Confab: what you missed ({digest.total})",
                              digest_text(digest, self._links.url(digest.user_id)))
            digests.mark_sent(digest.user_id, digest.through)
        if due:
            logs.event(log, "digest.sent", users=len(due))
