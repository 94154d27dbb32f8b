"""The Flask app factory: blueprints per resource, extensions with ``init_app``, one error format."""
from __future__ import annotations

from typing import Any

from flask import Flask
from flask.json.provider import DefaultJSONProvider

from domain import jsonfmt
from web import errors, middleware, openapi
from web.routes import (admin, api_keys, auth, bots, chat_socket, dms, document_socket, documents, email_verification,
                        files, health, incoming_webhooks, messages, my_account, notifications, passwords, push, rooms,
                        search, ui, users, webhooks)
from web.services import Services
from web.sockets import transport

OPENAPI_SECURITY = {"bearerAuth": {"type": "http", "scheme": "bearer",
                                   "description": "access token (JWT) or API key (cfk_…)"}}


class JsonProvider(DefaultJSONProvider):
    compact = True

    def dumps(self, obj: Any, **kwargs: Any) -> str:
        """The same JSON as /ws frames (``domain.jsonfmt``): a string UTF-8 cannot carry (a lone surrogate,
        say in the name of an unknown field echoed by an error) is escaped instead of failing the response."""
        return jsonfmt.dumps(obj)


def create_app(svc: Services) -> Flask:
    app = Flask(__name__, static_folder=None)
    app.json = JsonProvider(app)
    app.config.update(
        MAX_CONTENT_LENGTH=svc.config.server.ws_max_message_bytes,
        API_TITLE="Confab", API_VERSION="1", OPENAPI_VERSION="3.0.3",
        OPENAPI_URL_PREFIX="/api/v1", OPENAPI_JSON_PATH="openapi.json",
        API_SPEC_OPTIONS={"components": {"securitySchemes": OPENAPI_SECURITY},
                          "security": [{"bearerAuth": []}]},
    )
    app.extensions["confab"] = svc
    api = openapi.api_for(app)
    for module in (auth, passwords, email_verification, api_keys, my_account, users, bots, documents, rooms, dms,
                   messages, search, notifications, webhooks, incoming_webhooks, files, push, admin):
        api.register_blueprint(module.blp)
    for module in (health, ui, chat_socket, document_socket):
        app.register_blueprint(module.blp)
    server = svc.config.server
    transport.init_app(app, server.ws_max_message_bytes, server.ws_ping_interval_s, server.ws_outbox_bytes)
    middleware.init_app(app, svc.config, svc.limiters)
    errors.init_app(app)
    return app
