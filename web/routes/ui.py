"""The web UI: ``/`` serves the single-page app and ``/static/<file>`` its bundle (built by ``make ui``).

Bundle files carry a content hash in their names, so they are cached as immutable; ``index.html`` is
revalidated on every load (ETag), so a new build reaches browsers at once. A precompressed ``.gz``
sibling is sent to clients that accept gzip. Client routes live in the URL fragment (``/#/chat/…``),
so no other path serves the page and an unknown API path still gets the JSON ``NOT_FOUND``. The one
exception is ``/sw.js``, the service worker for Web Push: it must be served from the root for its scope to
cover the app, and it is revalidated on every load like ``index.html``.
"""
from __future__ import annotations

import logging
import mimetypes
import re
from pathlib import Path

from flask import Blueprint, Response, request, send_from_directory

from domain import logs
from domain.errors import Unavailable
from web.middleware import public

log = logging.getLogger("confab.http")

STATIC_DIR = Path(__file__).resolve().parent.parent / "static"
_HASHED = re.compile(r"^app-[A-Z0-9]+\.(js|css)$")
_IMMUTABLE = "public, max-age=31536000, immutable"

blp = Blueprint("ui", __name__)


@blp.route("/", methods=["GET"])
@public
def index() -> Response:
    if not (STATIC_DIR / "index.html").is_file():
        logs.event(log, "ui.not_built", logging.ERROR, folder=str(STATIC_DIR))
        raise Unavailable("the web UI is not built here: run `make ui`")
    response = _send("index.html")
    response.headers["Cache-Control"] = "no-cache"
    host = request.host
    # CodeMirror adds <style> elements at run time, hence 'unsafe-inline' for styles (never for scripts)
    response.headers["Content-Security-Policy"] = (
        f"default-src 'self'; script-src 'self'; connect-src 'self' ws://{host} wss://{host}; "
        "img-src 'self' blob: data:; style-src 'self' 'unsafe-inline'; frame-ancestors 'none'; base-uri 'none'")
    response.headers["Referrer-Policy"] = "same-origin"
    return response


@blp.route("/sw.js", methods=["GET"])
@public
def service_worker() -> Response:
    response = _send("sw.js")
    response.headers["Cache-Control"] = "no-cache"
    response.headers["Service-Worker-Allowed"] = "/"
    return response


@blp.route("/static/<path:name>", methods=["GET"])
@public
def asset(name: str) -> Response:
    response = _send(name)
    response.headers["Cache-Control"] = _IMMUTABLE if _HASHED.match(name) else "no-cache"
    return response


def _send(name: str) -> Response:
    """The file (404 in the JSON format when missing or outside the folder), gzipped when possible."""
    if "gzip" in request.accept_encodings and (STATIC_DIR / f"{name}.gz").is_file():
        response = send_from_directory(STATIC_DIR, f"{name}.gz", mimetype=mimetypes.guess_type(name)[0])
        response.headers["Content-Encoding"] = "gzip"
    else:
        response = send_from_directory(STATIC_DIR, name)
    response.headers["Vary"] = "Accept-Encoding"
    response.headers["X-Content-Type-Options"] = "nosniff"
    return response
