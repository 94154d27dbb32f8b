"""Confab's Python client: ``Client`` (REST), ``ChatSession`` (a /ws session that acks sends and resumes
without gaps or duplicates), ``DocumentSession`` (a document as a pycrdt ``Doc``, needs ``pycrdt``),
typed errors, and the ``confab-cli`` command line (``python -m confab_client``)."""
from confab_client.chat import ChatSession, Event
from confab_client.errors import (BadRequest, ConfabError, Conflict, ConnectionFailed, Forbidden, Internal, NotFound,
                                  PayloadTooLarge, RateLimited, Unauthorized, Unavailable)
from confab_client.rest import Client

__all__ = ["BadRequest", "ChatSession", "Client", "ConfabError", "Conflict", "ConnectionFailed", "Event", "Forbidden",
           "Internal", "NotFound", "PayloadTooLarge", "RateLimited", "Unauthorized", "Unavailable"]
