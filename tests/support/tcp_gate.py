"""A TCP forwarder in front of a server, for tests that need a client to be away for a while: ``cut``
drops every connection through it and refuses new ones until ``reopen``. The server keeps running,
so others can act while the client cannot reach it."""
from __future__ import annotations

import gevent
from gevent import socket
from gevent.server import StreamServer


class TcpGate:
    def __init__(self, target_port: int) -> None:
        self.target_port = target_port
        self.is_open = True
        self._sockets: set[socket.socket] = set()
        self._server = StreamServer(("127.0.0.1", 0), self._handle)
        self._server.start()
        self.port = self._server.server_port

    @property
    def base(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def _handle(self, client: socket.socket, _address: object) -> None:
        if not self.is_open:
            client.close()
            return
        try:
            upstream = socket.create_connection(("127.0.0.1", self.target_port))
        except OSError:
            client.close()
            return
        self._sockets |= {client, upstream}
        pipes = [gevent.spawn(self._pipe, client, upstream), gevent.spawn(self._pipe, upstream, client)]
        gevent.joinall(pipes, count=1)
        for sock in (client, upstream):
            self._sockets.discard(sock)
            sock.close()
        gevent.killall(pipes)

    @staticmethod
    def _pipe(source: socket.socket, sink: socket.socket) -> None:
        try:
            while data := source.recv(65536):
                sink.sendall(data)
        except OSError:
            pass

    def cut(self) -> None:
        self.is_open = False
        for sock in list(self._sockets):
            try:
                sock.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass

    def reopen(self) -> None:
        self.is_open = True

    def close(self) -> None:
        self.cut()
        self._server.stop()
