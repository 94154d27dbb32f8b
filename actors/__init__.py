"""Actors: the supervisor and its components. Each runs as a Pykka ThreadingActor, a greenlet under gevent."""
