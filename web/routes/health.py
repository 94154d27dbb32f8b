"""``/health`` (liveness, aggregated by the supervisor) and ``/ready`` (200 only when all is ready)."""
from __future__ import annotations

from typing import Any

from flask import Blueprint, jsonify
from flask.typing import ResponseReturnValue

from actors.supervisor import health
from web.middleware import public
from web.services import services

blp = Blueprint("health", __name__)


def _report() -> dict[str, Any]:
    return health(services().supervisor)


@blp.route("/health", methods=["GET"])
@public
def liveness() -> ResponseReturnValue:
    report = _report()
    return jsonify({"status": report["status"], "protocol": report["protocol"], "components": report["components"]})


@blp.route("/ready", methods=["GET"])
@public
def readiness() -> ResponseReturnValue:
    report = _report()
    body = {"status": "ready" if report["ready"] else "not_ready", "protocol": report["protocol"],
            "components": report["components"]}
    return jsonify(body), 200 if report["ready"] else 503
