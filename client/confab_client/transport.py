"""What the chat and document sessions share about their WebSocket: opening it with the credential,
waiting before a reconnect, and hanging up without racing the reader thread."""
from __future__ import annotations

import random
import threading
import time

import websocket

from confab_client.errors import ConnectionFailed


def open_socket(url: str, credential: str | None, timeout_s: float) -> websocket.WebSocket:
    try:
        return websocket.create_connection(url, timeout=timeout_s, header=[f"Authorization: Bearer {credential}"])
    except (websocket.WebSocketException, OSError) as exc:
        raise ConnectionFailed(f"cannot open {url}: {exc}") from exc


def pause(delay_s: float, maximum_s: float) -> float:
    """Sleep about ``delay_s`` (half to all of it: clients dropped together do not return together);
    returns the next delay, doubled up to ``maximum_s``."""
    time.sleep(delay_s * (0.5 + random.random() / 2))
    return min(delay_s * 2, maximum_s)


def hang_up(ws: websocket.WebSocket | None, reader: threading.Thread | None) -> None:
    """Send a close frame, let the reader see the server's answer (or give up after 2 s), then shut down."""
    if ws is not None:
        try:
            ws.send_close()
        except (websocket.WebSocketException, OSError):
            pass
    if reader is not None and reader is not threading.current_thread():
        reader.join(timeout=2)
    if ws is not None:
        ws.shutdown()
