"""WebSockets on gevent: the transport (handshake, reading, liveness) and each socket's outbox."""
