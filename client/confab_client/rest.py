"""``Client``: Confab's REST API with a login session or an API key; every API error is raised as its
typed exception (``confab_client.errors``). An expired access token is refreshed once, transparently."""
from __future__ import annotations

import mimetypes
import os
import threading
from pathlib import Path
from typing import IO, TYPE_CHECKING, Any, Callable, Iterator

import requests

from confab_client.errors import ConnectionFailed, Unauthorized, error_from

if TYPE_CHECKING:
    from confab_client.chat import ChatSession
    from confab_client.documents import DocumentSession

PAGE = 200
Tokens = dict[str, Any]


class Client:
    """One server and one identity.

    ``api_key`` (``cfk_…``, e.g. a bot's) or ``access_token`` (+ ``refresh_token``, from ``login``).
    ``on_tokens`` is called with the new tokens whenever a login or refresh replaces them (to store them).
    ``http``: a ``requests.Session`` to share (its connection pool) between clients.
    """

    def __init__(self, base_url: str, *, api_key: str | None = None, access_token: str | None = None,
                 refresh_token: str | None = None, on_tokens: Callable[[Tokens], None] | None = None,
                 timeout: float = 15.0, http: requests.Session | None = None) -> None:
        self.base_url = base_url.rstrip("/")
        self.api_key, self.access_token, self.refresh_token = api_key, access_token, refresh_token
        self.on_tokens, self.timeout = on_tokens, timeout
        self.http = http or requests.Session()
        self._refreshing = threading.Lock()

    # --- identity --------------------------------------------------------------------------------------

    @property
    def ws_base(self) -> str:
        return "ws" + self.base_url[len("http"):] if self.base_url.startswith("http") else self.base_url

    @property
    def credential(self) -> str | None:
        return self.api_key or self.access_token

    def register(self, username: str, email: str, password: str, display_name: str | None = None) -> dict[str, Any]:
        body = {"username": username, "email": email, "password": password}
        if display_name:
            body["display_name"] = display_name
        return self.request("POST", "/api/v1/auth/register", json=body, auth=False)

    def login(self, username: str, password: str) -> dict[str, Any]:
        """Log in (username or e-mail); the client then acts as that user. Returns the user."""
        field = "email" if "@" in username else "username"
        tokens = self.request("POST", "/api/v1/auth/login", json={field: username, "password": password}, auth=False)
        self._take(tokens)
        return tokens["user"]

    def refresh(self) -> None:
        """Exchange the refresh token for new tokens (it rotates: the old one is spent)."""
        if not self.refresh_token:
            raise Unauthorized("no refresh token: log in again")
        self._take(self.request("POST", "/api/v1/auth/refresh", json={"refresh_token": self.refresh_token},
                                auth=False))

    def _take(self, tokens: Tokens) -> None:
        self.access_token, self.refresh_token = tokens["access_token"], tokens["refresh_token"]
        if self.on_tokens is not None:
            self.on_tokens({"access_token": self.access_token, "refresh_token": self.refresh_token})

    def refresh_after(self, spent: str | None) -> bool:
        """Refresh unless another thread already replaced ``spent`` (the token that was refused)."""
        with self._refreshing:
            if self.api_key or not self.refresh_token:
                return False
            if self.access_token == spent:
                self.refresh()
            return True

    # --- requests --------------------------------------------------------------------------------------

    def request(self, method: str, path: str, *, auth: bool = True, raw: bool = False, **kwargs: Any) -> Any:
        """Send one request; the decoded JSON (None for 204; the response itself with ``raw``)."""
        for attempt in (1, 2):
            used = self.credential
            headers = {"Authorization": f"Bearer {used}"} if auth and used else {}
            try:
                response = self.http.request(method, self.base_url + path, headers=headers,
                                             timeout=self.timeout, **kwargs)
            except requests.RequestException as exc:
                raise ConnectionFailed(f"{method} {path}: {exc}") from exc
            if response.status_code == 401 and auth and attempt == 1 and self._expired(response) \
                    and self.refresh_after(used):
                continue
            if response.status_code >= 400:
                try:
                    body = response.json()
                except ValueError:
                    body = None
                raise error_from(body, response.status_code)
            if raw:
                return response
            return None if response.status_code == 204 or not response.content else response.json()
        raise AssertionError("unreachable")

    @staticmethod
    def _expired(response: requests.Response) -> bool:
        try:
            return "expired" in response.json()["error"]["message"]
        except (ValueError, KeyError, TypeError):
            return False

    def pages(self, path: str, **params: Any) -> Iterator[dict[str, Any]]:
        """Every item of a paged list, following ``next_cursor``."""
        params = {"limit": PAGE, **params}
        while True:
            page = self.request("GET", path, params=params)
            yield from page["items"]
            if not page.get("next_cursor"):
                return
            params["cursor"] = page["next_cursor"]

    # --- users and rooms -------------------------------------------------------------------------------

    def me(self) -> dict[str, Any]:
        return self.request("GET", "/api/v1/auth/me")

    def user(self, user_id: str) -> dict[str, Any]:
        return self.request("GET", f"/api/v1/users/{user_id}")

    def rooms(self, scope: str = "joined") -> list[dict[str, Any]]:
        return list(self.pages("/api/v1/rooms", scope=scope))

    def room(self, room_id: str) -> dict[str, Any]:
        return self.request("GET", f"/api/v1/rooms/{room_id}")

    def create_room(self, name: str, description: str = "", private: bool = False) -> dict[str, Any]:
        return self.request("POST", "/api/v1/rooms", json={"name": name, "description": description,
                                                            "is_private": private})

    def join_room(self, room_id: str) -> dict[str, Any]:
        return self.request("POST", f"/api/v1/rooms/{room_id}/join")

    def invite(self, room_id: str, *, user_id: str | None = None, username: str | None = None,
               role: str = "member") -> dict[str, Any]:
        body = {"role": role, **({"user_id": user_id} if user_id else {"username": username})}
        return self.request("POST", f"/api/v1/rooms/{room_id}/members", json=body)

    def members(self, room_id: str) -> list[dict[str, Any]]:
        return list(self.pages(f"/api/v1/rooms/{room_id}/members"))

    # --- messages --------------------------------------------------------------------------------------

    def send_message(self, room_id: str, content: str = "", *, client_msg_id: str | None = None,
                     reply_to_id: str | None = None, attachments: list[str] | None = None) -> dict[str, Any]:
        """Send over REST; returns the stored message (with its ``seq``). Resending with the same
        ``client_msg_id`` returns the same message."""
        body: dict[str, Any] = {"content": content, "attachments": attachments or []}
        if client_msg_id:
            body["client_msg_id"] = client_msg_id
        if reply_to_id:
            body["reply_to_id"] = reply_to_id
        return self.request("POST", f"/api/v1/rooms/{room_id}/messages", json=body)

    def history(self, room_id: str, *, before_seq: int | None = None, after_seq: int | None = None,
                limit: int = 50) -> list[dict[str, Any]]:
        """One page in ascending seq: the newest before ``before_seq``, or the oldest after ``after_seq``."""
        params = {"limit": limit, "before_seq": before_seq, "after_seq": after_seq}
        return self.request("GET", f"/api/v1/rooms/{room_id}/messages",
                            params={k: v for k, v in params.items() if v is not None})["items"]

    def messages_between(self, room_id: str, after_seq: int, before_seq: int) -> list[dict[str, Any]]:
        """Every message with ``after_seq < seq < before_seq``, in order (paged forward)."""
        found: list[dict[str, Any]] = []
        while after_seq + 1 < before_seq:
            page = self.history(room_id, after_seq=after_seq, limit=min(PAGE, before_seq - after_seq - 1))
            found += [m for m in page if m["seq"] < before_seq]
            if not page:
                break
            after_seq = page[-1]["seq"]
        return found

    def edit_message(self, message_id: str, content: str) -> dict[str, Any]:
        return self.request("PUT", f"/api/v1/messages/{message_id}", json={"content": content})

    def delete_message(self, message_id: str) -> dict[str, Any]:
        return self.request("DELETE", f"/api/v1/messages/{message_id}")

    # --- files and documents ---------------------------------------------------------------------------

    def upload(self, file: str | os.PathLike[str] | IO[bytes], name: str | None = None,
               content_type: str | None = None) -> dict[str, Any]:
        """Upload a path or a binary file object; returns the file object (its ``file_id`` attaches it)."""
        if isinstance(file, (str, os.PathLike)):
            with open(file, "rb") as handle:
                return self.upload(handle, name or Path(file).name, content_type)
        name = name or "upload"
        content_type = content_type or mimetypes.guess_type(name)[0] or "application/octet-stream"
        return self.request("POST", "/api/v1/upload", files={"file": (name, file, content_type)})

    def download(self, file_id: str) -> bytes:
        return self.request("GET", f"/files/{file_id}", raw=True).content

    def document(self, document_id: str) -> dict[str, Any]:
        """The document with its role, ``version`` and text ``content``."""
        return self.request("GET", f"/api/v1/documents/{document_id}")

    def create_document(self, title: str) -> dict[str, Any]:
        return self.request("POST", "/api/v1/documents", json={"title": title})

    # --- bots and incoming webhooks --------------------------------------------------------------------

    def create_bot(self, name: str, display_name: str | None = None) -> dict[str, Any]:
        """A bot ``<name>[bot]`` owned by the caller: ``{"bot": user, "api_key": {"key", ...}}``."""
        body = {"name": name, **({"display_name": display_name} if display_name else {})}
        return self.request("POST", "/api/v1/bots", json=body)

    def bots(self) -> list[dict[str, Any]]:
        return self.request("GET", "/api/v1/bots")

    def delete_bot(self, bot_id: str) -> None:
        self.request("DELETE", f"/api/v1/bots/{bot_id}")

    def create_incoming_webhook(self, room_id: str, name: str) -> dict[str, Any]:
        """Room admins; the answer's ``url`` holds the secret and is shown once."""
        return self.request("POST", f"/api/v1/rooms/{room_id}/incoming-webhooks", json={"name": name})

    def incoming_webhooks(self, room_id: str) -> list[dict[str, Any]]:
        return self.request("GET", f"/api/v1/rooms/{room_id}/incoming-webhooks")

    def revoke_incoming_webhook(self, room_id: str, webhook_id: str) -> None:
        self.request("DELETE", f"/api/v1/rooms/{room_id}/incoming-webhooks/{webhook_id}")

    # --- live sessions ---------------------------------------------------------------------------------

    def chat(self, **options: Any) -> ChatSession:
        """A connected /ws session (see ``ChatSession``)."""
        from confab_client.chat import ChatSession
        session = ChatSession(self, **options)
        session.connect()
        return session

    def open_document(self, document_id: str, **options: Any) -> DocumentSession:
        """The document as a pycrdt ``Doc`` kept in sync over /yjs (needs ``pycrdt``)."""
        from confab_client.documents import DocumentSession
        session = DocumentSession(self, document_id, **options)
        session.connect()
        return session
