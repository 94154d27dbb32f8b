"""``/health`` (liveness, aggregated by the supervisor) and ``/ready`` (200 only when all is ready).

Both answer everyone with the status and the protocol version (what a client checks compatibility
with); the component map (instances, partitions, lags, errors: a map of the deployment) only to a
client on the machine itself, i.e. whose address, read through ``server.trusted_proxies``, is loopback.
"""
from __future__ import annotations

from typing import Any

from flask import Blueprint, jsonify
from flask.typing import ResponseReturnValue

from actors.supervisor import health
from domain.forwarded import is_loopback
from web.middleware import public
from web.services import client_ip, services

blp = Blueprint("health", __name__)


def _report() -> dict[str, Any]:
    return health(services().supervisor)


def _body(report: dict[str, Any], status: str) -> dict[str, Any]:
    body = {"status": status, "protocol": report["protocol"]}
    if is_loopback(client_ip()):
        body["components"] = report["components"]
    return body


@blp.route("/health", methods=["GET"])
@public
def liveness() -> ResponseReturnValue:
    report = _report()
    return jsonify(_body(report, report["status"]))


@blp.route("/ready", methods=["GET"])
@public
def readiness() -> ResponseReturnValue:
    report = _report()
    return jsonify(_body(report, "ready" if report["ready"] else "not_ready")), 200 if report["ready"] else 503
