"""The HTTP server: gevent's pywsgi serving the Flask app, and the graceful shutdown sequence.

flask-sock performs the WebSocket handshake itself on pywsgi's socket; gevent-websocket's handler
must not wrap the app (it answers the upgrade too and corrupts the socket).
"""
from __future__ import annotations

import logging
import signal
import socket
import time
from typing import Any, Callable

import gevent
import gevent.event
from gevent.pywsgi import WSGIHandler, WSGIServer

from domain import logs
from domain.config import AppConfig

log = logging.getLogger("confab.server")


class NoDelayHandler(WSGIHandler):
    """Turns Nagle off: back-to-back small writes (an ack, then an event) otherwise stall ~40 ms."""

    def handle(self) -> None:
        try:
            self.socket.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        except OSError:
            pass
        super().handle()

    def handle_one_response(self) -> None:
        super().handle_one_response()
        if self.environ.get("HTTP_UPGRADE", "").lower() == "websocket":
            # The WebSocket is over (its route returned): close the connection instead of waiting
            # for another HTTP request that a dead or departed peer will never send.
            self.close_connection = True

    def log_request(self) -> None:  # requests are logged by the app with their request id
        pass


class _QuietLog:
    """pywsgi's error log goes to our structured log; its access log is off."""

    def write(self, text: str) -> None:
        text = text.strip()
        if text:
            logs.event(log, "pywsgi", logging.WARNING, detail=text[:500])


def create_server(app: Any, config: AppConfig) -> WSGIServer:
    server = WSGIServer((config.server.host, config.server.port), app, handler_class=NoDelayHandler,
                        log=None, error_log=_QuietLog())
    server.init_socket()
    return server


def bound_port(server: WSGIServer) -> int:
    return server.socket.getsockname()[1]


def serve_until_signalled(server: WSGIServer, shutdown: Callable[[], None], grace_s: float) -> bool:
    """Serve until SIGTERM/SIGINT, then run ``shutdown`` (bounded by ``grace_s``) and stop the server.

    Returns False when the shutdown did not finish in time (actors may still be running)."""
    stop = gevent.event.Event()
    for signum in (signal.SIGTERM, signal.SIGINT):
        gevent.signal_handler(signum, stop.set)
    server.start()
    logs.event(log, "server.listening", host=server.address[0], port=bound_port(server))
    stop.wait()
    started = time.monotonic()
    logs.event(log, "server.stopping", grace_s=grace_s)
    server.close()  # stop accepting; requests in flight go on
    done = gevent.spawn(shutdown)
    done.join(timeout=max(0.1, grace_s - 0.5))
    clean = done.ready() and done.successful()
    if not clean:
        logs.event(log, "server.shutdown_overran", logging.ERROR, grace_s=grace_s,
                   error=repr(done.exception) if done.ready() else "timed out")
    server.stop(timeout=max(0.1, grace_s - (time.monotonic() - started)))
    logs.event(log, "server.stopped", seconds=round(time.monotonic() - started, 3))
    return clean
